"""Error bodies a person can act on (docs/api.md): `{"detail": "<sentence>", ...}`, never a 500
for bad input. Also the request-size limit, enforced before a body is read."""

from __future__ import annotations

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = structlog.get_logger("intake_api")


def _where(loc: tuple[object, ...] | list[object]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header")]
    return ".".join(parts) or "the request body"


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
        else:
            sentences.append(f"{where}: {msg}.")
    return " ".join(sentences)


async def _validation_handler(request: Request, exc: RequestValidationError) -> JSONResponse:
    errors = list(exc.errors())
    # Echoing the input back could copy personal data into logs or proxies; keep loc/type/msg.
    slim = [
        {"loc": list(e.get("loc", ())), "type": e.get("type"), "msg": e.get("msg")} for e in errors
    ]
    return JSONResponse(
        status_code=422, content={"detail": describe_validation_errors(errors), "errors": slim}
    )


async def _http_handler(request: Request, exc: StarletteHTTPException) -> JSONResponse:
    detail = exc.detail
    if exc.status_code == 404 and detail == "Not Found":
        detail = f"There is nothing at {request.url.path}."
    elif exc.status_code == 400 and detail == "There was an error parsing the body":
        detail = "The body could not be read: send UTF-8 encoded JSON."
    elif exc.status_code == 405:
        detail = f"{request.method} is not allowed on {request.url.path}."
    return JSONResponse(
        status_code=exc.status_code, content={"detail": detail}, headers=exc.headers
    )


async def _unexpected_handler(request: Request, exc: Exception) -> JSONResponse:
    # The last net: a bug must not leak a stack trace or personal data to the caller.
    log.error("unhandled_error", path=request.url.path, error_type=type(exc).__name__)
    return JSONResponse(
        status_code=500,
        content={"detail": "Something went wrong on our side; nothing was changed. Try again."},
    )


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, _validation_handler)  # type: ignore[arg-type]
    app.add_exception_handler(StarletteHTTPException, _http_handler)  # type: ignore[arg-type]
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
