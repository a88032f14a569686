"""What every console page shares: the templates, the session in and out of a response, CSRF
checking of forms, the error pages and the security headers.

All wording staff read is in `intake_api/templates/console/`; Python hands templates codes
and numbers only.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import Depends, Request, Response
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from starlette.datastructures import FormData
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from intake_api.config import Settings
from intake_api.console import session as sessions
from intake_api.console.session import ConsoleSession, CsrfRefused, NeedsSignIn
from intake_api.deps import SessionDep
from intake_api.enums import Role
from intake_api.identity import TICKET_ROLES
from intake_api.reports import load_labels
from intake_api.schemas import DISPLAY_ZONE
from intake_api.state import AppState

PACKAGE = Path(__file__).resolve().parent.parent
TEMPLATES = PACKAGE / "templates"
STATIC = PACKAGE / "static" / "console"
PREFIX = "/console"

_env = Environment(
    loader=FileSystemLoader(TEMPLATES),
    autoescape=select_autoescape(["html", "svg"]),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


def _local(value: datetime | None, fmt: str = "%d/%m/%Y %H:%M") -> str:
    return value.astimezone(DISPLAY_ZONE).strftime(fmt) if value is not None else ""


_env.filters["local"] = _local
# The report's wording of codes (priorities, intents, channels): one home for it.
_env.globals["value_labels"] = load_labels().values


def state_of(request: Request) -> AppState:
    return request.app.state.hotline  # type: ignore[no-any-return]


def settings_of(request: Request) -> Settings:
    return state_of(request).settings


def current_session(request: Request, session: SessionDep) -> ConsoleSession:
    return sessions.load_session(request, session)


SignedIn = Annotated[ConsoleSession, Depends(current_session)]


class NotAllowed(Exception):
    """The signed-in person's roles do not include this page (403 page)."""

    def __init__(self, sess: ConsoleSession) -> None:
        super().__init__("not allowed")
        self.sess = sess


def require(sess: ConsoleSession, roles: Iterable[str]) -> None:
    if not sess.caller.roles & set(roles):
        raise NotAllowed(sess)


def works_tickets(sess: ConsoleSession) -> bool:
    return bool(sess.caller.roles & TICKET_ROLES)


def nav(sess: ConsoleSession | None) -> dict[str, bool]:
    roles = sess.caller.roles if sess else frozenset()
    return {
        "queue": bool(roles & TICKET_ROLES),
        "dashboard": Role.supervisor in roles,
        "admin": Role.admin in roles,
    }


def render_text(name: str, **context: Any) -> str:
    return _env.get_template(name).render(**context)


def page(
    request: Request,
    sess: ConsoleSession | None,
    name: str,
    status_code: int = 200,
    **context: Any,
) -> HTMLResponse:
    settings = settings_of(request)
    context.setdefault("active", "")
    html = render_text(
        f"console/{name}",
        request=request,
        sess=sess,
        me=sess.caller if sess else None,
        csrf=sess.csrf if sess else "",
        nav=nav(sess),
        prefix=PREFIX,
        idle_seconds=int(settings.console_idle_minutes * 60),
        poll_seconds=settings.console_poll_seconds,
        flash_ok=request.query_params.get("ok", ""),
        flash_err=request.query_params.get("err", ""),
        **context,
    )
    response = HTMLResponse(html, status_code=status_code)
    return sessions.keep_alive(request, response, sess) if sess else response  # type: ignore[return-value]


def go(
    request: Request, sess: ConsoleSession | None, path: str, anchor: str = "", **query: str
) -> RedirectResponse:
    """303 to a console page (after a form: the browser GETs the result)."""
    target = f"{PREFIX}{path}"
    if query:
        target += "?" + urlencode(query)
    if anchor:
        target += f"#{anchor}"
    response = RedirectResponse(target, status_code=303)
    if sess is not None:
        sessions.keep_alive(request, response, sess)
    return response


async def form_of(request: Request, sess: ConsoleSession) -> FormData:
    """The posted form, once its CSRF token is the session's own."""
    form = await request.form()
    if not sessions.same_secret(form.get("csrf"), sess.csrf):
        raise CsrfRefused
    return form


def safe_next(value: str | None) -> str | None:
    """Only a path inside the console: never another site (no open redirect)."""
    if not value or len(value) > 500:
        return None
    if not value.startswith(PREFIX) or value.startswith("//") or "\\" in value:
        return None
    if any(ch in value for ch in "\r\n\t") or "://" in value:
        return None
    return value


def wants_json(request: Request) -> bool:
    return "application/json" in request.headers.get("accept", "")


async def _needs_sign_in(request: Request, exc: Exception) -> Response:
    expired = isinstance(exc, NeedsSignIn) and exc.expired
    if wants_json(request):
        return JSONResponse(
            status_code=401,
            content={"detail": "Sign in to the console again.", "login": f"{PREFIX}/login"},
        )
    query = {"next": request.url.path}
    if isinstance(exc, NeedsSignIn) and exc.ended:
        query["ended"] = "1"
    elif expired:
        query["expired"] = "1"
    response = RedirectResponse(f"{PREFIX}/login?{urlencode(query)}", status_code=303)
    if expired:
        sessions.end(response, request)
    return response


async def _csrf_refused(request: Request, exc: Exception) -> Response:
    if wants_json(request):
        return JSONResponse(status_code=403, content={"detail": "The form token is missing."})
    return page(request, None, "error.html", 403, reason="csrf")


async def _not_allowed(request: Request, exc: Exception) -> Response:
    if wants_json(request):
        return JSONResponse(status_code=403, content={"detail": "Your roles do not open this."})
    sess = exc.sess if isinstance(exc, NotAllowed) else None
    return page(request, sess, "error.html", 403, reason="forbidden")


def install_handlers(app: Any) -> None:
    app.add_exception_handler(NeedsSignIn, _needs_sign_in)
    app.add_exception_handler(CsrfRefused, _csrf_refused)
    app.add_exception_handler(NotAllowed, _not_allowed)


# Every asset is the console's own; pages carry personal data and must not be cached or framed.
_HEADERS = [
    (
        b"content-security-policy",
        b"default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        b"media-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; "
        b"form-action 'self'; frame-ancestors 'none'",
    ),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
]
_NO_STORE = (b"cache-control", b"no-store")


class ConsoleHeaders:
    """Adds the console's security headers to every response under /console."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "") if scope["type"] == "http" else ""
        if path != PREFIX and not path.startswith(PREFIX + "/"):
            await self.app(scope, receive, send)
            return
        static = path.startswith(f"{PREFIX}/static/")

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                names = {name.lower() for name, _ in headers}
                extra = [h for h in _HEADERS if h[0] not in names]
                if not static and b"cache-control" not in names:
                    extra.append(_NO_STORE)
                message["headers"] = headers + extra
            await send(message)

        await self.app(scope, receive, with_headers)
