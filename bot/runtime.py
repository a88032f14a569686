"""Assembles the bot from configuration: channels, conversation engine, intake client, the
outbox and the staff-reply delivery, plus the background loops that keep them moving."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta

import structlog
from fastapi import APIRouter
from sqlalchemy.engine import Engine
from starlette.concurrency import run_in_threadpool

from bot.channels.base import ChannelSender
from bot.channels.webchat import WebchatChannel
from bot.config import BotSettings
from bot.conversations import ConversationStore
from bot.intake.client import IntakeClient
from bot.intake.outbox import Outbox
from bot.intake.transport import HttpTransport, IntakeTransport
from bot.ratelimit import RateLimiter
from bot.reply_delivery import ReplyDelivery
from bot.service import BotService
from intake_api.crypto import PersonalDataCipher

log = structlog.get_logger("bot.runtime")

SERVICE_ACCOUNT = "bot"


@dataclass
class BotRuntime:
    settings: BotSettings
    service: BotService
    intake: IntakeClient
    outbox: Outbox
    replies: ReplyDelivery
    channels: dict[str, ChannelSender]
    routers: list[APIRouter] = field(default_factory=list)
    _startups: list[Callable[[], Awaitable[None]]] = field(default_factory=list)
    _shutdowns: list[Callable[[], Awaitable[None]]] = field(default_factory=list)
    # Long-running receivers (Telegram polling on a machine without a public HTTPS URL).
    _pollers: list[Callable[[asyncio.Event], Awaitable[None]]] = field(default_factory=list)

    async def start(self) -> None:
        for hook in self._startups:
            await hook()

    async def stop(self) -> None:
        for hook in self._shutdowns:
            with contextlib.suppress(Exception):
                await hook()

    async def tick(self) -> None:
        """One round of background work: outbox, staff replies, recovery of stalled messages."""
        await run_in_threadpool(self.outbox.deliver_pending)
        await self.replies.run_once()
        await self.service.recover(timedelta(seconds=30))

    async def run_background(self, stop: asyncio.Event) -> None:
        pollers = [asyncio.create_task(poll(stop)) for poll in self._pollers]
        try:
            await self._run_rounds(stop)
        finally:
            await asyncio.gather(*pollers, return_exceptions=True)

    async def _run_rounds(self, stop: asyncio.Event) -> None:
        interval = max(0.2, self.settings.reply_poll_seconds)
        while not stop.is_set():
            try:
                await self.tick()
            except Exception:
                log.exception("background_round_failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=interval)


def make_transport(settings: BotSettings, api_state: object | None) -> IntakeTransport:
    if settings.intake_transport == "inprocess":
        if api_state is None:
            raise RuntimeError(
                "the in-process intake transport needs the API in the same process; "
                "set HOTLINE_INTAKE_TRANSPORT=http with HOTLINE_INTAKE_URL and HOTLINE_INTAKE_TOKEN"
            )
        from bot.intake.inprocess import InProcessTransport

        return InProcessTransport(api_state, SERVICE_ACCOUNT)  # type: ignore[arg-type]
    if not settings.intake_token:
        raise RuntimeError(
            "HOTLINE_INTAKE_TOKEN is not set: issue one with `hotline tokens issue bot`"
        )
    return HttpTransport(
        settings.intake_url, settings.intake_token, settings.intake_timeout_seconds
    )


def build_runtime(
    settings: BotSettings,
    engine: Engine,
    cipher: PersonalDataCipher,
    hotlines: dict[str, str],
    api_state: object | None = None,
    transport: IntakeTransport | None = None,
    extra_channels: dict[str, ChannelSender] | None = None,
) -> BotRuntime:
    from bot.dialogue.companies import CompanyRegistry
    from bot.dialogue.engine import Dialogue
    from bot.dialogue.wording import Wording
    from bot.nlu import load_nlu
    from bot.triage import triage

    transport = transport or make_transport(settings, api_state)
    outbox = Outbox(engine, transport, settings.outbox_max_backoff_seconds)
    intake = IntakeClient(engine, transport, outbox)
    wording = Wording.load(settings.nlu_data_dir)
    dialogue = Dialogue(
        nlu=load_nlu(),
        intake=intake,
        wording=wording,
        companies=CompanyRegistry.load(settings.nlu_data_dir / "licensed_companies.csv"),
        hotlines=hotlines,
        low_confidence_threshold=settings.low_confidence_threshold,
        triage=triage,
    )
    webchat = WebchatChannel(engine, hotlines)
    channels: dict[str, ChannelSender] = {"webchat": webchat}
    routers_for: list[Callable[[BotService], APIRouter]] = [lambda s: webchat.router(s.converse)]
    startups: list[Callable[[], Awaitable[None]]] = []
    shutdowns: list[Callable[[], Awaitable[None]]] = []
    pollers: list[Callable[[asyncio.Event], Awaitable[None]]] = []
    service_ref: list[BotService] = []  # the pollers need the service built below

    if settings.telegram_token:
        from bot.channels.telegram import TelegramChannel

        telegram = TelegramChannel(settings)
        channels["telegram"] = telegram
        routers_for.append(lambda s: telegram.router(s.accept))
        # Telegram only calls HTTPS webhooks; without a public HTTPS URL (a local run) the bot
        # polls getUpdates instead.
        if settings.public_base_url.startswith("https://"):
            webhook = f"{settings.public_base_url.rstrip('/')}/telegram/webhook"
            startups.append(lambda: telegram.start(webhook))
        else:
            startups.append(telegram.start)
            pollers.append(lambda stop: telegram.run_polling(service_ref[0].accept, stop))
        shutdowns.append(telegram.stop)
    if settings.zalo_app_id and settings.zalo_oa_secret_key:
        from bot.channels.zalo import ZaloChannel
        from bot.secrets_store import SecretStore

        secrets = SecretStore(engine)
        zalo = ZaloChannel(
            settings,
            tokens=secrets.load_zalo_tokens(),
            save=secrets.save_zalo_tokens,
            load=secrets.load_zalo_tokens,
        )
        channels["zalo"] = zalo
        routers_for.append(lambda s: zalo.router(s.accept))
        shutdowns.append(zalo.aclose)
    if settings.twilio_account_sid and settings.twilio_auth_token:
        from bot.channels import sms

        sms_channel = sms.SmsChannel(settings)
        channels["sms"] = sms_channel
        routers_for.append(lambda s: sms.router(s.accept, settings))
    channels.update(extra_channels or {})

    store = ConversationStore(engine, cipher)
    service = BotService(
        store,
        dialogue,
        channels,
        RateLimiter(engine, settings.rate_limit_messages, settings.rate_limit_window_seconds),
    )
    service_ref.append(service)
    replies = ReplyDelivery(
        engine,
        transport,
        channels,
        lambda code, text: wording.text("staff.reply", code=code, text=text),
        store.address_of,
    )
    return BotRuntime(
        settings=settings,
        service=service,
        intake=intake,
        outbox=outbox,
        replies=replies,
        channels=channels,
        routers=[make(service) for make in routers_for],
        _startups=startups,
        _shutdowns=shutdowns,
        _pollers=pollers,
    )
