"""The Zalo Official Account channel: webhook in, customer-service ("Tư vấn") messages out.

Zalo has no maintained Python SDK for OA API v3, so this is a small httpx client
(docs/platforms.md section 2). Inbound, `router` serves `POST /zalo/webhook`: it checks
`X-ZEvent-Signature`, turns the event into an `InboundMessage` keyed by Zalo's `msg_id`, hands
it to the inbound handler and answers 200 (Zalo wants an answer within 2 s and resends
otherwise, so duplicates are normal and de-duplication is the handler's job). Outbound,
`ZaloChannel.send` posts to `/v3.0/oa/message/cs`, refreshing the OAuth token once when Zalo
rejects it (see `bot/channels/zalo/tokens.py`).

Message text, user ids, names and phone numbers are personal data, and tokens and signatures
are credentials: none of them appears in a log line or an exception.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import math
import string
import time
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

import httpx
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from bot.channels.http import platform_transport
from bot.channels.text import split_text
from bot.channels.webhook import Refusal, hand_over
from bot.channels.zalo.token_store import TokenStore
from bot.channels.zalo.tokens import TokenLoader, TokenSaver, ZaloTokenError, ZaloTokens
from bot.config import BotSettings, get_bot_settings
from bot.contract import (
    ChannelBase,
    ChannelContext,
    DeliveryError,
    InboundHandler,
    InboundMessage,
    OutboundText,
    TextLimit,
)

log = logging.getLogger(__name__)

CHANNEL = "zalo"
WEBHOOK_PATH = "/zalo/webhook"
SIGNATURE_HEADER = "X-ZEvent-Signature"
SEND_PATH = "/v3.0/oa/message/cs"
# Zalo's limit for a CS text (docs/platforms.md 2.5). Counted in UTF-16 code units, as a JavaScript
# backend would count it, so an emoji costs two and a split chunk is never rejected as too long.
MAX_TEXT_UNITS = 2000
# Real events are a few hundred bytes; a larger body is not Zalo and is not worth hashing.
MAX_BODY_BYTES = 256 * 1024
DEFAULT_TIMEOUT = httpx.Timeout(10.0, connect=5.0)

# -216 "access token is invalid" is the documented one (docs/platforms.md 2.1); -220 "access token
# is expired or removed" is reported for the same situation [3P hoangnd25/monorepo:
# wip/zalo-platform-integration.md, error code table].
TOKEN_ERRORS = frozenset({-216, -220})
# Errors after which resending the same message to the same person cannot succeed (same 3P
# table; -230 also confirmed by the GitHub repository khoicodedao/Poto_platform, in its
# FIX_ERROR_230.md, and by subiz's documentation):
# -201 a parameter (the recipient) is invalid, -213 the user does not follow the OA,
# -227 the user is banned or inactive for over 45 days, -230/-232 the user is outside the 7-day
# interaction window (only a template message could reach them now), -233 unsupported message
# type, -244 the user restricted this message type, -248 the content violates Zalo's standards.
# Everything else (quota -211/-218, rate limit -32, app or OA setup -219/-223/-224, unknown
# codes) is transient: an admin or time can fix it, and the reporter's reply must not be lost.
PERMANENT_ERRORS = frozenset({-201, -213, -227, -230, -232, -233, -244, -248})


# --------------------------------------------------------------------------------------------
# Inbound


class MalformedEvent(ValueError):
    """The event is not JSON or lacks a field its type needs. Never carries the payload."""


def signature_for(app_id: str, oa_secret_key: str, raw_body: bytes, timestamp: str) -> str:
    """Zalo's MAC: sha256 hex of app id + raw body + timestamp + OA secret key (not an HMAC)."""
    digest = hashlib.sha256(
        app_id.encode() + raw_body + timestamp.encode() + oa_secret_key.encode()
    )
    return digest.hexdigest()


def signature_matches(
    header: str, app_id: str, oa_secret_key: str, raw_body: bytes, timestamp: str
) -> bool:
    """Compares tolerantly: optional `mac=` prefix, stray whitespace and upper case are accepted,
    because developers report the header's exact form varies (docs/platforms.md 2.4)."""
    given = "".join(header.split()).lower().removeprefix("mac=")
    expected = signature_for(app_id, oa_secret_key, raw_body, timestamp)
    # Bytes, not str: compare_digest rejects non-ASCII str with TypeError.
    return hmac.compare_digest(given.encode(), expected.encode())


def describe_signature_format(header: str) -> str:
    """The header's shape without its value, for diagnosing mismatches in the first real events."""
    value = header.strip()
    has_prefix = value.lower().startswith("mac=")
    digest = value[4:].strip() if has_prefix else value
    if not digest:
        kind = "empty"
    elif all(c in string.hexdigits for c in digest):
        kind = "hex " + ("lowercase" if digest == digest.lower() else "mixed/upper case")
    else:
        kind = "not hex"
    prefix = "mac= prefix" if has_prefix else "no mac= prefix"
    return f"{prefix}, {len(digest)} chars, {kind}"


def parse_event(event: Mapping[str, Any]) -> InboundMessage | None:
    """The message an event carries, or None for events the bot does not act on.

    Raises MalformedEvent when a message event lacks what it needs.
    """
    name = event.get("event_name")
    if not isinstance(name, str) or not name:
        raise MalformedEvent("event_name is missing")
    if name.startswith("oa_send_"):
        # Echoes of the OA's own messages: answering them would make the bot talk to itself.
        return None
    parser = _MESSAGE_PARSERS.get(name)
    # follow/unfollow, seen/received receipts, stickers, audio, files and any event Zalo adds
    # later: acknowledged and dropped, since the message contract has no field for them.
    return parser(event) if parser is not None else None


def _parse_text(event: Mapping[str, Any]) -> InboundMessage:
    sender_id, message = _sender_and_message(event)
    text = message.get("text")
    if not isinstance(text, str):
        raise MalformedEvent("message.text is missing")
    return _inbound(sender_id, message, text=text)


def _parse_location(event: Mapping[str, Any]) -> InboundMessage:
    sender_id, message = _sender_and_message(event)
    location = None
    for attachment in _attachments(message):
        if attachment.get("type") == "location":
            location = _coordinates(attachment.get("payload"))
            break
    if location is None:
        raise MalformedEvent("location attachment is missing")
    # The text of a location message, when present, is the place name the user picked.
    return _inbound(sender_id, message, text=_caption(message), location=location)


def _parse_image(event: Mapping[str, Any]) -> InboundMessage | None:
    sender_id, message = _sender_and_message(event)
    caption = _caption(message)
    if caption is None:
        return _inbound(sender_id, message, text=None, attachment="photo")
    return _inbound(sender_id, message, text=caption)


def _media(kind: str) -> Callable[[Mapping[str, Any]], InboundMessage | None]:
    """Media the bot cannot read: passed on by kind so the person is still answered."""

    def parse(event: Mapping[str, Any]) -> InboundMessage | None:
        sender_id, message = _sender_and_message(event)
        return _inbound(sender_id, message, text=_caption(message), attachment=kind)

    return parse


_MESSAGE_PARSERS = {
    "user_send_text": _parse_text,
    "user_send_location": _parse_location,
    "user_send_image": _parse_image,
    "user_send_audio": _media("voice"),
    "user_send_video": _media("video"),
    "user_send_file": _media("file"),
    "user_send_sticker": _media("sticker"),
    "user_send_gif": _media("sticker"),
}


def _sender_and_message(event: Mapping[str, Any]) -> tuple[str, Mapping[str, Any]]:
    sender = event.get("sender")
    sender_id = _id(sender.get("id")) if isinstance(sender, Mapping) else None
    if sender_id is None:
        raise MalformedEvent("sender.id is missing")
    message = event.get("message")
    if not isinstance(message, Mapping) or _id(message.get("msg_id")) is None:
        raise MalformedEvent("message.msg_id is missing")
    return sender_id, message


def _inbound(
    sender_id: str,
    message: Mapping[str, Any],
    *,
    text: str | None,
    location: tuple[float, float] | None = None,
    attachment: str | None = None,
) -> InboundMessage:
    msg_id = _id(message.get("msg_id"))
    assert msg_id is not None  # checked by _sender_and_message
    return InboundMessage(
        channel=CHANNEL,
        sender_id=sender_id,
        message_id=msg_id,
        text=text,
        location=location,
        attachment=attachment,
    )


def _id(value: object) -> str | None:
    # Zalo sends ids as strings; accept integers too rather than drop a message over it.
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str) and value.strip():
        return value.strip()
    return None


def _caption(message: Mapping[str, Any]) -> str | None:
    text = message.get("text")
    return text if isinstance(text, str) and text.strip() else None


def _attachments(message: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    attachments = message.get("attachments")
    if not isinstance(attachments, list):
        return []
    return [a for a in attachments if isinstance(a, Mapping)]


def _coordinates(payload: object) -> tuple[float, float] | None:
    """(lat, lon) from `payload.coordinates.{latitude,longitude}` (strings in real events) or the
    `lat`/`long` spelling some codebases expect (docs/platforms.md 2.3)."""
    if not isinstance(payload, Mapping):
        return None
    coords = payload.get("coordinates", payload)
    if not isinstance(coords, Mapping):
        return None
    lat = _number(coords.get("latitude", coords.get("lat")))
    lon = _number(coords.get("longitude", coords.get("long", coords.get("lng"))))
    if lat is None or lon is None or not (-90 <= lat <= 90 and -180 <= lon <= 180):
        raise MalformedEvent("location coordinates are missing or out of range")
    return lat, lon


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        return None
    try:
        number = float(value)
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def _timestamp_text(event: Mapping[str, Any]) -> str | None:
    # The MAC covers the timestamp exactly as the body spells it; numbers are accepted in case
    # a payload carries it unquoted (JSON integers print the same digits).
    value = event.get("timestamp")
    if isinstance(value, str) and value:
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return None


def _age_seconds(timestamp: str) -> float:
    """How old an event is by its own timestamp (decimal milliseconds since the epoch)."""
    return time.time() - int(timestamp) / 1000


def _reject(status: int, detail: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"ok": False, "detail": detail}, status_code=status, headers=headers)


def _webhook(handler: InboundHandler, settings: BotSettings | None = None) -> APIRouter:
    """`POST /zalo/webhook`, calling `handler` with each authentic message event."""
    settings = settings or get_bot_settings()
    app_id, oa_secret_key = settings.zalo_app_id, settings.zalo_oa_secret_key
    if not app_id or not oa_secret_key:
        # Without both the signature cannot be checked, and an unchecked webhook lets anyone
        # inject messages as any Zalo user.
        raise ValueError(
            "the Zalo webhook needs HOTLINE_ZALO_APP_ID and HOTLINE_ZALO_OA_SECRET_KEY"
        )

    api = APIRouter()

    @api.post(WEBHOOK_PATH, include_in_schema=False)
    async def zalo_webhook(request: Request) -> JSONResponse:
        signature = request.headers.get(SIGNATURE_HEADER)
        if not signature:
            log.warning("zalo webhook rejected: no %s header", SIGNATURE_HEADER)
            return _reject(403, f"missing {SIGNATURE_HEADER} header")
        # The MAC is over the exact bytes Zalo sent, so the body is never re-serialized.
        raw = await request.body()
        if len(raw) > MAX_BODY_BYTES:
            return _reject(413, "body too large")
        try:
            event = json.loads(raw)
        except (ValueError, UnicodeDecodeError, RecursionError):
            # RecursionError: a body nested deeper than any event, from someone without the key.
            return _reject(400, "body is not JSON")
        if not isinstance(event, dict):
            return _reject(400, "body is not a JSON object")
        timestamp = _timestamp_text(event)
        if timestamp is None:
            return _reject(400, "timestamp is missing")
        if not signature_matches(signature, app_id, oa_secret_key, raw, timestamp):
            log.warning(
                "zalo webhook rejected: bad signature (header format: %s; body app_id %s)",
                describe_signature_format(signature),
                "matches" if str(event.get("app_id")) == app_id else "differs",
            )
            return _reject(403, f"{SIGNATURE_HEADER} does not match")
        if not timestamp.isdecimal():
            return _reject(400, "timestamp is not a number of milliseconds since the epoch")
        if _age_seconds(timestamp) > settings.zalo_max_event_age_seconds:
            log.warning("zalo webhook rejected: event older than the freshness window")
            return _reject(400, "event is too old (timestamp outside the freshness window)")

        try:
            inbound = parse_event(event)
        except MalformedEvent as exc:
            log.warning("zalo webhook: malformed %s event (%s)", _event_name(event), exc)
            return _reject(400, str(exc))
        if inbound is None:
            log.debug("zalo webhook: %s event ignored", _event_name(event))
            return JSONResponse({"ok": True})

        outcome = await hand_over(handler, inbound)
        if isinstance(outcome, Refusal):
            return _reject(outcome.status, outcome.detail, outcome.headers)
        if not outcome:
            log.debug("zalo webhook: duplicate message acknowledged")
        return JSONResponse({"ok": True})

    return api


def _event_name(event: Mapping[str, Any]) -> str:
    name = event.get("event_name")
    # Event names are Zalo's vocabulary, but cap them: the field is attacker-controlled.
    return name[:40] if isinstance(name, str) else "unnamed"


# --------------------------------------------------------------------------------------------
# Outbound


class _TokenRejected(Exception):
    """Zalo refused the access token (-216, -220 or HTTP 401)."""


class ZaloChannel(ChannelBase):
    """The Zalo OA: a signed webhook in, customer-service texts out through the OA API."""

    name = CHANNEL
    limit = TextLimit(MAX_TEXT_UNITS, "utf16")

    @classmethod
    def from_settings(cls, settings: BotSettings, context: ChannelContext) -> ZaloChannel | None:
        # Without both the webhook's signature cannot be checked.
        if not (settings.zalo_app_id and settings.zalo_oa_secret_key):
            return None
        store = TokenStore(context.engine)
        return cls(settings, tokens=store.load(), save=store.save, load=store.load)

    def __init__(
        self,
        settings: BotSettings | None = None,
        *,
        tokens: tuple[str, str, datetime | None] | None = None,
        save: TokenSaver | None = None,
        load: TokenLoader | None = None,
        timeout: httpx.Timeout | float = DEFAULT_TIMEOUT,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        """`tokens` is the latest saved pair (access, refresh, expiry) and supersedes the one
        in settings, which is only the pair an admin obtained first. `save` receives every new
        pair (default: kept in memory only); `load` reads the stored pair before a refresh, for
        deployments where several processes share one OA."""
        settings = settings or get_bot_settings()
        access, refresh, expires_at = tokens or (
            settings.zalo_access_token,
            settings.zalo_refresh_token,
            None,
        )
        if not access:
            raise ValueError("the Zalo channel needs HOTLINE_ZALO_ACCESS_TOKEN")
        self._settings = settings
        self._send_url = settings.zalo_openapi_base.rstrip("/") + SEND_PATH
        self._client = httpx.AsyncClient(timeout=timeout, transport=platform_transport())
        self.tokens = ZaloTokens(
            app_id=settings.zalo_app_id,
            app_secret=settings.zalo_app_secret,
            access_token=access,
            refresh_token=refresh,
            expires_at=expires_at,
            client=self._client,
            oauth_base=settings.zalo_oauth_base,
            save=save,
            load=load,
            clock=clock,
        )

    def router(self, handler: InboundHandler) -> APIRouter:
        """`POST /zalo/webhook` for this channel's OA."""
        return _webhook(handler, self._settings)

    async def stop(self) -> None:
        await self.aclose()

    async def __aenter__(self) -> ZaloChannel:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._client.aclose()

    async def send(self, message: OutboundText) -> str | None:
        """Delivers the text, split into several Zalo messages when it is over 2000 units;
        returns the id of the last one.

        With `reply_to` the message answers that inbound message, which Zalo counts as a free
        reply rather than a paid proactive message (docs/platforms.md 2.5). If a later chunk fails
        the earlier ones have gone out and a retry sends them again: delivery is at least once.
        """
        if message.channel != CHANNEL:
            raise DeliveryError(f"not a Zalo message (channel {message.channel!r})", permanent=True)
        chunks = split_text(message.text, self.limit.max_units)
        if not chunks:
            raise DeliveryError("nothing to send: the text is empty", permanent=True)
        if message.reply_to:
            recipient = {"message_id": message.reply_to}
        else:
            recipient = {"user_id": message.recipient_id}

        refresh_used = False
        message_id: str | None = None
        for chunk in chunks:
            body = {"recipient": recipient, "message": {"text": chunk}}
            token = await self.tokens.current()
            try:
                message_id = await self._post(token, body)
            except _TokenRejected:
                # Refresh once and retry once per send: a token rejected right after a refresh
                # means a revoked app, which more refreshes would only make worse.
                if refresh_used:
                    raise DeliveryError("Zalo rejected the refreshed access token") from None
                refresh_used = True
                token = await self._refresh(token)
                try:
                    message_id = await self._post(token, body)
                except _TokenRejected:
                    raise DeliveryError("Zalo rejected the refreshed access token") from None
        return message_id

    async def delete(self, recipient_id: str, message_ids: list[str]) -> int:
        """Always 0: the OA API (v2 and v3) has no call that deletes or recalls a message the OA
        sent (none in docs/platforms.md section 2 or the third-party references behind it; the
        "recall" of unofficial libraries drives a personal account's web session, not an OA), so
        nothing already on a reporter's phone can be taken back. Callers that need discretion
        must decide before sending."""
        return 0

    async def _refresh(self, stale: str) -> str:
        try:
            return await self.tokens.refresh(stale=stale)
        except ZaloTokenError as exc:
            # Not permanent: once an admin re-authorizes the app, the message can go out.
            log.error("zalo send: token refresh failed (error %s)", exc.code)
            raise DeliveryError(f"Zalo token refresh failed (error {exc.code})") from None

    async def _post(self, token: str, body: dict[str, Any]) -> str | None:
        try:
            response = await self._client.post(
                self._send_url, json=body, headers={"access_token": token}
            )
        except httpx.HTTPError as exc:
            # A timeout may hide a delivered message; the retry then duplicates it, which is
            # better than a reporter never hearing back.
            log.warning("zalo send: request failed (%s)", type(exc).__name__)
            raise DeliveryError(f"Zalo unreachable: {type(exc).__name__}") from None
        if response.status_code == 401:
            raise _TokenRejected
        if response.status_code != 200:
            log.warning("zalo send: HTTP %s", response.status_code)
            raise DeliveryError(f"Zalo answered HTTP {response.status_code}")
        try:
            reply = response.json()
        except ValueError:
            reply = None
        code = reply.get("error") if isinstance(reply, dict) else None
        if not isinstance(code, int) or isinstance(code, bool):
            raise DeliveryError("Zalo answered without an error code")
        if code in TOKEN_ERRORS:
            raise _TokenRejected
        if code != 0:
            permanent = code in PERMANENT_ERRORS
            # Zalo's own error message is left out: it may name the offending field's value.
            log.warning("zalo send failed: error %s (permanent: %s)", code, permanent)
            raise DeliveryError(f"Zalo error {code}", permanent=permanent)
        data = reply.get("data")
        return _id(data.get("message_id")) if isinstance(data, dict) else None
