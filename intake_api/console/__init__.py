"""The staff console at /console: server-rendered pages (Jinja2, a little plain JavaScript)
where operators, police and DOLISA staff work their queue, supervisors read the figures and
admins keep the accounts. It calls the same domain functions as the API's routes."""

from __future__ import annotations

from fastapi import FastAPI, Response
from fastapi.responses import RedirectResponse
from fastapi.staticfiles import StaticFiles

from intake_api.console import admin, auth, dashboard, queue, ticket
from intake_api.console.session import SessionCodec
from intake_api.console.sound import chime
from intake_api.console.web import PREFIX, STATIC, ConsoleHeaders, install_handlers

ROUTERS = (auth.router, queue.router, ticket.router, dashboard.router, admin.router)


def install(app: FastAPI) -> None:
    """Mounts the console on the API's app (`intake_api.app.create_app`)."""
    app.state.console_codec = SessionCodec(app.state.hotline.cipher)
    install_handlers(app)
    for router in ROUTERS:
        app.include_router(router)

    @app.get(f"{PREFIX}/static/alert.wav", include_in_schema=False)
    def alert_sound() -> Response:
        return Response(chime(), media_type="audio/wav", headers={"Cache-Control": "max-age=86400"})

    @app.get(f"{PREFIX}/", include_in_schema=False)
    def slash() -> RedirectResponse:
        return RedirectResponse(PREFIX, status_code=307)

    app.mount(f"{PREFIX}/static", StaticFiles(directory=STATIC), name="console-static")
    app.add_middleware(ConsoleHeaders)
