"""SMS through Twilio Programmable Messaging.

Inbound: Twilio POSTs each SMS to `/sms/webhook` as a signed form (docs/platforms.md §3).
The adapter checks `X-Twilio-Signature`, hands an `InboundMessage` to the handler, and answers an
empty TwiML `<Response/>` once the message is stored. Replies never ride on the TwiML answer:
they go out through the REST API (`SmsChannel.send`), where the outbox can retry them and a
failure has a code we can act on.

Phone numbers and message text are personal data, so log lines carry the MessageSid and never
the `From`, `To` or `Body`. Twilio's own error messages quote the phone number, so they are not
logged either; the numeric error code is.
"""

from __future__ import annotations

import asyncio
import logging
import unicodedata

import aiohttp
import requests
from fastapi import APIRouter, HTTPException, Request, Response
from twilio.base.exceptions import TwilioException, TwilioRestException, TwilioServiceException
from twilio.http.http_client import TwilioHttpClient
from twilio.request_validator import RequestValidator
from twilio.rest import Client

from bot.channels.http import proxy_named
from bot.channels.sms.segments import count_segments, encoding, strip_diacritics
from bot.channels.sms.transport import TwilioTransport
from bot.channels.twilio_signature import signature_problem
from bot.channels.webhook import Refusal, hand_over
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
from intake_api.phones import is_e164

log = logging.getLogger(__name__)

WEBHOOK_PATH = "/sms/webhook"
EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response/>'
REQUIRED_FIELDS = ("MessageSid", "From", "Body")

# Twilio error codes where sending the same message again can never succeed. Anything else
# (rate limits, 5xx, auth trouble an operator can fix) is worth retrying from the outbox.
PERMANENT_ERROR_CODES: dict[int, str] = {
    21211: "the To number is not a valid phone number",
    21610: "the recipient has unsubscribed (replied STOP)",
    21614: "the To number is not a mobile number",
    # The body is over 1600 characters [twilio.com/docs/api/errors/21617]; same text, same error.
    21617: "the message body is too long",
}
# Twilio's REST body limit [twilio.com/docs/api/errors/21617]; logged ahead of the refusal.
MAX_BODY_CHARACTERS = 1600
SEND_TIMEOUT_SECONDS = 10.0

# MessageSids are `SM`/`MM` + 32 hex; anything else is shown escaped and cut short, since an
# unauthenticated request chooses it.
_SID_SHOWN = 40


def _shown_sid(value: object) -> str:
    return repr(str(value)[:_SID_SHOWN]) if value is not None else "-"


def _reject(status: int, detail: str, sid: object) -> HTTPException:
    log.warning("sms webhook rejected (%s): %s MessageSid=%s", status, detail, _shown_sid(sid))
    return HTTPException(status_code=status, detail=detail)


def webhook_router(handler: InboundHandler, settings: BotSettings | None = None) -> APIRouter:
    """The Twilio inbound-SMS webhook; `settings` defaults to the process settings. Without an
    auth token it refuses every request: an unchecked webhook would let anyone inject SMS."""
    settings = settings or get_bot_settings()
    validator = RequestValidator(settings.twilio_auth_token) if settings.twilio_auth_token else None
    api = APIRouter()

    @api.post(WEBHOOK_PATH, response_class=Response)
    async def sms_webhook(request: Request) -> Response:
        try:
            form = await request.form()
        except Exception as exc:  # malformed multipart and the like: the sender's fault
            raise _reject(400, "The body could not be read as a form.", None) from exc
        sid = form.get("MessageSid")

        # Authenticate before acting on any field, so a forged request costs no work.
        if validator is None:
            raise _reject(
                403, "SMS webhook is not configured (no Twilio auth token); refusing.", sid
            )
        problem = signature_problem(request, form, validator, settings)
        if problem is not None:
            raise _reject(403, problem, sid)

        # Body may be present but empty (an MMS with only a picture); the ids may not.
        missing = [name for name in REQUIRED_FIELDS if not form.get(name) and name != "Body"]
        missing += [] if "Body" in form else ["Body"]
        if missing:
            raise _reject(400, f"Missing required form field(s): {', '.join(missing)}.", sid)

        sender = str(form["From"])
        inbound = InboundMessage(
            channel="sms",
            sender_id=sender,
            message_id=str(form["MessageSid"]),
            text=str(form["Body"]),
            # Short codes and alphanumeric senders are not phone numbers one could call back.
            phone=sender if is_e164(sender) else None,
        )
        outcome = await hand_over(handler, inbound)
        if isinstance(outcome, Refusal):
            # Not stored, so not acknowledged: Twilio shows the error in its debugger and
            # retries only as the URL's connection overrides allow (docs/platforms.md §3.4).
            raise HTTPException(outcome.status, detail=outcome.detail, headers=outcome.headers)
        # Debug, not info: the access log already has a line for every webhook request.
        log.debug("sms inbound accepted MessageSid=%s new=%s", _shown_sid(sid), outcome)
        return Response(content=EMPTY_TWIML, media_type="text/xml")

    return api


class SmsChannel(ChannelBase):
    """Inbound SMS by Twilio's signed webhook; sends through Twilio's REST API with the SDK."""

    name = "sms"
    # Twilio joins a long body into one concatenated SMS up to this many characters.
    limit = TextLimit(MAX_BODY_CHARACTERS, "chars")

    @classmethod
    def from_settings(cls, settings: BotSettings, context: ChannelContext) -> SmsChannel | None:
        # All three: the account alone may serve only the voice hotline.
        if not (
            settings.twilio_account_sid
            and settings.twilio_auth_token
            and settings.twilio_from_number
        ):
            return None
        return cls(settings)

    def __init__(self, settings: BotSettings | None = None) -> None:
        settings = settings or get_bot_settings()
        if not (
            settings.twilio_account_sid
            and settings.twilio_auth_token
            and settings.twilio_from_number
        ):
            raise ValueError(
                "SMS needs HOTLINE_TWILIO_ACCOUNT_SID, HOTLINE_TWILIO_AUTH_TOKEN and "
                "HOTLINE_TWILIO_FROM_NUMBER."
            )
        self._settings = settings
        self._from = settings.twilio_from_number
        self._strip = settings.sms_strip_diacritics
        # The SDK's default clients wait forever (or five minutes); a hung Twilio must not hold
        # a send. Behind a proxy the SDK's requests client, which honours HTTPS_PROXY and
        # NO_PROXY, sends from a worker thread; otherwise its async side, on the event loop.
        self._transport: TwilioTransport | None = None
        if proxy_named():
            http_client: TwilioHttpClient | TwilioTransport = TwilioHttpClient(
                timeout=SEND_TIMEOUT_SECONDS
            )
        else:
            http_client = self._transport = TwilioTransport(SEND_TIMEOUT_SECONDS)
        self._client = Client(
            settings.twilio_account_sid, settings.twilio_auth_token, http_client=http_client
        )
        if settings.twilio_api_base:
            # Documented override of the REST host (docs/platforms.md §6); tests use a local fake.
            self._client.api.base_url = settings.twilio_api_base.rstrip("/")

    def prepare(self, text: str) -> str:
        """The body as it goes on the wire."""
        if self._strip:
            return strip_diacritics(text)
        # Some keyboards send decomposed Vietnamese (letter + combining marks); composed it
        # takes fewer UTF-16 units, hence fewer segments.
        return unicodedata.normalize("NFC", text)

    async def send(self, message: OutboundText) -> str | None:
        body = self.prepare(message.text)
        if not body.strip():
            raise DeliveryError("An SMS needs a non-empty body.", permanent=True)
        segments, enc = count_segments(body), encoding(body)
        if len(body) > MAX_BODY_CHARACTERS:
            log.warning("sms over %s characters; Twilio will refuse it", MAX_BODY_CHARACTERS)
        try:
            if self._transport is not None:
                sent = await self._client.messages.create_async(
                    to=message.recipient_id, from_=self._from, body=body
                )
            else:
                sent = await asyncio.to_thread(
                    self._client.messages.create,
                    to=message.recipient_id,
                    from_=self._from,
                    body=body,
                )
        except (TwilioRestException, TwilioServiceException) as exc:
            code = exc.code if isinstance(exc.code, int) else None
            reason = PERMANENT_ERROR_CODES.get(code) if code is not None else None
            log.warning(
                "sms send refused by Twilio code=%s status=%s permanent=%s",
                code,
                exc.status,
                reason is not None,
            )
            what = reason or "Twilio did not accept the SMS"
            # `from None`: Twilio's message quotes the phone number and would ride along in any
            # traceback that logs this error.
            raise DeliveryError(
                f"{what} (Twilio error {code}, HTTP {exc.status}).", permanent=reason is not None
            ) from None
        except (TwilioException, requests.RequestException, aiohttp.ClientError, OSError) as exc:
            log.warning("sms send failed error=%s", type(exc).__name__)
            raise DeliveryError(
                f"Could not reach Twilio ({type(exc).__name__}).", permanent=False
            ) from exc
        # Debug, as Telegram's: the send is recorded with its MessageSid on the outgoing row.
        log.debug(
            "sms sent MessageSid=%s encoding=%s segments=%s twilio_segments=%s",
            sent.sid,
            enc,
            segments,
            sent.num_segments,
        )
        return sent.sid

    def router(self, handler: InboundHandler) -> APIRouter:
        return webhook_router(handler, self._settings)

    async def stop(self) -> None:
        if self._transport is not None:
            await self._transport.close()

    async def delete(self, recipient_id: str, message_ids: list[str]) -> int:
        # A delivered SMS lives on the recipient's phone; nothing can take it back.
        return 0
