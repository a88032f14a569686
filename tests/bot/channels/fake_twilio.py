"""A fake Twilio on 127.0.0.1 for testing the SMS and voice channels with the real library.

Its REST API answers `POST /2010-04-01/Accounts/{AccountSid}/Messages.json` the way Twilio
does (docs/platforms.md §3.5, §6): 201 with a Message JSON, or a scripted error body
`{"code", "message", "more_info", "status"}` that the SDK raises as `TwilioRestException`; and
`GET …/Recordings/{RecordingSid}.mp3` with a call recording's audio (Basic auth required). Every
request is recorded (path, headers, parsed form) so tests can assert what was sent.

`FakeCall` plays Twilio's voice side of one call (docs/platforms.md §4): it posts each webhook
signed with `RequestValidator`'s algorithm, reads the TwiML answer verb by verb as Twilio does
(`<Gather>`, `<Redirect>`, `<Dial>`, `<Record>`, `<Hangup>`, the end of the document) and
answers from a script of what the caller presses and how each forwarded leg ends.
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
_RECORDING_PATH = re.compile(
    r"/2010-04-01/Accounts/(?P<sid>AC\w+)/Recordings/(?P<recording>RE[0-9a-f]{32})\.mp3"
)
# The first bytes of an MP3 file (an ID3v2 tag), then filler: enough to tell audio was relayed.
FAKE_MP3 = b"ID3\x04\x00\x00\x00\x00\x00\x00" + b"\xff\xfb\x90\x00" * 64


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
    auth_token: str = ""
    replies: deque[Reply] = field(default_factory=deque)
    requests: list[RecordedRequest] = field(default_factory=list)
    server: LocalHTTPServer | None = None
    # Connections kept alive across requests, as the real platform's servers do.
    keep_alive: bool = False
    # Recordings this account holds, by RecordingSid.
    recordings: dict[str, bytes] = field(default_factory=dict)

    @property
    def url(self) -> str:
        assert self.server is not None
        return self.server.url

    def script(self, *replies: Reply) -> None:
        self.replies.extend(replies)

    def audio(self, request: RecordedRequest) -> tuple[int, bytes] | None:
        """A recording's audio for `GET …/Recordings/{sid}.mp3`, else None (not that path)."""
        match = _RECORDING_PATH.fullmatch(request.path)
        if request.method != "GET" or match is None:
            return None
        if match["sid"] != self.account_sid or request.basic_auth != (
            self.account_sid,
            self.auth_token,
        ):
            return 401, b""
        audio = self.recordings.get(match["recording"])
        return (200, audio) if audio is not None else (404, b"")

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
                audio = fake.audio(request)
                if audio is not None:
                    self.send_response(audio[0])
                    self.send_header("Content-Type", "audio/mpeg")
                    self.send_header("Content-Length", str(len(audio[1])))
                    self.end_headers()
                    self.wfile.write(audio[1])
                    return
                status, body = fake.answer(request)
                self.send_json(status, json.dumps(body).encode())

            do_GET = _handle
            do_POST = _handle

        self.server = LocalHTTPServer(Handler, keep_alive=self.keep_alive).start()
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


# --- the voice side of a call ----------------------------------------------------------------

HANGUP = "hangup"  # in a script: the caller hangs up here


@dataclass
class Heard:
    """One verb of the call as Twilio met it, for assertions."""

    verb: str
    attrs: dict[str, str]
    text: str = ""


@dataclass
class FakeCall:
    """Twilio's side of one inbound call to the hotline.

    `post(path, **form)` is how it reaches the app (a TestClient's post, or an httpx client on
    a served app); every URL in the TwiML is followed by its path, and signed as the full URL
    Twilio would have called. Scripts: `keys` (a digit, None for silence, HANGUP), `legs` (each
    `<Dial>` leg's DialCallStatus, or HANGUP), `recordings` (seconds of each `<Record>`, None
    for an empty one, HANGUP to hang up at the beep).
    """

    post: Any
    auth_token: str
    public_base: str
    account_sid: str = "AC" + "1" * 32
    call_sid: str = field(default_factory=lambda: "CA" + uuid.uuid4().hex)
    caller: str = "+84912345678"
    called: str = "+842873001234"
    keys: deque[str | None] = field(default_factory=deque)
    legs: deque[str] = field(default_factory=deque)
    recordings: deque[int | str | None] = field(default_factory=deque)
    heard: list[Heard] = field(default_factory=list)
    documents: list[Any] = field(default_factory=list)
    responses: list[Any] = field(default_factory=list)
    recorded_sids: list[str] = field(default_factory=list)
    status: str = "in-progress"
    max_requests: int = 60

    def form(self, **extra: str) -> dict[str, str]:
        form = {
            "AccountSid": self.account_sid,
            "ApiVersion": "2010-04-01",
            "CallSid": self.call_sid,
            "CallStatus": self.status,
            "Direction": "inbound",
            "From": self.caller,
            "Caller": self.caller,
            "To": self.called,
            "Called": self.called,
        }
        form.update(extra)
        return form

    def url_of(self, url: str) -> str:
        return url if url.startswith("http") else self.public_base.rstrip("/") + url

    def request(self, url: str, **extra: str) -> Any:
        """One signed webhook request; returns the HTTP response."""
        from twilio.request_validator import RequestValidator

        full = self.url_of(url)
        form = self.form(**extra)
        signature = RequestValidator(self.auth_token).compute_signature(full, form)
        parts = urlsplit(full)
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        response = self.post(path, data=form, headers={"X-Twilio-Signature": signature})
        self.responses.append(response)
        return response

    def _document(self, url: str, **extra: str) -> Any:
        import xml.etree.ElementTree as ET

        response = self.request(url, **extra)
        assert response.status_code == 200, response.text
        assert response.headers["content-type"].startswith("text/xml"), response.headers
        root = ET.fromstring(response.content)
        assert root.tag == "Response"
        self.documents.append(root)
        return root

    def dial_in(self) -> FakeCall:
        """Rings the hotline and plays the call out; then the call's status callback."""
        document = self._document("/voice/incoming", CallStatus="ringing")
        self.status = "in-progress"
        steps = 0
        while document is not None:
            steps += 1
            assert steps < self.max_requests, "the call never ends"
            document = self._run(document)
        self.status = "completed"
        ended = self.request("/voice/status", CallStatus="completed", CallDuration="42")
        assert ended.status_code == 200, ended.text
        return self

    def _run(self, document: Any) -> Any:
        for verb in document:
            text = (verb.text or "").strip()
            self.heard.append(Heard(verb.tag, dict(verb.attrib), text))
            if verb.tag == "Gather":
                for inner in verb:
                    self.heard.append(Heard(inner.tag, dict(inner.attrib), (inner.text or "")))
                key = self.keys.popleft() if self.keys else None
                if key == HANGUP:
                    return None
                if key is not None:
                    return self._document(verb.attrib["action"], Digits=key)
                if verb.attrib.get("actionOnEmptyResult") == "true":
                    return self._document(verb.attrib["action"])
            elif verb.tag == "Redirect":
                return self._document(text)
            elif verb.tag == "Dial":
                outcome = self.legs.popleft() if self.legs else "no-answer"
                if outcome == HANGUP:
                    self.status = "completed"
                    self._document(verb.attrib["action"], DialCallStatus="canceled")
                    return None
                return self._document(
                    verb.attrib["action"],
                    DialCallStatus=outcome,
                    DialCallSid="CA" + uuid.uuid4().hex,
                    DialCallDuration="30" if outcome == "completed" else "0",
                )
            elif verb.tag == "Record":
                seconds = self.recordings.popleft() if self.recordings else None
                if seconds is None:
                    self._recording_status(verb, None)
                    continue  # an empty recording: Twilio goes on to the next verb
                sid = "RE" + uuid.uuid4().hex
                self.recorded_sids.append(sid)
                if seconds == HANGUP:
                    self.status = "completed"
                    seconds = 7
                url = f"https://api.twilio.com/2010-04-01/Accounts/{self.account_sid}/Recordings/{sid}"
                recording = {
                    "RecordingSid": sid,
                    "RecordingUrl": url,
                    "RecordingDuration": str(seconds),
                }
                following = self._document(verb.attrib["action"], Digits="#", **recording)
                self._recording_status(verb, recording)
                return None if self.status == "completed" else following
            elif verb.tag == "Hangup":
                return None
        return None  # the end of the document hangs up

    def _recording_status(self, verb: Any, recording: dict[str, str] | None) -> None:
        callback = verb.attrib.get("recordingStatusCallback")
        if not callback:
            return
        if recording is None:
            answer = self.request(callback, RecordingStatus="absent")
        else:
            answer = self.request(callback, RecordingStatus="completed", **recording)
        assert answer.status_code == 200, answer.text

    def said(self) -> list[str]:
        """What the caller heard, as the `<Say>` texts and `<Play>` clip names in order."""
        out = []
        for heard in self.heard:
            if heard.verb == "Say":
                out.append(heard.text)
            elif heard.verb == "Play":
                out.append(heard.text.rsplit("/", 1)[-1])
        return out

    def verbs(self) -> list[str]:
        return [h.verb for h in self.heard]
