"""The compositions of the API and the bot: both in one process (`hotline serve`, `make run`),
the bot alone talking to a remote API over HTTP (`hotline bot`), and the terminal chat
(`hotline chat`)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.responses import RedirectResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST
from sqlalchemy.engine import Engine

from bot.channels.terminal.channel import TerminalChannel
from bot.config import BotSettings, get_bot_settings
from bot.messaging.conversations import queue_gauges
from bot.runtime import SERVICE_ACCOUNT, BotRuntime, build_runtime
from intake_api.app import TELEMETRY_OFF, create_app
from intake_api.config import Settings
from intake_api.crypto import PersonalDataCipher, configure_cipher
from intake_api.errors import BodySizeLimit, install_error_handlers
from intake_api.keyfile import cipher_from_settings
from intake_api.logging_setup import RequestIdMiddleware
from intake_api.metrics import QueryGauges, app_registry, render
from intake_api.state import AppState


def _lifespan(runtime_ref: list[BotRuntime]):  # type: ignore[no-untyped-def]
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        runtime = runtime_ref[0]
        stop = asyncio.Event()
        await runtime.start()
        worker = asyncio.create_task(runtime.run_background(stop))
        try:
            yield
        finally:
            stop.set()
            await worker
            await runtime.service.drain()
            await runtime.stop()

    return lifespan


def mount(app: FastAPI, runtime: BotRuntime) -> None:
    """Adds the runtime's channel routes (webhooks, web chat) to an app, ahead of its own.

    A request is matched against the app's routes in order, and FastAPI walks every route of
    each included router it tries: behind the API's 66 routes, matching a webhook took about
    0.2 ms of CPU, 0.02 ms in front of them. No path of the channels is one of the API's
    (`/api/`, `/console/`, `/docs`), so the order changes nothing else."""
    already = len(app.router.routes)
    for router in runtime.routers:
        app.include_router(router)

    @app.get("/", include_in_schema=False)
    def home() -> RedirectResponse:
        return RedirectResponse("/chat")

    channels = app.router.routes[already:]
    del app.router.routes[already:]
    app.router.routes[:0] = channels


def ensure_service_account(engine: Engine) -> None:
    """The in-process bot acts as the `bot` service account, like a remote bot would."""
    import secrets

    from sqlmodel import Session, select

    from intake_api.models import User
    from intake_api.users import create_user

    with Session(engine) as session:
        if session.exec(select(User).where(User.username == SERVICE_ACCOUNT)).first() is None:
            create_user(session, SERVICE_ACCOUNT, secrets.token_urlsafe(24), ["service"])


def combined_app(settings: Settings, bot_settings: BotSettings, engine: Engine) -> FastAPI:
    ref: list[BotRuntime] = []
    app = create_app(settings, engine, lifespan=_lifespan(ref))
    state = app.state.hotline
    ensure_service_account(engine)
    runtime = build_runtime(
        bot_settings,
        engine,
        state.cipher,
        settings.hotlines,
        api_state=state,
        agency_codes=settings.agency_codes,
    )
    ref.append(runtime)
    app.state.bot = runtime
    state.health_reports["channels"] = runtime.channel_health
    for name, (help_text, query) in queue_gauges(engine).items():
        state.gauges.add(name, help_text, query)
    mount(app, runtime)
    return app


def bot_app(
    bot_settings: BotSettings, engine: Engine, cipher: PersonalDataCipher, settings: Settings
) -> FastAPI:
    ref: list[BotRuntime] = []
    app = FastAPI(
        title="Hotline bot",
        lifespan=_lifespan(ref),
        docs_url=None,
        redoc_url=None,
        telemetry=TELEMETRY_OFF,
    )
    install_error_handlers(app)
    runtime = build_runtime(
        bot_settings, engine, cipher, settings.hotlines, agency_codes=settings.agency_codes
    )
    ref.append(runtime)
    app.state.bot = runtime
    mount(app, runtime)

    gauges = QueryGauges()
    for name, (help_text, query) in queue_gauges(engine).items():
        gauges.add(name, help_text, query)

    @app.get("/metrics", include_in_schema=False)
    def metrics() -> Response:
        return Response(render([app_registry(gauges)]), media_type=CONTENT_TYPE_LATEST)

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> dict[str, object]:
        channels = runtime.channel_health()
        status = "degraded" if "degraded" in channels.values() else "ok"
        return {"status": status, "channels": channels}

    app.add_middleware(BodySizeLimit, max_bytes=64 * 1024)
    app.add_middleware(RequestIdMiddleware)
    return app


def run_chat(settings: Settings, engine: Engine, name: str) -> None:
    """The whole bot, in-process, in this terminal."""
    # The conversation is the screen here; log lines would interleave with it.
    logging.getLogger().setLevel(logging.WARNING)
    cipher = cipher_from_settings(settings)
    configure_cipher(cipher)
    ensure_service_account(engine)
    terminal = TerminalChannel(who=name)
    runtime = build_runtime(
        get_bot_settings().model_copy(update={"intake_transport": "inprocess"}),
        engine,
        cipher,
        settings.hotlines,
        api_state=AppState(settings=settings, engine=engine, cipher=cipher),
        extra_channels={terminal.name: terminal},
        agency_codes=settings.agency_codes,
    )
    # Staff replies for this terminal, and the outbox, between the person's turns.
    asyncio.run(terminal.chat(runtime.service.accept, runtime.tick))
