"""A fake Twilio REST API on 127.0.0.1 for testing the SMS adapter with the real SDK.

It answers `POST /2010-04-01/Accounts/{AccountSid}/Messages.json` the way Twilio does
(docs/platforms.md §3.5, §6): 201 with a Message JSON, or a scripted error body
`{"code", "message", "more_info", "status"}` that the SDK raises as `TwilioRestException`. Every
request is recorded (path, headers, parsed form) so tests can assert what the SDK sent.
"""

from __future__ import annotations

import base64
import json
import re
import uuid
from collections import deque
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.local_http import LocalHTTPServer, QuietHandler

_MESSAGES_PATH = re.compile(r"/2010-04-01/Accounts/(?P<sid>AC\w+)/Messages\.json")


@dataclass
class Reply:
    """One scripted answer; `body=None` means a Message built from the request."""

    status: int = 201
    body: dict[str, Any] | None = None


def twilio_error(code: int, message: str, status: int = 400) -> Reply:
    return Reply(
        status=status,
        body={
            "code": code,
            "message": message,
            "more_info": f"https://www.twilio.com/docs/errors/{code}",
            "status": status,
        },
    )


@dataclass
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]
    form: dict[str, str]

    @property
    def basic_auth(self) -> tuple[str, str] | None:
        value = self.headers.get("Authorization", "")
        if not value.startswith("Basic "):
            return None
        user, _, password = base64.b64decode(value[6:]).decode().partition(":")
        return user, password


@dataclass
class FakeTwilio:
    account_sid: str
    replies: deque[Reply] = field(default_factory=deque)
    requests: list[RecordedRequest] = field(default_factory=list)
    server: LocalHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self.server is not None
        return self.server.url

    def script(self, *replies: Reply) -> None:
        self.replies.extend(replies)

    def answer(self, request: RecordedRequest) -> tuple[int, dict[str, Any]]:
        match = _MESSAGES_PATH.fullmatch(request.path)
        if request.method != "POST" or match is None:
            return 404, {
                "code": 20404,
                "message": "The requested resource was not found",
                "more_info": "https://www.twilio.com/docs/errors/20404",
                "status": 404,
            }
        if match["sid"] != self.account_sid or request.basic_auth is None:
            return 401, {
                "code": 20003,
                "message": "Authenticate",
                "more_info": "https://www.twilio.com/docs/errors/20003",
                "status": 401,
            }
        reply = self.replies.popleft() if self.replies else Reply()
        if reply.body is not None:
            return reply.status, reply.body
        return reply.status, message_json(self.account_sid, request.form)

    def start(self) -> FakeTwilio:
        fake = self

        class Handler(QuietHandler):
            def _handle(self) -> None:
                raw = self.read_body().decode()
                form = {key: values[0] for key, values in parse_qs(raw).items()}
                request = RecordedRequest(
                    self.command, urlsplit(self.path).path, dict(self.headers.items()), form
                )
                fake.requests.append(request)
                status, body = fake.answer(request)
                self.send_json(status, json.dumps(body).encode())

            do_GET = _handle
            do_POST = _handle

        self.server = LocalHTTPServer(Handler).start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()


def message_json(account_sid: str, form: dict[str, str]) -> dict[str, Any]:
    """A Message resource as Twilio returns it on create (the fields the SDK reads)."""
    sid = "SM" + uuid.uuid4().hex
    body = form.get("Body", "")
    # A rough count of its own (ASCII as GSM-7, else UCS-2), so the fake does not lean on the
    # code under test.
    single, part = (160, 153) if body.isascii() else (70, 67)
    segments = 1 if len(body) <= single else -(-len(body) // part)
    return {
        "sid": sid,
        "account_sid": account_sid,
        "to": form.get("To"),
        "from": form.get("From"),
        "body": body,
        "status": "queued",
        "direction": "outbound-api",
        "num_segments": str(segments),
        "num_media": "0",
        "api_version": "2010-04-01",
        "uri": f"/2010-04-01/Accounts/{account_sid}/Messages/{sid}.json",
    }
