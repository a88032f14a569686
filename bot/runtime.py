"""Assembles the bot from configuration: channels, conversation engine, intake client, the
outbox and the staff-reply delivery, plus the background loops that keep them moving."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field
from datetime import timedelta

import structlog
from fastapi import APIRouter
from sqlalchemy.engine import Engine
from starlette.concurrency import run_in_threadpool

from bot.channels.registry import build_channels
from bot.config import BotSettings
from bot.contract import Channel, ChannelContext
from bot.intake.client import IntakeClient
from bot.intake.outbox import Outbox
from bot.intake.transport import HttpTransport, IntakeTransport
from bot.messaging.conversations import ConversationStore
from bot.messaging.ratelimit import RateLimiter
from bot.messaging.service import BotService
from bot.messaging.staff_replies import ReplyDelivery
from bot.triage import load_rules
from intake_api.crypto import PersonalDataCipher
from intake_api.rules.agencies import check_routing

log = structlog.get_logger("bot.runtime")

SERVICE_ACCOUNT = "bot"
MAX_CHANNEL_RETRY_SECONDS = 300.0


@dataclass
class BotRuntime:
    settings: BotSettings
    service: BotService
    intake: IntakeClient
    outbox: Outbox
    replies: ReplyDelivery
    channels: dict[str, Channel]
    transport: IntakeTransport
    routers: list[APIRouter] = field(default_factory=list)
    # Channels whose platform could not be reached: name → why. They are retried in the
    # background; the API, the web chat and the other channels serve meanwhile.
    degraded: dict[str, str] = field(default_factory=dict)

    async def start(self) -> None:
        """Connects every channel; one whose platform is unreachable (Telegram is often blocked
        in Vietnam, a wrong API base) is reported degraded, not fatal."""
        for channel in self.channels.values():
            await self._start(channel)

    async def _start(self, channel: Channel) -> bool:
        try:
            await channel.start()
        except Exception as exc:
            reason = type(exc).__name__
            if self.degraded.get(channel.name) != reason:
                log.error("channel_degraded", channel=channel.name, error=reason)
            self.degraded[channel.name] = reason
            return False
        if self.degraded.pop(channel.name, None) is not None:
            log.info("channel_recovered", channel=channel.name)
        return True

    def channel_health(self) -> dict[str, str]:
        return {
            name: "degraded" if name in self.degraded else "ok" for name in sorted(self.channels)
        }

    async def _keep_channel(self, channel: Channel, stop: asyncio.Event) -> None:
        """Retries a degraded channel's start with back-off, then receives on it."""
        delay = 1.0
        while channel.name in self.degraded and not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=delay)
            if stop.is_set() or await self._start(channel):
                break
            delay = min(delay * 2, MAX_CHANNEL_RETRY_SECONDS)
        if not stop.is_set():
            await channel.receive(self.service.accept, stop)

    async def stop(self) -> None:
        for channel in self.channels.values():
            with contextlib.suppress(Exception):
                await channel.stop()
        self.transport.close()

    async def tick(self) -> None:
        """One round of background work: replies waiting to be sent, messages nobody answered
        (a crashed process's, a flooding sender's whose wait is over), the intake outbox, staff
        replies, and unfinished reports whose conversation went silent."""
        await self.service.send_pending()
        await self.service.recover()
        await run_in_threadpool(self.outbox.deliver_pending)
        await self.replies.run_once()
        await self.service.file_silent()

    async def run_background(self, stop: asyncio.Event) -> None:
        # Degraded channels retried; long-running receivers (Telegram polling on a machine
        # without a public HTTPS URL).
        pollers = [
            asyncio.create_task(self._keep_channel(channel, stop))
            for channel in self.channels.values()
        ]
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
    extra_channels: dict[str, Channel] | None = None,
    agency_codes: list[str] | None = None,
) -> BotRuntime:
    """The bot, wired. `agency_codes`, the API's configured agencies, are checked against
    triage's routing table: a mismatch stops start-up rather than lose every ticket routed
    to an unknown agency."""
    from bot.dialogue.companies import CompanyRegistry
    from bot.dialogue.engine import Dialogue
    from bot.dialogue.wording import Wording
    from bot.nlu import load_nlu
    from bot.triage import triage

    if agency_codes is not None:
        check_routing(agency_codes, load_rules().agency_codes())
    transport = transport or make_transport(settings, api_state)
    outbox = Outbox(engine, transport, settings.outbox_max_backoff_seconds)
    intake = IntakeClient(engine, transport, outbox)
    wording = Wording.load(settings.nlu_data_dir)
    dialogue = Dialogue(
        nlu=load_nlu(settings),
        intake=intake,
        wording=wording,
        companies=CompanyRegistry.load(settings.nlu_data_dir / "licensed_companies.csv"),
        hotlines=hotlines,
        low_confidence_threshold=settings.low_confidence_threshold,
        triage=triage,
    )
    store = ConversationStore(engine, cipher)
    context = ChannelContext(
        engine=engine, hotlines=hotlines, address_key=store.address_key, intake=intake
    )
    channels = build_channels(settings, context)
    channels.update(extra_channels or {})

    rules = load_rules(settings.nlu_data_dir)
    remote_api = isinstance(transport, HttpTransport)
    service = BotService(
        engine,
        store,
        dialogue,
        channels,
        RateLimiter(engine, settings.rate_limit_messages, settings.rate_limit_window_seconds),
        intake,
        is_urgent=lambda text: bool(rules.danger_signs(text)),
        flood_notice=lambda seconds: wording.text("flood.wait", seconds=seconds, **hotlines),
        silence=timedelta(minutes=settings.silence_filing_minutes),
        turns_wait_on_network=settings.nlu_backend != "embedded" or remote_api,
        filings_wait_on_network=remote_api,
    )
    replies = ReplyDelivery(
        transport,
        list(channels),
        service,
        lambda code, text: wording.text("staff.reply", code=code, text=text),
    )
    routers = [channel.router(service.accept) for channel in channels.values()]
    return BotRuntime(
        settings=settings,
        service=service,
        intake=intake,
        outbox=outbox,
        replies=replies,
        channels=channels,
        transport=transport,
        routers=[router for router in routers if router is not None],
    )
