"""The platform fakes (tests/bot/channels/fake_*.py) as a reporter's phone sees them: every
message the bot sends is recorded as a `Delivery` to one address, and the send API can be made
to fail for a while (an HTTP status), to hang past the bot's timeout, or (Telegram) to hold
requests like a slow network.

A hung call still delivers, as the real platforms do when the client gives up waiting: the
person has the message, but the bot was never told. Only a call answered in time is
`confirmed`; a second copy of a confirmed message is a duplicate the bot must never send, a
second copy of an unconfirmed one is the price of sending at least once.

They keep connections alive across requests, as the platforms' servers do: the bot's clients
reuse them (and must cope with one a killed or restarted process left behind).
"""

from __future__ import annotations

import json
import select
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any
from urllib.parse import urlsplit

from tests.bot.channels.fake_telegram import FakeTelegram, _params
from tests.bot.channels.fake_twilio import FakeTwilio, RecordedRequest
from tests.bot.channels.fake_zalo import SEND_PATH, FakeZalo, Reply
from tests.bot.channels.fake_zalo import RecordedRequest as ZaloRequest
from tests.local_http import LocalHTTPServer, QuietHandler


@dataclass(frozen=True)
class Delivery:
    """One message that reached a person's phone."""

    channel: str
    address: str
    text: str
    platform_id: str | None
    at: float  # time.time() when the platform took it
    confirmed: bool  # the platform answered the bot in time with `platform_id`


@dataclass
class Refused:
    """A send call the platform refused or answered late (what the bot's retries see)."""

    channel: str
    address: str
    at: float
    status: int | None  # None: answered only after the stall


@dataclass
class Weather:
    """How the send API behaves right now: well, failing with `status`, or stalling."""

    status: int | None = None
    stall_seconds: float = 0.0
    until: float = 0.0

    def now(self) -> Weather | None:
        return self if time.monotonic() < self.until else None


@dataclass
class Phones:
    """What every platform delivered, by (channel, address), in the order it arrived.

    `on_delivery` is called from the fake's request thread (the bench wakes its event loop)."""

    deliveries: list[Delivery] = field(default_factory=list)
    refused: list[Refused] = field(default_factory=list)
    on_delivery: Callable[[Delivery], None] | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def deliver(self, delivery: Delivery) -> None:
        with self._lock:
            self.deliveries.append(delivery)
        if self.on_delivery is not None:
            self.on_delivery(delivery)

    def refuse(self, refused: Refused) -> None:
        with self._lock:
            self.refused.append(refused)


class _Weathered:
    """The failure switch the three fakes share."""

    phones: Phones
    weather: Weather

    def fail_sends(self, status: int, seconds: float) -> None:
        """Every send answers `status` for the next `seconds`."""
        self.weather = Weather(status=status, until=time.monotonic() + seconds)

    def stall_sends(self, stall: float, seconds: float) -> None:
        """Every send started in the next `seconds` is answered only after `stall` seconds
        (delivered meanwhile, as a platform does when the client stopped waiting)."""
        self.weather = Weather(stall_seconds=stall, until=time.monotonic() + seconds)

    def _now(self) -> Weather | None:
        return self.weather.now()


def _gone(connection: socket.socket) -> bool:
    """Whether the client hung up (a killed process's sockets are closed by the kernel)."""
    readable, _, _ = select.select([connection], [], [], 0)
    if not readable:
        return False
    try:
        return connection.recv(1, socket.MSG_PEEK) == b""
    except OSError:
        return True


class RecordingTelegram(FakeTelegram, _Weathered):
    """Also holds sends like a slow network (`hold_sends`, `hold_next_sends`)."""

    def __init__(self, phones: Phones, **kwargs: Any) -> None:
        super().__init__(**{"keep_alive": True, **kwargs})
        self.phones = phones
        self.weather = Weather()
        self._hold_lock = threading.Lock()
        self.hold_until = 0.0
        self.hold_seconds = 0.0
        self.hold_count = 0
        self.dropped = 0  # held sends whose sender died meanwhile

    def hold_sends(self, hold: float, seconds: float) -> None:
        """Every send arriving in the next `seconds` waits `hold` seconds before the platform
        reads it, like a slow network; one whose sender has died meanwhile never arrives (a
        crash between taking a message to send and the platform receiving it)."""
        self.hold_seconds = hold
        self.hold_until = time.monotonic() + seconds

    def hold_next_sends(self, count: int, hold: float) -> None:
        """The next `count` sends wait `hold` seconds before the platform reads them."""
        self.hold_seconds = hold
        self.hold_count = count

    def _held(self) -> bool:
        """Whether the send arriving now is held (and counts it)."""
        with self._hold_lock:
            if self.hold_count > 0:
                self.hold_count -= 1
                return True
        return time.monotonic() < self.hold_until

    def start(self) -> RecordingTelegram:
        """The fake's own server, with the hold of `hold_sends` in front of its answers."""
        fake = self

        class Handler(QuietHandler):
            def _handle(self) -> None:
                parts = urlsplit(self.path)
                raw = self.read_body()
                prefix, _, method = parts.path.rpartition("/")
                if method == "sendMessage" and fake._held():
                    time.sleep(fake.hold_seconds)
                    if _gone(self.connection):
                        with fake._hold_lock:
                            fake.dropped += 1
                        return
                if prefix != f"/bot{fake.token}":
                    status, body = 401, {"ok": False, "error_code": 401}
                else:
                    params = _params(parts.query, raw, self.headers.get("Content-Type", ""))
                    status, body = fake.answer(method, params)
                self.send_json(status, json.dumps(body).encode(), client_may_leave=True)

            do_GET = _handle
            do_POST = _handle

        self.server = LocalHTTPServer(Handler, keep_alive=self.keep_alive).start()
        return self

    def answer(self, method: str, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        if method != "sendMessage":
            return super().answer(method, params)
        chat = str(params.get("chat_id"))
        weather = self._now()
        if weather is not None and weather.status is not None:
            self.phones.refuse(Refused("telegram", chat, time.time(), weather.status))
            return weather.status, {
                "ok": False,
                "error_code": weather.status,
                "description": HTTPStatus(weather.status).phrase,
            }
        status, body = super().answer(method, params)
        if status != 200:
            return status, body
        stalled = weather is not None and weather.stall_seconds > 0
        self.phones.deliver(
            Delivery(
                "telegram",
                chat,
                str(params.get("text", "")),
                str(body["result"]["message_id"]),
                time.time(),
                confirmed=not stalled,
            )
        )
        if stalled:
            assert weather is not None
            self.phones.refuse(Refused("telegram", chat, time.time(), None))
            time.sleep(weather.stall_seconds)
        return status, body


class RecordingZalo(FakeZalo, _Weathered):
    def __init__(self, phones: Phones, **kwargs: Any) -> None:
        super().__init__(**{"keep_alive": True, **kwargs})
        self.phones = phones
        self.weather = Weather()

    def answer(self, request: ZaloRequest) -> Reply:
        if request.path != SEND_PATH:
            return super().answer(request)
        body = request.json if isinstance(request.json, dict) else {}
        user = str((body.get("recipient") or {}).get("user_id"))
        weather = self._now()
        if weather is not None and weather.status is not None:
            self.phones.refuse(Refused("zalo", user, time.time(), weather.status))
            return Reply(weather.status, {"error": -500, "message": "upstream failed"})
        reply = super().answer(request)
        if reply.status != 200 or not isinstance(reply.body, dict) or reply.body.get("error"):
            return reply
        stalled = weather is not None and weather.stall_seconds > 0
        text = str((body.get("message") or {}).get("text", ""))
        self.phones.deliver(
            Delivery(
                "zalo",
                user,
                text,
                str(reply.body["data"]["message_id"]),
                time.time(),
                confirmed=not stalled,
            )
        )
        if stalled:
            assert weather is not None
            self.phones.refuse(Refused("zalo", user, time.time(), None))
            time.sleep(weather.stall_seconds)
        return reply


class RecordingTwilio(FakeTwilio, _Weathered):
    def __init__(self, phones: Phones, **kwargs: Any) -> None:
        super().__init__(**{"keep_alive": True, **kwargs})
        self.phones = phones
        self.weather = Weather()

    def answer(self, request: RecordedRequest) -> tuple[int, dict[str, Any]]:
        to = request.form.get("To", "")
        weather = self._now()
        if weather is not None and weather.status is not None and request.method == "POST":
            self.phones.refuse(Refused("sms", to, time.time(), weather.status))
            return weather.status, {
                "code": 20500,
                "message": "Internal Server Error",
                "more_info": "https://www.twilio.com/docs/errors/20500",
                "status": weather.status,
            }
        status, body = super().answer(request)
        if status != 201:
            return status, body
        stalled = weather is not None and weather.stall_seconds > 0
        self.phones.deliver(
            Delivery("sms", to, request.form.get("Body", ""), body["sid"], time.time(), not stalled)
        )
        if stalled:
            assert weather is not None
            self.phones.refuse(Refused("sms", to, time.time(), None))
            time.sleep(weather.stall_seconds)
        return status, body
