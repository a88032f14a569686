"""A fake of Zalo's OA API and OAuth v4 token endpoint on 127.0.0.1.

It serves the two calls the Zalo channel makes (docs/platforms.md sections 2 and 6):

- `POST /v3.0/oa/message/cs`: checks the `access_token` header against the tokens it issued and
  answers `{"error": 0, "data": {"message_id": ...}}`, or -216 for an unknown token;
- `POST /v4/oa/access_token`: checks the `secret_key` header and the form, then issues a new pair
  and kills the refresh token used, as Zalo does; presenting a dead one gives -14020.

Scripted replies (e.g. -216 once) are served before the normal behaviour, and every request is
recorded so tests can assert what the client sent.
"""

from __future__ import annotations

import json
import threading
from collections import deque
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.local_http import LocalHTTPServer, QuietHandler

SEND_PATH = "/v3.0/oa/message/cs"
TOKEN_PATH = "/v4/oa/access_token"


@dataclass
class Reply:
    """One scripted answer: an HTTP status and a JSON body."""

    status: int = 200
    body: Any = None


@dataclass
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]
    raw: bytes
    json: Any = None
    form: dict[str, str] = field(default_factory=dict)


@dataclass
class FakeZalo:
    app_id: str = "app-1"
    app_secret: str = "app-secret"
    # Tokens the fake accepts; tests start the channel with these.
    access_tokens: set[str] = field(default_factory=lambda: {"access-0"})
    live_refresh_tokens: set[str] = field(default_factory=lambda: {"refresh-0"})
    dead_refresh_tokens: set[str] = field(default_factory=set)
    # Zalo sends `expires_in` as a string in several codebases' fixtures.
    expires_in: Any = "90000"
    send_replies: deque[Reply] = field(default_factory=deque)
    token_replies: deque[Reply] = field(default_factory=deque)
    requests: list[RecordedRequest] = field(default_factory=list)
    # Connections kept alive across requests, as the real platform's servers do.
    keep_alive: bool = False
    server: LocalHTTPServer | None = None
    _issued: int = 0
    _sent: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        assert self.server is not None
        return self.server.url

    def script_send(self, *replies: Reply) -> None:
        self.send_replies.extend(replies)

    def script_token(self, *replies: Reply) -> None:
        self.token_replies.extend(replies)

    def sends(self) -> list[RecordedRequest]:
        return [r for r in self.requests if r.path == SEND_PATH]

    def refreshes(self) -> list[RecordedRequest]:
        return [r for r in self.requests if r.path == TOKEN_PATH]

    def answer(self, request: RecordedRequest) -> Reply:
        with self._lock:
            if request.path == SEND_PATH:
                return self.send_replies.popleft() if self.send_replies else self._send(request)
            if request.path == TOKEN_PATH:
                if self.token_replies:
                    return self.token_replies.popleft()
                return self._refresh(request)
            return Reply(404, {"error": -404, "message": "no such path"})

    def _send(self, request: RecordedRequest) -> Reply:
        if request.headers.get("access_token") not in self.access_tokens:
            return Reply(body={"error": -216, "message": "Access token is invalid"})
        body = request.json if isinstance(request.json, dict) else {}
        recipient = body.get("recipient") or {}
        text = (body.get("message") or {}).get("text")
        if not isinstance(text, str) or not text or len(text) > 2000:
            return Reply(body={"error": -201, "message": "text is invalid"})
        self._sent += 1
        return Reply(
            body={
                "error": 0,
                "message": "Success",
                "data": {
                    "message_id": f"oa-msg-{self._sent}",
                    "user_id": recipient.get("user_id", "u-from-message"),
                    "quota": {"quota_type": "reply", "remain": 7, "total": 8},
                },
            }
        )

    def _refresh(self, request: RecordedRequest) -> Reply:
        if request.headers.get("secret_key") != self.app_secret:
            return Reply(body={"error": -14002, "error_name": "Invalid secret key"})
        form = request.form
        if form.get("grant_type") != "refresh_token" or form.get("app_id") != self.app_id:
            return Reply(body={"error": -14001, "error_name": "Invalid parameter"})
        token = form.get("refresh_token", "")
        if token not in self.live_refresh_tokens:
            # Single use: the same reply for a reused token as for an unknown one.
            return Reply(body={"error": -14020, "error_name": "Invalid refresh token"})
        self.live_refresh_tokens.discard(token)
        self.dead_refresh_tokens.add(token)
        self._issued += 1
        access, refresh = f"access-{self._issued}", f"refresh-{self._issued}"
        self.access_tokens.add(access)
        self.live_refresh_tokens.add(refresh)
        return Reply(
            body={"access_token": access, "refresh_token": refresh, "expires_in": self.expires_in}
        )

    def start(self) -> FakeZalo:
        fake = self

        class Handler(QuietHandler):
            def do_POST(self) -> None:
                raw = self.read_body()
                request = RecordedRequest(
                    method="POST",
                    path=urlsplit(self.path).path,
                    headers={k.lower(): v for k, v in self.headers.items()},
                    raw=raw,
                )
                content_type = self.headers.get("Content-Type", "")
                if "json" in content_type:
                    try:
                        request.json = json.loads(raw)
                    except ValueError:
                        request.json = None
                elif "x-www-form-urlencoded" in content_type:
                    parsed = parse_qs(raw.decode(), keep_blank_values=True)
                    request.form = {k: v[-1] for k, v in parsed.items()}
                fake.requests.append(request)
                reply = fake.answer(request)
                self.send_json(reply.status, json.dumps(reply.body).encode())

        self.server = LocalHTTPServer(Handler, keep_alive=self.keep_alive).start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()
