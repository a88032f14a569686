"""A fake Rasa server on 127.0.0.1 for testing the Rasa client without Rasa.

It answers `POST /model/parse` and `GET /status` the way `rasa run --enable-api` does
(docs/platforms.md section 5), from a queue of scripted behaviours, and records every
request so tests can assert what the client sent.
"""

from __future__ import annotations

import json
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.local_http import LocalHTTPServer, QuietHandler


@dataclass
class Reply:
    """One scripted answer: a status and a JSON body (or raw bytes), optionally late."""

    status: int = 200
    body: Any = None
    raw: bytes | None = None
    delay_seconds: float = 0.0


@dataclass
class RecordedRequest:
    method: str
    path: str
    query: dict[str, list[str]]
    body: Any


@dataclass
class FakeRasa:
    """Serves scripted replies in order; once the script is empty, parses with `default`."""

    replies: deque[Reply] = field(default_factory=deque)
    requests: list[RecordedRequest] = field(default_factory=list)
    server: LocalHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self.server is not None
        return self.server.url

    def script(self, *replies: Reply) -> None:
        self.replies.extend(replies)

    def parse_requests(self) -> list[RecordedRequest]:
        return [r for r in self.requests if r.path == "/model/parse"]

    def next_reply(self, request: RecordedRequest) -> Reply:
        if self.replies:
            return self.replies.popleft()
        if request.path == "/status":
            return Reply(body={"model_file": "models/nlu.tar.gz", "model_id": "fake"})
        text = request.body.get("text", "") if isinstance(request.body, dict) else ""
        return Reply(body=rasa_answer(text, "greet", 0.9))

    def start(self) -> FakeRasa:
        fake = self

        class Handler(QuietHandler):
            def _handle(self) -> None:
                parts = urlsplit(self.path)
                raw = self.read_body()
                try:
                    body = json.loads(raw) if raw else None
                except ValueError:
                    body = raw
                request = RecordedRequest(self.command, parts.path, parse_qs(parts.query), body)
                fake.requests.append(request)
                reply = fake.next_reply(request)
                if reply.delay_seconds:
                    time.sleep(reply.delay_seconds)
                payload = reply.raw if reply.raw is not None else json.dumps(reply.body).encode()
                # The client may have given up waiting (timeout tests).
                self.send_json(reply.status, payload, client_may_leave=True)

            do_GET = _handle
            do_POST = _handle

        self.server = LocalHTTPServer(Handler).start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()


def rasa_answer(
    text: str,
    intent: str | None,
    confidence: float,
    *,
    ranking: list[tuple[str, float]] | None = None,
    entities: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """A `/model/parse` body as Rasa 3.6 builds it, including `text_tokens`."""
    if ranking is None:
        ranking = [(intent, confidence)] if intent else []
    tokens, position = [], 0
    for word in text.split():
        start = text.index(word, position)
        position = start + len(word)
        tokens.append([start, position])
    return {
        "text": text,
        "intent": {"name": intent, "confidence": confidence},
        "entities": entities or [],
        "text_tokens": tokens,
        "intent_ranking": [{"name": name, "confidence": conf} for name, conf in ranking],
    }


def closed_port_url() -> str:
    """A URL on 127.0.0.1 where nothing listens (bind port 0, note it, close it)."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"
