"""The intake API application."""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager

import structlog
from fastapi import FastAPI
from fastapi.responses import JSONResponse, Response
from fastapi.telemetry import TelemetryConfig
from fastapi_offline import FastAPIOffline
from sqlalchemy.engine import Engine
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from intake_api import console
from intake_api.config import Settings, get_settings
from intake_api.crypto import configure_cipher
from intake_api.db import make_engine
from intake_api.errors import (
    COMMON,
    UNEXPECTED,
    BodySizeLimit,
    allowed_methods,
    error_responses,
    install_error_handlers,
    log_unexpected,
)
from intake_api.keyfile import cipher_from_settings
from intake_api.logging_setup import RequestIdMiddleware
from intake_api.metrics import HTTP_5XX, sla_breaches
from intake_api.openapi import install_openapi
from intake_api.routes import (
    audit,
    auth,
    health,
    intake,
    metrics,
    outbound,
    stats,
    tickets,
    users,
)
from intake_api.state import AppState

access_log = structlog.get_logger("intake_api.access")

# FastAPI's own OpenTelemetry (on by default since 0.165) exports a span per request with its
# URL, and unhandled exceptions with their messages, to whatever provider the environment sets
# up (`FASTAPI_OTEL_AUTO_CONFIGURE=true` is enough): paths carry reference codes and an
# exception's message can quote a row (docs/architecture.md, "Principles"). Off, it also costs
# nothing per request (asking for the global providers took 1.5% of the service's CPU under
# load).
TELEMETRY_OFF: TelemetryConfig = {"tracing": False, "metrics": False, "logs": False}


def create_app(
    settings: Settings | None = None,
    engine: Engine | None = None,
    lifespan: Callable[[FastAPI], AbstractAsyncContextManager[None]] | None = None,
) -> FastAPI:
    settings = settings or get_settings()
    # A province names file that is configured but missing stops start-up, not a request.
    settings.province_names  # noqa: B018
    engine = engine or make_engine(settings.database_url)
    cipher = cipher_from_settings(settings)
    configure_cipher(cipher)

    # FastAPIOffline serves Swagger UI and ReDoc from the files its package ships: /docs works
    # on a network without the internet (a province office, a ministry's closed network).
    app = FastAPIOffline(
        telemetry=TELEMETRY_OFF,
        lifespan=lifespan,
        title="Hotline intake API",
        version="1.0.0",
        description=(
            "Tickets from the anti-trafficking hotline and chatbots, worked by operators, "
            "police and social-affairs (DOLISA) staff. Every error body is "
            '`{"detail": "<a sentence a person can act on>"}`.'
        ),
        responses=error_responses(*COMMON),
        static_url="/docs-assets",
    )
    app.state.hotline = AppState(settings=settings, engine=engine, cipher=cipher)
    app.state.hotline.gauges.add(
        "hotline_sla_breaches",
        "Open tickets past their first-response deadline with no response",
        sla_breaches(engine),
    )
    install_error_handlers(app)
    for module in (health, auth, intake, tickets, outbound, users, audit, stats, metrics):
        app.include_router(module.router)
    console.install(app)

    install_openapi(app, settings)
    # The last added runs first: the size limit, then the access log, then OPTIONS.
    app.add_middleware(Options, api=app)
    app.add_middleware(RequestLog, state=app.state.hotline)
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes)
    app.add_middleware(RequestIdMiddleware)
    return app


class RequestLog:
    """One access-log line per request, naming the route template, never the URL (paths and
    query strings can carry codes or ids); a request that fails with an unhandled error gets
    its 500 here, is logged with its traceback (frames only) and counted, and never reaches
    the server's own error log, which would print the exception's message."""

    def __init__(self, app: ASGIApp, state: AppState) -> None:
        self.app = app
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500
        response_started = False

        async def tracking_send(message: Message) -> None:
            nonlocal status, response_started
            if message["type"] == "http.response.start":
                status = message["status"]
                response_started = True
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception as exc:
            log_unexpected(self.state, scope, exc)
            status = 500
            if not response_started:
                await JSONResponse(status_code=500, content={"detail": UNEXPECTED})(
                    scope, receive, send
                )
        finally:
            route = scope.get("route")
            if status >= 500:
                HTTP_5XX.labels(getattr(route, "path", "unmatched")).inc()
            access_log.info(
                "request",
                method=scope.get("method"),
                route=getattr(route, "path", "unmatched"),
                status=status,
                ms=round((time.perf_counter() - started) * 1000, 1),
            )


class Options:
    """OPTIONS on any resource answers which methods it has (`Allow`), as RFC 9110 asks."""

    def __init__(self, app: ASGIApp, api: FastAPI) -> None:
        self.app = app
        self.api = api

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope.get("method") == "OPTIONS":
            allowed = allowed_methods(self.api, scope)
            if allowed:
                await Response(status_code=204, headers={"Allow": ", ".join(allowed)})(
                    scope, receive, send
                )
                return
        await self.app(scope, receive, send)
