"""Every channel the bot has. Adding a channel is a folder under `bot/channels/` implementing
`bot.contract.Channel`, and one line here."""

from __future__ import annotations

from bot.channels.sms.channel import SmsChannel
from bot.channels.telegram.channel import TelegramChannel
from bot.channels.voice.channel import VoiceChannel
from bot.channels.webchat.channel import WebchatChannel
from bot.channels.zalo.channel import ZaloChannel
from bot.config import BotSettings
from bot.contract import Channel, ChannelContext

CHANNEL_TYPES = (
    WebchatChannel,
    TelegramChannel,
    ZaloChannel,
    SmsChannel,
    VoiceChannel,
)


def build_channels(settings: BotSettings, context: ChannelContext) -> dict[str, Channel]:
    """The channels the settings switch on, by name; the web chat is always on."""
    built: dict[str, Channel] = {}
    for kind in CHANNEL_TYPES:
        channel = kind.from_settings(settings, context)
        if channel is not None:
            built[channel.name] = channel
    return built
