"""Error bodies a person can act on (docs/api.md): `{"detail": "<sentence>", ...}`, never a 500
for bad input, and every one of them documented in the published schema. Also the
request-size limit, enforced before a body is read, and the last net for bugs: logged with
where they happened (never what the request said) and counted."""

from __future__ import annotations

import re
import traceback
from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import IntegrityError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from intake_api.intake import UnknownValue
from intake_api.schemas import NO_NUL_PATTERN, TEXT_PATTERN, ErrorOut, ValidationErrorOut
from intake_api.tickets import TicketNotFound
from intake_api.workflow import Conflict, Forbidden, Invalid

log = structlog.get_logger("intake_api")

_DESCRIPTIONS = {
    400: "The body could not be read (not UTF-8, or not the declared form).",
    401: "No valid bearer token; sign in at POST /api/v1/auth/token.",
    403: "The account's role may not do this.",
    404: "Nothing here, or nothing this account may see (the same answer, on purpose).",
    409: "A conflicting change: an illegal status move, a stale version, a ticket someone else "
    "holds, or an idempotency key reused for another request.",
    413: "The request body is larger than the configured limit.",
    422: "Input that is malformed or names something that does not exist; `detail` says what "
    "to change, `errors` lists the fields for malformed input.",
    429: "Too many attempts; wait for the number of seconds in Retry-After.",
    500: "A fault on the service's side; nothing was changed.",
    503: "The database is unreachable or busy; try again shortly.",
}
_HEADERS: dict[int, dict[str, Any]] = {
    401: {
        "WWW-Authenticate": {
            "description": "The authentication scheme to use.",
            "schema": {"type": "string"},
        }
    },
    429: {
        "Retry-After": {
            "description": "Seconds to wait before trying again.",
            "schema": {"type": "string", "pattern": "^[0-9]+$"},
        }
    },
    503: {
        "Retry-After": {
            "description": "Seconds to wait before trying again.",
            "schema": {"type": "string", "pattern": "^[0-9]+$"},
        }
    },
}


def error_responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """The OpenAPI `responses` entries of these error statuses, with their bodies."""
    out: dict[int | str, dict[str, Any]] = {}
    for code in codes:
        entry: dict[str, Any] = {
            "model": ValidationErrorOut if code == 422 else ErrorOut,
            "description": _DESCRIPTIONS[code],
        }
        if code in _HEADERS:
            entry["headers"] = _HEADERS[code]
        out[code] = entry
    return out


# What every route can answer, and what each kind of route adds.
COMMON = (422, 500, 503)
SIGNED_IN = (401, 403)
WITH_BODY = (400, 413)


def _where(loc: tuple[object, ...] | list[object]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header", "form")]
    return ".".join(parts) or "the request body"


def _pattern(err: dict[str, object]) -> object:
    ctx = err.get("ctx")
    return ctx.get("pattern") if isinstance(ctx, dict) else None


def describe_validation_errors(errors: list[dict[str, object]]) -> str:
    sentences = []
    for err in errors[:5]:
        where = _where(err.get("loc", ()))  # type: ignore[arg-type]
        kind = str(err.get("type", ""))
        msg = str(err.get("msg", "is invalid"))
        if kind == "json_invalid":
            sentences.append("The body is not valid JSON.")
        elif kind == "missing":
            sentences.append(f"{where}: this field is required.")
        elif kind == "extra_forbidden":
            sentences.append(f"{where}: this field is not allowed here.")
        elif kind == "string_pattern_mismatch" and _pattern(err) == TEXT_PATTERN:
            sentences.append(f"{where}: give some text, without NUL characters.")
        elif kind == "string_pattern_mismatch" and _pattern(err) == NO_NUL_PATTERN:
            sentences.append(f"{where}: the text must not contain NUL characters.")
        else:
            sentences.append(f"{where}: {msg}.")
    return " ".join(sentences)


async def _validation_handler(request: Request, exc: RequestValidationError) -> JSONResponse:
    errors = list(exc.errors())
    # Echoing the input back could copy personal data into logs or proxies; keep loc/type/msg.
    slim = [
        {
            "loc": [p if isinstance(p, int) else str(p) for p in e.get("loc", ())],
            "type": str(e.get("type")),
            "msg": str(e.get("msg")),
        }
        for e in errors
    ]
    return JSONResponse(
        status_code=422, content={"detail": describe_validation_errors(errors), "errors": slim}
    )


async def _http_handler(request: Request, exc: StarletteHTTPException) -> JSONResponse:
    detail = exc.detail
    headers = dict(exc.headers or {})
    if exc.status_code == 404 and detail == "Not Found":
        detail = f"There is nothing at {request.url.path}."
    elif exc.status_code == 400 and detail == "There was an error parsing the body":
        detail = "The body could not be read: send UTF-8 encoded JSON."
    elif exc.status_code == 405:
        detail = f"{request.method} is not allowed on {request.url.path}."
        allowed = allowed_methods(request.app, request.scope)
        if allowed:
            headers["Allow"] = ", ".join(allowed)
    return JSONResponse(status_code=exc.status_code, content={"detail": detail}, headers=headers)


def allowed_methods(app: Any, scope: Scope) -> list[str]:
    """The methods the published schema gives this path (the `Allow` of a 405 or an OPTIONS),
    so the header and the schema cannot disagree; empty for a path the schema does not have."""
    methods: set[str] = set()
    path = scope.get("path", "")
    for template, regex in _path_patterns(app):
        if regex.fullmatch(path):
            methods |= {m.upper() for m in app.openapi()["paths"][template]}
    if not methods:
        return []
    if "GET" in methods:
        methods.add("HEAD")
    methods.add("OPTIONS")
    order = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
    return [m for m in order if m in methods]


def _path_patterns(app: Any) -> list[tuple[str, re.Pattern[str]]]:
    cached = getattr(app.state, "path_patterns", None)
    if cached is None:
        cached = [
            (template, re.compile(re.sub(r"\\\{[^/]+?\\\}", "[^/]+", re.escape(template))))
            for template in app.openapi()["paths"]
        ]
        app.state.path_patterns = cached
    return cached


def _domain_handler(status: int) -> Any:
    async def handler(request: Request, exc: Exception) -> JSONResponse:
        return JSONResponse(status_code=status, content={"detail": _sentence(exc)})

    return handler


def _sentence(exc: Exception) -> str:
    text = str(exc).strip() or "the request cannot be done as it stands"
    text = text[0].upper() + text[1:]
    return text if text.endswith((".", "?", "!")) else text + "."


async def _not_found(request: Request, exc: TicketNotFound) -> JSONResponse:
    return JSONResponse(
        status_code=404, content={"detail": f"No ticket has the id or code '{exc.args[0]}'."}
    )


async def _integrity(request: Request, exc: IntegrityError) -> JSONResponse:
    # Two requests raced for the same row (a rare window the domain code does not close).
    return JSONResponse(
        status_code=409,
        content={"detail": "Someone changed this at the same moment; reload it and try again."},
    )


async def _database_busy(request: Request, exc: OperationalError) -> JSONResponse:
    request.app.state.hotline.errors[(_route(request), type(exc).__name__)] += 1
    log.error("database_unavailable", route=_route(request), error_type=type(exc).__name__)
    return JSONResponse(
        status_code=503,
        content={"detail": "The database is busy or unreachable; try again in a moment."},
        headers={"Retry-After": "5"},
    )


UNEXPECTED = "Something went wrong on our side; nothing was changed. Try again."


def log_unexpected(state: Any, scope: Scope, exc: BaseException) -> None:
    """The last net: a bug must not leak a stack trace or personal data. The log gets the
    frames (file, line, function) but not the exception's message, which can quote the request
    (a database error repeats the values it refused); the count is per route and kind."""
    route = str(getattr(scope.get("route"), "path", "unmatched"))
    state.errors[(route, type(exc).__name__)] += 1
    log.error(
        "unhandled_error",
        route=route,
        method=scope.get("method"),
        error_type=type(exc).__name__,
        traceback=frames(exc),
    )


async def _unexpected_handler(request: Request, exc: Exception) -> JSONResponse:
    # Reached only for a fault outside the request log (app.RequestLog catches the rest).
    log_unexpected(request.app.state.hotline, request.scope, exc)
    return JSONResponse(status_code=500, content={"detail": UNEXPECTED})


def frames(exc: BaseException) -> list[str]:
    """Where an exception went through, without any of its values."""
    return [
        f"{frame.filename}:{frame.lineno} in {frame.name}"
        for frame in traceback.extract_tb(exc.__traceback__)
    ]


def _route(request: Request) -> str:
    route = request.scope.get("route")
    return str(getattr(route, "path", "unmatched"))


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, _validation_handler)  # type: ignore[arg-type]
    app.add_exception_handler(StarletteHTTPException, _http_handler)  # type: ignore[arg-type]
    app.add_exception_handler(Conflict, _domain_handler(409))
    app.add_exception_handler(Invalid, _domain_handler(422))
    app.add_exception_handler(UnknownValue, _domain_handler(422))
    app.add_exception_handler(Forbidden, _domain_handler(403))
    app.add_exception_handler(TicketNotFound, _not_found)  # type: ignore[arg-type]
    app.add_exception_handler(IntegrityError, _integrity)  # type: ignore[arg-type]
    app.add_exception_handler(OperationalError, _database_busy)  # type: ignore[arg-type]
    app.add_exception_handler(Exception, _unexpected_handler)


class BodySizeLimit:
    """Refuses bodies over the limit with 413, by Content-Length or while streaming."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        declared = headers.get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_bytes):
            await self._too_large(send)
            return
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise _TooLarge
            return message

        try:
            await self.app(scope, limited_receive, send)
        except _TooLarge:
            await self._too_large(send)

    async def _too_large(self, send: Send) -> None:
        response = JSONResponse(
            status_code=413,
            content={"detail": f"The request body is larger than {self.max_bytes} bytes."},
        )
        await response({"type": "http"}, _empty_receive, send)


class _TooLarge(Exception):
    pass


async def _empty_receive() -> Message:
    return {"type": "http.disconnect"}
