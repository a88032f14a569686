"""The intake API application."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager

import structlog
from fastapi import FastAPI, Request, Response
from sqlalchemy.engine import Engine

from intake_api import console
from intake_api.config import Settings, get_settings
from intake_api.crypto import configure_cipher
from intake_api.db import make_engine
from intake_api.errors import BodySizeLimit, install_error_handlers
from intake_api.keyfile import cipher_from_settings
from intake_api.logging_setup import RequestIdMiddleware
from intake_api.metrics import HTTP_5XX, sla_breaches
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


def create_app(
    settings: Settings | None = None,
    engine: Engine | None = None,
    lifespan: Callable[[FastAPI], AbstractAsyncContextManager[None]] | None = None,
) -> FastAPI:
    settings = settings or get_settings()
    engine = engine or make_engine(settings.database_url)
    cipher = cipher_from_settings(settings)
    configure_cipher(cipher)

    app = FastAPI(
        lifespan=lifespan,
        title="Hotline intake API",
        version="1.0.0",
        description=(
            "Tickets from the anti-trafficking hotline and chatbots, worked by operators, "
            "police and social-affairs (DOLISA) staff."
        ),
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

    @app.middleware("http")
    async def log_requests(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        # The route template, not the URL: paths and query strings can carry codes or ids.
        started = time.perf_counter()
        response = await call_next(request)
        route = request.scope.get("route")
        if response.status_code >= 500:
            HTTP_5XX.labels(getattr(route, "path", "unmatched")).inc()
        access_log.info(
            "request",
            method=request.method,
            route=getattr(route, "path", "unmatched"),
            status=response.status_code,
            ms=round((time.perf_counter() - started) * 1000, 1),
        )
        return response

    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes)
    app.add_middleware(RequestIdMiddleware)
    return app
