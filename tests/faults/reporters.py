"""Simulated reporters and the signed webhook requests their platforms would post.

A reporter has a channel (Telegram, Zalo, SMS or the web chat), an address on it, and a short
conversation: a first message (a rescue request, a tip, a question or a greeting) and one to
three more. Requests are signed the way each platform signs them, computed here independently
of the code under test (Telegram's secret token, Zalo's sha256 MAC over app id + body +
timestamp + OA secret, Twilio's HMAC-SHA1 through the SDK's own `RequestValidator`), and built
once per message so a retry re-sends exactly the same bytes.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import random
import time
import uuid
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from twilio.request_validator import RequestValidator

from tests.bot.channels.fake_telegram import TOKEN as TELEGRAM_TOKEN
from tests.bot.channels.fake_telegram import text_update
from tests.faults.platforms import RecordingTelegram, RecordingTwilio, RecordingZalo

PUBLIC_BASE = "https://hotline.example.org"
TELEGRAM_SECRET = "fault-test_secret-1"
ZALO_APP_ID = "app-1"
ZALO_APP_SECRET = "app-secret"
ZALO_OA_SECRET = "oa-secret-key"
TWILIO_SID = "AC" + "1" * 32
TWILIO_TOKEN = "0123456789abcdef0123456789abcdef"
TWILIO_FROM = "+15005550006"

# First messages. A rescue request is filed at once (P1, 113/111 and a reference code in the
# first reply); a tip waits for its questions or for the silence; the rest are answered only.
RESCUE = (
    "cứu em với, em bị nhốt ở Campuchia",
    "cuu toi voi, toi bi giu o dong nai, ho lay ho chieu",
    "giúp em với, họ không cho em về, em đang ở Myanmar",
    "chị ơi cứu em, em bị bán sang Trung Quốc",
)
RESCUE_NEXT = (
    "em ở gần Phnom Penh, trong một khu nhà có tường cao",
    "có 3 người ở cùng em",
    "chỉ nhắn tin ở đây",
    "bỏ qua",
)
TIP = (
    "tôi muốn báo tin về một đường dây đưa người sang Campuchia làm việc nhẹ lương cao",
    "con gái tôi đi làm ở Bình Dương rồi mất liên lạc 2 tháng nay",
    "toi muon bao tin, co nguoi trong xom ru cac em gai di lam o nuoc ngoai luong cao",
)
TIP_NEXT = ("ở Hà Tĩnh", "tuần trước", "nó 17 tuổi", "qua Facebook", "bỏ qua")
QUESTION = (
    "làm sao biết công ty xuất khẩu lao động có giấy phép?",
    "đường dây nóng số mấy?",
    "đi làm ở Nhật có phải đặt cọc không?",
)
GREETING = ("xin chào", "alo", "chào bạn")
CLOSING = ("cảm ơn", "ok cảm ơn bạn", "vâng")

KINDS = ("rescue", "tip", "question", "greeting")


@dataclass
class Reporter:
    number: int
    channel: str  # telegram | zalo | sms | webchat
    kind: str  # rescue | tip | question | greeting
    texts: list[str]

    @property
    def address(self) -> str:
        """Where the bot answers: the chat id, Zalo user id, phone number or web session."""
        if self.channel == "telegram":
            return str(700_000_000 + self.number)
        if self.channel == "zalo":
            return str(5_000_000_000_000_000 + self.number)
        if self.channel == "sms":
            return f"+849{self.number:08d}"
        return f"bench-session-{self.number:012d}"


def conversation(kind: str, rng: random.Random, length: int) -> list[str]:
    """A first message of `kind` and `length - 1` answers a person of that kind would give
    (the flow's own answers first, then questions and thanks)."""
    if kind == "rescue":
        first, answers = rng.choice(RESCUE), list(RESCUE_NEXT)
    elif kind == "tip":
        first, answers = rng.choice(TIP), list(TIP_NEXT)
    else:
        first, answers = rng.choice(QUESTION if kind == "question" else GREETING), []
    rng.shuffle(answers)
    more = [*QUESTION, *CLOSING]
    while len(answers) < length - 1:
        answers.append(rng.choice(more))
    return [first, *answers[: length - 1]]


def make_reporter(
    number: int,
    rng: random.Random,
    channels: tuple[str, ...],
    *,
    rescue_share: float = 0.1,
    kind: str | None = None,
    lengths: tuple[int, int] = (2, 4),
) -> Reporter:
    if kind is None:
        kind = "rescue" if rng.random() < rescue_share else rng.choice(KINDS[1:])
    channel = channels[number % len(channels)]
    return Reporter(number, channel, kind, conversation(kind, rng, rng.randint(*lengths)))


@dataclass(frozen=True)
class Request:
    """One webhook call, ready to (re)send."""

    channel: str
    path: str
    content: bytes
    headers: dict[str, str]
    # The platform's id of the message, as the channel adapter keys it.
    message_id: str


@dataclass
class Signer:
    """Builds each platform's request for a reporter's message."""

    _update_ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _validator: RequestValidator = field(default_factory=lambda: RequestValidator(TWILIO_TOKEN))

    def request(self, reporter: Reporter, index: int, after: int = 0) -> Request:
        text = reporter.texts[index]
        if reporter.channel == "telegram":
            return self.telegram(reporter.address, index + 1, text)
        if reporter.channel == "zalo":
            return self.zalo(reporter.address, f"{reporter.address}{index}{uuid.uuid4().hex}", text)
        if reporter.channel == "sms":
            return self.sms(reporter.address, "SM" + uuid.uuid4().hex, text)
        return self.webchat(reporter.address, str(index + 1), text, after)

    def telegram(self, chat_id: str, message_id: int, text: str) -> Request:
        update = text_update(
            next(self._update_ids), text, chat_id=int(chat_id), message_id=message_id
        )
        headers = {
            "Content-Type": "application/json",
            "X-Telegram-Bot-Api-Secret-Token": TELEGRAM_SECRET,
        }
        raw = json.dumps(update, ensure_ascii=False).encode()
        return Request("telegram", "/telegram/webhook", raw, headers, f"{chat_id}:{message_id}")

    def zalo(self, user_id: str, msg_id: str, text: str) -> Request:
        timestamp = str(int(time.time() * 1000))
        event = {
            "app_id": ZALO_APP_ID,
            "user_id_by_app": str(int(user_id) + 1),
            "event_name": "user_send_text",
            "sender": {"id": user_id},
            "recipient": {"id": "388613280878808645"},
            "message": {"text": text, "msg_id": msg_id},
            "timestamp": timestamp,
        }
        raw = json.dumps(event, ensure_ascii=False).encode()
        mac = hashlib.sha256(
            ZALO_APP_ID.encode() + raw + timestamp.encode() + ZALO_OA_SECRET.encode()
        ).hexdigest()
        return Request(
            "zalo",
            "/zalo/webhook",
            raw,
            {"Content-Type": "application/json", "X-ZEvent-Signature": f"mac={mac}"},
            msg_id,
        )

    def sms(self, phone: str, sid: str, text: str) -> Request:
        form = {
            "ToCountry": "US",
            "SmsMessageSid": sid,
            "NumMedia": "0",
            "SmsSid": sid,
            "SmsStatus": "received",
            "Body": text,
            "To": TWILIO_FROM,
            "NumSegments": "1",
            "MessageSid": sid,
            "AccountSid": TWILIO_SID,
            "From": phone,
            "FromCountry": "VN",
            "ApiVersion": "2010-04-01",
        }
        signature = self._validator.compute_signature(f"{PUBLIC_BASE}/sms/webhook", form)
        return Request(
            "sms",
            "/sms/webhook",
            urlencode(form).encode(),
            {
                "Content-Type": "application/x-www-form-urlencoded",
                "X-Twilio-Signature": signature,
            },
            sid,
        )

    def webchat(self, session_id: str, message_id: str, text: str, after: int) -> Request:
        body = {"session_id": session_id, "message_id": message_id, "text": text, "after": after}
        return Request(
            "webchat",
            "/webchat/messages",
            json.dumps(body, ensure_ascii=False).encode(),
            {"Content-Type": "application/json"},
            f"{session_id}:{message_id}",
        )


def platform_env(
    telegram: RecordingTelegram | None = None,
    zalo: RecordingZalo | None = None,
    twilio: RecordingTwilio | None = None,
) -> dict[str, str]:
    """The settings that point `hotline serve`'s channels at the fakes. The public base is
    https, so Telegram is driven by its webhook and never polled."""
    env: dict[str, Any] = {"HOTLINE_PUBLIC_BASE_URL": PUBLIC_BASE}
    if telegram is not None:
        env |= {
            "HOTLINE_TELEGRAM_TOKEN": TELEGRAM_TOKEN,
            "HOTLINE_TELEGRAM_WEBHOOK_SECRET": TELEGRAM_SECRET,
            "HOTLINE_TELEGRAM_API_BASE": telegram.base_url,
        }
    if zalo is not None:
        env |= {
            "HOTLINE_ZALO_APP_ID": ZALO_APP_ID,
            "HOTLINE_ZALO_APP_SECRET": ZALO_APP_SECRET,
            "HOTLINE_ZALO_OA_SECRET_KEY": ZALO_OA_SECRET,
            "HOTLINE_ZALO_ACCESS_TOKEN": "access-0",
            "HOTLINE_ZALO_REFRESH_TOKEN": "refresh-0",
            "HOTLINE_ZALO_OPENAPI_BASE": zalo.url,
            "HOTLINE_ZALO_OAUTH_BASE": zalo.url,
        }
    if twilio is not None:
        env |= {
            "HOTLINE_TWILIO_ACCOUNT_SID": TWILIO_SID,
            "HOTLINE_TWILIO_AUTH_TOKEN": TWILIO_TOKEN,
            "HOTLINE_TWILIO_FROM_NUMBER": TWILIO_FROM,
            "HOTLINE_TWILIO_API_BASE": twilio.url,
        }
    return {k: str(v) for k, v in env.items()}
