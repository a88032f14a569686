"""A fake Telegram Bot API on 127.0.0.1 for driving the real python-telegram-bot against.

It answers `POST /bot<TOKEN>/<method>` the way api.telegram.org does (docs/platforms.md
sections 1 and 6): form-encoded bodies as PTB sends them (objects such as `reply_markup`
JSON-encoded inside a field) or JSON bodies, replies `{"ok": true, "result": ...}` or the error
shape with `parameters.retry_after`. It records every call, and failures can be scripted per
method.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.local_http import LocalHTTPServer, QuietHandler

TOKEN = "123456:TEST-token_abc"
BOT_ID = 123456
# Long polls are capped so a test teardown never waits on a sleeping request thread.
MAX_LONG_POLL_SECONDS = 1.0


@dataclass
class ApiCall:
    method: str
    params: dict[str, Any]


@dataclass
class ApiError:
    """One scripted failure, e.g. 403 "Forbidden: bot was blocked by the user"."""

    error_code: int
    description: str
    retry_after: int | None = None


@dataclass
class FakeTelegram:
    token: str = TOKEN
    calls: list[ApiCall] = field(default_factory=list)
    failures: dict[str, deque[ApiError]] = field(default_factory=dict)
    pending_updates: list[dict[str, Any]] = field(default_factory=list)
    webhook_url: str = ""
    server: LocalHTTPServer | None = None
    # Connections kept alive across requests, as the real platform's servers do.
    keep_alive: bool = False
    _lock: threading.Condition = field(default_factory=threading.Condition)
    _next_message_id: int = 1000
    _closing: bool = False

    @property
    def base_url(self) -> str:
        """What `BotSettings.telegram_api_base` should be: PTB appends the token."""
        assert self.server is not None
        return f"{self.server.url}/bot"

    # -- scripting and assertions ---------------------------------------------------------

    def fail(self, method: str, error_code: int, description: str, **kwargs: Any) -> None:
        """The next call of `method` fails this way (queue several for several calls)."""
        self.failures.setdefault(method, deque()).append(
            ApiError(error_code, description, **kwargs)
        )

    def queue_update(self, update: dict[str, Any]) -> None:
        with self._lock:
            self.pending_updates.append(update)
            self._lock.notify_all()

    def calls_of(self, method: str) -> list[ApiCall]:
        return [c for c in self.calls if c.method == method]

    # -- the API ----------------------------------------------------------------------------

    def answer(self, method: str, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        with self._lock:
            self.calls.append(ApiCall(method, params))
            scripted = self.failures.get(method)
            failure = scripted.popleft() if scripted else None
        if failure is not None:
            body: dict[str, Any] = {
                "ok": False,
                "error_code": failure.error_code,
                "description": failure.description,
            }
            if failure.retry_after is not None:
                body["parameters"] = {"retry_after": failure.retry_after}
            return failure.error_code, body
        handler = getattr(self, f"_api_{method}", None)
        if handler is None:
            return 404, {"ok": False, "error_code": 404, "description": "Not Found"}
        return 200, {"ok": True, "result": handler(params)}

    def _api_getMe(self, params: dict[str, Any]) -> Any:
        return {
            "id": BOT_ID,
            "is_bot": True,
            "first_name": "Đường dây nóng",
            "username": "hotline_test_bot",
            "can_join_groups": False,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
        }

    def _api_sendMessage(self, params: dict[str, Any]) -> Any:
        with self._lock:
            self._next_message_id += 1
            message_id = self._next_message_id
        return {
            "message_id": message_id,
            "date": int(time.time()),
            "chat": {"id": int(params["chat_id"]), "type": "private"},
            "from": {"id": BOT_ID, "is_bot": True, "first_name": "Đường dây nóng"},
            "text": params["text"],
        }

    def _api_deleteMessage(self, params: dict[str, Any]) -> Any:
        return True

    def _api_answerCallbackQuery(self, params: dict[str, Any]) -> Any:
        return True

    def _api_setWebhook(self, params: dict[str, Any]) -> Any:
        self.webhook_url = params.get("url", "")
        return True

    def _api_deleteWebhook(self, params: dict[str, Any]) -> Any:
        self.webhook_url = ""
        return True

    def _api_getUpdates(self, params: dict[str, Any]) -> Any:
        offset = int(params.get("offset") or 0)
        limit = int(params.get("limit") or 100)
        wait = min(float(params.get("timeout") or 0), MAX_LONG_POLL_SECONDS)
        deadline = time.monotonic() + wait
        with self._lock:
            # Asking from `offset` confirms every update below it: Telegram forgets them.
            self.pending_updates = [u for u in self.pending_updates if u["update_id"] >= offset]
            while not self.pending_updates and not self._closing:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self._lock.wait(remaining)
            return list(self.pending_updates[:limit])

    # -- server -----------------------------------------------------------------------------

    def start(self) -> FakeTelegram:
        fake = self

        class Handler(QuietHandler):
            def _handle(self) -> None:
                parts = urlsplit(self.path)
                raw = self.read_body()
                prefix, _, method = parts.path.rpartition("/")
                if prefix != f"/bot{fake.token}":
                    status, body = (
                        401,
                        {"ok": False, "error_code": 401, "description": "Unauthorized"},
                    )
                else:
                    params = _params(parts.query, raw, self.headers.get("Content-Type", ""))
                    status, body = fake.answer(method, params)
                # The client may have cancelled (a stopped long poll).
                self.send_json(status, json.dumps(body).encode(), client_may_leave=True)

            do_GET = _handle
            do_POST = _handle

        self.server = LocalHTTPServer(Handler, keep_alive=self.keep_alive).start()
        return self

    def stop(self) -> None:
        with self._lock:
            self._closing = True
            self._lock.notify_all()
        if self.server is not None:
            self.server.stop()


def _params(query: str, raw: bytes, content_type: str) -> dict[str, Any]:
    params: dict[str, Any] = {k: v[-1] for k, v in parse_qs(query).items()}
    if not raw:
        return params
    if content_type.startswith("application/json"):
        params.update(json.loads(raw))
        return params
    for key, values in parse_qs(raw.decode(), keep_blank_values=True).items():
        value = values[-1]
        # PTB JSON-encodes nested objects inside one form field (docs/platforms.md 1.1).
        if value[:1] in ("{", "["):
            with contextlib.suppress(ValueError):
                value = json.loads(value)
        params[key] = value
    return params


def text_update(
    update_id: int,
    text: str,
    *,
    chat_id: int = 555_001,
    message_id: int = 7,
    chat_type: str = "private",
    from_id: int | None = None,
) -> dict[str, Any]:
    """A text message update as Telegram sends it (docs/platforms.md 1.3)."""
    chat: dict[str, Any] = {"id": chat_id, "type": chat_type}
    if chat_type == "private":
        chat["first_name"] = "An"
    else:
        chat["title"] = "Nhóm"
    return {
        "update_id": update_id,
        "message": {
            "message_id": message_id,
            "date": 1_700_000_000,
            "text": text,
            "from": {
                "id": from_id or chat_id,
                "is_bot": False,
                "first_name": "An",
                "language_code": "vi",
            },
            "chat": chat,
        },
    }
