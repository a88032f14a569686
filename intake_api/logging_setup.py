"""Structured logs: one JSON object a line, from structlog and the standard library alike, with
the id of the request that caused them (carried from a webhook to the ticket it files).
Personal data never goes in: log ids, codes and counts, not text or phones; an exception is
logged as its type and stack, never its message (a database error quotes the row it failed on).
"""

from __future__ import annotations

import logging
import sys
import traceback
import uuid
from typing import Any

import structlog
from starlette.types import ASGIApp, Receive, Scope, Send

_SHARED: list[Any] = [
    structlog.contextvars.merge_contextvars,
    structlog.stdlib.add_logger_name,
    structlog.processors.add_log_level,
    structlog.processors.TimeStamper(fmt="iso", utc=True),
]


def _stack_without_message(_logger: Any, _name: str, event: dict[str, Any]) -> dict[str, Any]:
    exc_info = event.pop("exc_info", None)
    if exc_info is True:
        exc_info = sys.exc_info()
    if isinstance(exc_info, BaseException):
        exc_info = (type(exc_info), exc_info, exc_info.__traceback__)
    if exc_info and exc_info[0] is not None:
        stack = "".join(traceback.format_tb(exc_info[2]))
        event["exception"] = f"{exc_info[0].__name__}\n{stack}"
    return event


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever `sys.stderr` is now, not the one there was at start-up."""

    @property  # type: ignore[override]
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, _value: Any) -> None:
        pass


def configure_logging(level: str = "INFO") -> None:
    root = logging.getLogger()
    # Once per process: `hotline` commands may prepare more than once (tests do).
    if any(isinstance(h, _StderrHandler) for h in root.handlers):
        return
    handler = _StderrHandler()
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=_SHARED,
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                _stack_without_message,
                structlog.processors.JSONRenderer(ensure_ascii=False),
            ],
        )
    )
    root.handlers = [handler]
    root.setLevel(getattr(logging, level.upper(), logging.INFO))
    # No line says where in the source it was logged from, nor which thread or process wrote
    # it: the logging HOWTO's "Optimization" switches, so a record no longer walks the stack
    # for its caller or asks for its thread and process (measured alone: a sixth of the CPU of
    # a structlog line such as the access log's, nearly half of a standard library line's).
    logging._srcfile = None
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    # httpx logs every request URL at INFO, and Telegram's URLs carry the bot token.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("httpcore").setLevel(logging.WARNING)
    logging.getLogger("alembic").setLevel(logging.WARNING)
    # twilio's client writes nine INFO lines per API call (URL with the account id, headers):
    # noise that costs CPU on every SMS and says nothing the bot's own events do not.
    for name in ("twilio.http_client", "twilio.async_http_client"):
        logging.getLogger(name).setLevel(logging.WARNING)
    structlog.configure(
        processors=[*_SHARED, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        cache_logger_on_first_use=True,
    )


class RequestIdMiddleware:
    """Binds a fresh request id to every log line the request causes, including the work it
    hands to background tasks (they copy the context), and answers it in `X-Request-Id`."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = uuid.uuid4().hex[:16]

        async def send_with_id(message: Any) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers.append((b"x-request-id", request_id.encode()))
                message = {**message, "headers": headers}
            await send(message)

        with structlog.contextvars.bound_contextvars(request_id=request_id):
            await self.app(scope, receive, send_with_id)
