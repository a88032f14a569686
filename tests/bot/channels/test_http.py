"""The platforms' HTTP transport (bot/channels/http.py): the channels send through aiohttp's
pool and still fail the way the delivery rules expect (a slow or vanished platform is a
failure to try again, never a crash), Telegram's client works again after a restart, and a
proxy named in the environment is still used."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import pytest
from telegram.error import NetworkError, TimedOut

from bot.channels.http import PlatformTransport, platform_transport
from bot.channels.telegram.channel import TelegramChannel
from bot.channels.zalo.channel import ZaloChannel
from bot.config import BotSettings
from bot.contract import DeliveryError, OutboundText
from tests.bot.channels.fake_telegram import TOKEN, FakeTelegram
from tests.bot.channels.test_zalo import settings as zalo_settings
from tests.bot.nlu.fake_rasa import closed_port_url
from tests.local_http import LocalHTTPServer, QuietHandler


def reply(channel: str, to: str) -> OutboundText:
    return OutboundText(channel=channel, recipient_id=to, text="Hãy gọi ngay 113")


class Slow(QuietHandler):
    """Reads the request and answers after 1.5 s."""

    def do_POST(self) -> None:
        self.read_body()
        time.sleep(1.5)
        self.send_json(200, b'{"error": 0, "data": {"message_id": "late"}}', client_may_leave=True)


class Vanishing(QuietHandler):
    """Reads the request and hangs up without a word (a proxy dropping the connection)."""

    def do_POST(self) -> None:
        self.read_body()
        self.connection.shutdown(socket.SHUT_RDWR)


@pytest.fixture(params=[Slow, Vanishing], ids=["answers too late", "hangs up"])
def broken(request: pytest.FixtureRequest) -> Iterator[LocalHTTPServer]:
    server = LocalHTTPServer(request.param).start()
    yield server
    server.stop()


async def test_a_platform_too_slow_or_hanging_up_is_a_failure_to_try_again(
    broken: LocalHTTPServer,
) -> None:
    async with ZaloChannel(zalo_settings(broken.url, broken.url), timeout=0.5) as zalo:
        with pytest.raises(DeliveryError) as failure:
            await zalo.send(reply("zalo", "246845883529197922"))

    assert failure.value.permanent is False


@pytest.fixture
def fake() -> Iterator[FakeTelegram]:
    server = FakeTelegram().start()
    yield server
    server.stop()


async def test_telegram_sends_again_after_the_channel_was_stopped_and_started(
    fake: FakeTelegram,
) -> None:
    # python-telegram-bot builds a new httpx client around the same transport when it is
    # initialised again; the transport must not stay on the session closed at shutdown.
    channel = TelegramChannel(BotSettings(telegram_token=TOKEN, telegram_api_base=fake.base_url))
    await channel.start()
    await channel.send(reply("telegram", "1001"))
    await channel.stop()

    await channel.start()
    await channel.send(reply("telegram", "1002"))
    await channel.stop()

    sent = [call.params["chat_id"] for call in fake.calls_of("sendMessage")]
    assert [str(chat) for chat in sent] == ["1001", "1002"]


@pytest.fixture
def no_proxy_in_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)


def test_without_a_proxy_the_platforms_get_aiohttps_pool(no_proxy_in_the_environment: None) -> None:
    assert isinstance(platform_transport(), PlatformTransport)


@pytest.mark.parametrize("variable", ["HTTP_PROXY", "https_proxy", "ALL_PROXY"])
def test_a_proxy_in_the_environment_leaves_the_routing_to_httpx(
    no_proxy_in_the_environment: None, monkeypatch: pytest.MonkeyPatch, variable: str
) -> None:
    monkeypatch.setenv(variable, "http://proxy.example.vn:3128")
    assert platform_transport() is None


async def test_telegram_goes_through_the_proxy_the_environment_names(
    fake: FakeTelegram, no_proxy_in_the_environment: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Where Telegram is blocked, the way out is a proxy: here the fake itself stands for it
    # and the API's own host does not exist, so only a request through the proxy arrives.
    monkeypatch.setenv("HTTP_PROXY", fake.server.url if fake.server else "")
    channel = TelegramChannel(
        BotSettings(telegram_token=TOKEN, telegram_api_base="http://api.telegram.invalid/bot")
    )
    await channel.start()
    await channel.send(reply("telegram", "1003"))
    await channel.stop()

    assert [str(call.params["chat_id"]) for call in fake.calls_of("sendMessage")] == ["1003"]


async def test_a_platform_refusing_connections_is_a_network_error_not_a_timeout() -> None:
    # What the log and /healthz say of a degraded channel: "nothing listens there" (a wrong
    # API base, a blocked address) is not "it did not answer in time".
    channel = TelegramChannel(
        BotSettings(telegram_token=TOKEN, telegram_api_base=f"{closed_port_url()}/bot")
    )
    with pytest.raises(NetworkError) as failure:
        await channel.start()
    await channel.stop()

    assert not isinstance(failure.value, TimedOut)


async def test_a_platform_hanging_up_before_answering_is_not_a_timeout() -> None:
    server = LocalHTTPServer(Vanishing).start()
    try:
        async with ZaloChannel(zalo_settings(server.url, server.url), timeout=5.0) as zalo:
            with pytest.raises(DeliveryError) as failure:
                await zalo.send(reply("zalo", "246845883529197922"))
    finally:
        server.stop()

    assert "Timeout" not in str(failure.value.__cause__ or failure.value)
