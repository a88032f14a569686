"""Telegram: webhook (or long polling) in, `sendMessage` out, through python-telegram-bot v22.

Receive: `POST /telegram/webhook` checks Telegram's secret token, turns the update into an
`InboundMessage` and hands it to the inbound handler, acknowledging only once it is stored.
Send: `OutboundText` becomes one or more `sendMessage` calls with an optional reply keyboard.
Platform facts cited from docs/platforms.md section 1.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import logging
import re
import traceback
import warnings
from collections.abc import Awaitable, Mapping
from datetime import timedelta
from typing import Any, Final, TypeVar

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from telegram import (
    Bot,
    Chat,
    KeyboardButton,
    Message,
    ReplyKeyboardMarkup,
    ReplyKeyboardRemove,
    Update,
)
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Forbidden,
    NetworkError,
    RetryAfter,
    TelegramError,
)
from telegram.ext import Application
from telegram.request import HTTPXRequest
from telegram.warnings import PTBDeprecationWarning

from bot.channels.http import platform_transport
from bot.channels.text import split_text
from bot.channels.webhook import Refusal, hand_over
from bot.config import BotSettings
from bot.contract import (
    ChannelBase,
    ChannelContext,
    DeliveryError,
    InboundHandler,
    InboundMessage,
    OutboundText,
    TextLimit,
)
from intake_api.phones import to_e164

log = logging.getLogger(__name__)

CHANNEL: Final = "telegram"
WEBHOOK_PATH: Final = "/telegram/webhook"
SECRET_HEADER: Final = "X-Telegram-Bot-Api-Secret-Token"
# Only what the bot serves; Telegram then does not even send edits, channel posts or
# membership changes (docs/platforms.md 1.2 `allowed_updates`).
ALLOWED_UPDATES: Final = ("message", "callback_query")
# `MessageLimit.MAX_TEXT_LENGTH`. Telegram counts UTF-16 code units, so an emoji outside the
# Basic Multilingual Plane costs two; measuring that way never sends an over-long message.
MAX_TEXT_UTF16: Final = 4096
# secret_token: 1-256 characters from A-Z a-z 0-9 _ - (docs/platforms.md 1.2).
_SECRET_RE = re.compile(r"[A-Za-z0-9_-]{1,256}")
# The connections to the Bot API: PTB's Application's own default pool size.
SEND_POOL: Final = 256
# PTB's default connect timeout (seconds).
SEND_CONNECT_TIMEOUT: Final = 5.0
_T = TypeVar("_T")
AnyApplication = Application[Any, Any, Any, Any, Any, Any]


class MalformedUpdate(ValueError):
    """The body is JSON but not a Telegram update we can read (answered with 400)."""


class TelegramChannel(ChannelBase):
    """The Telegram adapter: a webhook router, or polling for local runs; sends and deletes."""

    name = CHANNEL
    limit = TextLimit(MAX_TEXT_UTF16, "utf16")

    @classmethod
    def from_settings(
        cls, settings: BotSettings, context: ChannelContext
    ) -> TelegramChannel | None:
        if not settings.telegram_token:
            return None
        # Telegram only calls HTTPS webhooks; without a public HTTPS URL (a local run) the bot
        # polls getUpdates instead.
        base = settings.public_base_url.rstrip("/")
        webhook = f"{base}{WEBHOOK_PATH}" if base.startswith("https://") else None
        return cls(settings, webhook_url=webhook)

    def __init__(
        self,
        settings: BotSettings,
        *,
        application: AnyApplication | None = None,
        bot: Bot | None = None,
        webhook_url: str | None = None,
    ) -> None:
        self._secret = settings.telegram_webhook_secret
        # Where Telegram is told to post updates; None: this process polls for them.
        self._webhook_url = webhook_url
        self._application: AnyApplication | None
        if bot is not None:
            self._application, self._bot = application, bot
        elif application is not None:
            self._application, self._bot = application, application.bot
        else:
            if not settings.telegram_token:
                raise ValueError("HOTLINE_TELEGRAM_TOKEN is not set")
            # updater(None): our own ASGI app receives the webhook (docs/platforms.md 1.5).
            self._application = (
                Application.builder()
                .token(settings.telegram_token)
                .base_url(settings.telegram_api_base)
                .request(send_request())
                .updater(None)
                .build()
            )
            self._bot = self._application.bot

    @property
    def bot(self) -> Bot:
        return self._bot

    # -- lifespan -------------------------------------------------------------------------

    async def start(self) -> None:
        """Connects (calls `getMe`) and, given a public URL, registers the webhook there."""
        if self._application is not None:
            await self._application.initialize()
        else:
            await self._bot.initialize()
        if self._webhook_url:
            await self.register_webhook(self._webhook_url)

    async def receive(self, handler: InboundHandler, stop: asyncio.Event) -> None:
        if self._webhook_url is None:
            await self.run_polling(handler, stop)

    async def stop(self) -> None:
        if self._application is not None:
            await self._application.shutdown()
        else:
            await self._bot.shutdown()
        # A start that failed (Telegram unreachable) leaves PTB uninitialised, and its
        # shutdown then returns at once: the send client the failed getMe opened is closed
        # here either way (closing it twice is nothing).
        await self._bot.request.shutdown()

    async def register_webhook(self, url: str) -> None:
        # Without a secret the route refuses every request, so a webhook would only lose updates.
        if not self._secret or not _SECRET_RE.fullmatch(self._secret):
            raise ValueError(
                "HOTLINE_TELEGRAM_WEBHOOK_SECRET must be 1-256 characters of A-Z a-z 0-9 _ -"
            )
        await self._bot.set_webhook(
            url=url, secret_token=self._secret, allowed_updates=list(ALLOWED_UPDATES)
        )
        log.info("telegram webhook registered")

    # -- receive: webhook -----------------------------------------------------------------

    def router(self, handler: InboundHandler) -> APIRouter:
        api = APIRouter()

        # A platform callback, not part of the public API.
        @api.post(WEBHOOK_PATH, include_in_schema=False)
        async def telegram_webhook(request: Request) -> JSONResponse:
            refusal = self._refusal(request.headers.get(SECRET_HEADER))
            if refusal is not None:
                log.warning("telegram webhook refused: %s", refusal)
                return JSONResponse({"detail": "forbidden"}, status_code=403)
            try:
                data = json.loads(await request.body())
            except (ValueError, RecursionError):
                return _bad_request("body is not JSON")
            if not isinstance(data, dict):
                return _bad_request("body is not a JSON object")
            try:
                update = _read_update(data, self._bot)
                inbound = inbound_from_update(update)
            except MalformedUpdate as exc:
                return _bad_request(str(exc))
            if inbound is None:
                return JSONResponse({"ok": True})
            outcome = await hand_over(handler, inbound)
            if isinstance(outcome, Refusal):
                return JSONResponse(
                    {"detail": outcome.detail}, status_code=outcome.status, headers=outcome.headers
                )
            await self._answer_callback(update)
            # New or duplicate alike: a stored message is acknowledged so Telegram stops resending.
            return JSONResponse({"ok": True})

        return api

    def _refusal(self, given: str | None) -> str | None:
        if not self._secret:
            return "no webhook secret is configured"
        if given is None:
            return f"{SECRET_HEADER} header missing"
        if not hmac.compare_digest(given.encode(), self._secret.encode()):
            return f"{SECRET_HEADER} header wrong"
        return None

    async def _answer_callback(self, update: Update) -> None:
        # Stops the spinner on the pressed button (docs/platforms.md 1.4); only cosmetic, so a
        # failure (query too old, already answered on a retry) must not fail the message.
        if update.callback_query is None:
            return
        try:
            await self._bot.answer_callback_query(update.callback_query.id)
        except TelegramError as exc:
            log.info(
                "telegram callback query of update %d not answered (%s)",
                update.update_id,
                type(exc).__name__,
            )

    # -- receive: long polling (local runs) ------------------------------------------------

    async def run_polling(
        self,
        handler: InboundHandler,
        stop_event: asyncio.Event,
        *,
        poll_timeout: float = 10.0,
        max_backoff: float = 30.0,
    ) -> None:
        """Long-polls `getUpdates` until `stop_event` is set.

        The offset moves past an update only after the handler stored it: Telegram counts every
        update below the offset as confirmed and never sends it again (docs/platforms.md 1.3).
        """
        offset: int | None = None
        backoff = 0.0
        # getUpdates does not work while a webhook is set (docs/platforms.md 1.2).
        while not stop_event.is_set():
            try:
                await self._bot.delete_webhook(drop_pending_updates=False)
                break
            except TelegramError as exc:
                backoff = min(max_backoff, backoff * 2 or 1.0)
                log.warning("telegram deleteWebhook failed (%s)", type(exc).__name__)
                await _sleep_unless_stopped(backoff, stop_event)
        backoff = 0.0
        while not stop_event.is_set():
            try:
                updates = await _unless_stopped(
                    self._bot.get_updates(
                        offset=offset, timeout=poll_timeout, allowed_updates=list(ALLOWED_UPDATES)
                    ),
                    stop_event,
                )
            except TelegramError as exc:
                backoff = min(max_backoff, backoff * 2 or 1.0)
                log.warning(
                    "telegram getUpdates failed (%s); retry in %.1fs", type(exc).__name__, backoff
                )
                await _sleep_unless_stopped(backoff, stop_event)
                continue
            if updates is None:
                break
            try:
                for update in updates:
                    await self._process_polled(update, handler)
                    offset = update.update_id + 1
                    if stop_event.is_set():
                        break
            except Exception as exc:
                # Not stored, so not confirmed: the next getUpdates from `offset` resends it.
                backoff = min(max_backoff, backoff * 2 or 1.0)
                _log_handler_failure(exc, "polled update")
                await _sleep_unless_stopped(backoff, stop_event)
                continue
            backoff = 0.0
        if offset is not None:
            # Confirms what was stored, so the next start does not fetch it again.
            with contextlib.suppress(TelegramError):
                await self._bot.get_updates(offset=offset, timeout=0, limit=1)

    async def _process_polled(self, update: Update, handler: InboundHandler) -> None:
        try:
            inbound = inbound_from_update(update)
        except MalformedUpdate as exc:
            # Skipped rather than retried: it would block every later update forever.
            log.warning("telegram update %d skipped: %s", update.update_id, exc)
            return
        if inbound is None:
            return
        await handler(inbound)
        await self._answer_callback(update)

    # -- send -----------------------------------------------------------------------------

    async def send(self, message: OutboundText) -> str | None:
        """Sends the text (split when longer than Telegram allows); returns the last message id.

        If a later part fails, earlier parts were already delivered and a retry repeats them.
        """
        try:
            chat_id = int(message.recipient_id)
        except ValueError:
            raise DeliveryError("recipient is not a Telegram chat id", permanent=True) from None
        parts = split_text(message.text, self.limit.max_units)
        if not parts:
            raise DeliveryError("empty message", permanent=True)
        last_id: str | None = None
        for index, part in enumerate(parts):
            # The keyboard belongs under the last part, where the person will answer.
            markup = _reply_markup(message.quick_replies) if index == len(parts) - 1 else None
            try:
                sent = await self._bot.send_message(chat_id=chat_id, text=part, reply_markup=markup)
            except TelegramError as exc:
                raise delivery_error(exc) from exc
            last_id = str(sent.message_id)
        return last_id

    async def delete(self, recipient_id: str, message_ids: list[str]) -> int:
        """Deletes messages in a private chat; returns how many went.

        Takes the ids `send` returned and also inbound ids ("chat:message"): in private chats a
        bot may delete the person's messages as well as its own, within 48 hours (Bot API
        `deleteMessage`), which matters when someone else may read the person's phone.
        """
        try:
            chat_id = int(recipient_id)
        except ValueError:
            return 0
        deleted = 0
        for raw in message_ids:
            number = _message_number(raw, chat_id)
            if number is None:
                continue
            try:
                if await self._bot.delete_message(chat_id=chat_id, message_id=number):
                    deleted += 1
            except TelegramError:
                continue  # too old, already gone: nothing the caller can do about it
        log.info("telegram delete: %d of %d messages deleted", deleted, len(message_ids))
        return deleted


# -- receive: update → InboundMessage ---------------------------------------------------------


def send_request() -> HTTPXRequest:
    """python-telegram-bot's request object on aiohttp's pool (bot/channels/http.py), as large
    as the pool PTB's Application gives itself. aiohttp counts waiting for a free connection
    and opening one as one timeout: it gets the connect timeout, not PTB's 1 s pool wait, so a
    slow network opening a connection is not cut shorter than before."""
    return HTTPXRequest(
        connection_pool_size=SEND_POOL,
        pool_timeout=SEND_CONNECT_TIMEOUT,
        connect_timeout=SEND_CONNECT_TIMEOUT,
        httpx_kwargs={"transport": platform_transport(SEND_POOL)},
    )


def inbound_from_update(update: Update) -> InboundMessage | None:
    # Debug, not info: the access log already has a line for every webhook request.
    log.debug("telegram update %d received (%s)", update.update_id, _update_kind(update))
    try:
        if update.callback_query is not None:
            return _from_callback_query(update)
        if update.message is not None:
            return _from_message(update.update_id, update.message)
    except (TypeError, ValueError) as exc:
        raise MalformedUpdate(f"unreadable update ({type(exc).__name__})") from None
    # Edited messages are ignored: the original was already handled, and a changed tip arrives
    # as a new message. Channel posts and membership changes are not for this bot.
    return None


def _read_update(data: Mapping[str, Any], bot: Bot) -> Update:
    update_id = data.get("update_id")
    if type(update_id) is not int:
        raise MalformedUpdate("update_id is missing or not an integer")
    try:
        update = Update.de_json(dict(data), bot)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise MalformedUpdate(f"not a Telegram update ({type(exc).__name__})") from None
    return update


def _from_message(update_id: int, message: Message) -> InboundMessage | None:
    if not _is_private(message.chat, update_id):
        return None
    chat_id, number = message.chat.id, message.message_id
    if type(chat_id) is not int or type(number) is not int:
        raise MalformedUpdate("chat.id and message_id must be integers")
    sender_id = str(chat_id)
    # Update ids restart at random after a week without updates (docs/platforms.md 1.3); a message
    # id is unique within its chat for good.
    message_id = f"{chat_id}:{number}"
    if message.location is not None:
        location = (float(message.location.latitude), float(message.location.longitude))
        return InboundMessage(CHANNEL, sender_id, message_id, location=location)
    if message.contact is not None:
        return _from_contact(sender_id, message_id, message)
    # A photo's caption is the words of a tip; the photo itself is not carried (yet).
    text = message.text if message.text is not None else message.caption
    if text is None:
        kind = _media_kind(message)
        if kind is None:
            log.info("telegram update %d ignored: nothing the bot can read", update_id)
            return None
        return InboundMessage(CHANNEL, sender_id, message_id, attachment=kind)
    return InboundMessage(CHANNEL, sender_id, message_id, text=text)


def _media_kind(message: Message) -> str | None:
    if message.photo:
        return "photo"
    if message.voice is not None or message.audio is not None:
        return "voice"
    if message.video is not None or message.video_note is not None:
        return "video"
    if message.sticker is not None:
        return "sticker"
    if message.document is not None:
        return "file"
    return None


def _from_contact(sender_id: str, message_id: str, message: Message) -> InboundMessage | None:
    contact = message.contact
    assert contact is not None
    phone = to_e164(contact.phone_number)
    sender = message.from_user
    if sender is not None and contact.user_id == sender.id:
        # The person shared their own account's number (a request_contact button): Telegram
        # vouches for it.
        return InboundMessage(CHANNEL, sender_id, message_id, phone=phone)
    # Someone else's contact card, typed into an address book: not vouched for, but a number in
    # a tip (a broker's, a relative's) matters, so it travels as text the NLU reads.
    if phone is None:
        return None
    return InboundMessage(CHANNEL, sender_id, message_id, text=phone)


def _from_callback_query(update: Update) -> InboundMessage | None:
    query = update.callback_query
    assert query is not None
    # No data: a game button. No message: an inline-mode message, with no chat to answer in.
    if query.data is None or query.message is None:
        return None
    if not _is_private(query.message.chat, update.update_id):
        return None
    # The callback id is unique per press and repeated on every redelivery of that press.
    return InboundMessage(
        CHANNEL, str(query.message.chat.id), f"callback:{query.id}", text=query.data
    )


def _is_private(chat: Chat, update_id: int) -> bool:
    if chat.type == Chat.PRIVATE:
        return True
    # Tips name people; they are only taken one to one, never in a group others read.
    log.info("telegram update %d ignored: %s chat", update_id, chat.type)
    return False


def _update_kind(update: Update) -> str:
    for kind in Update.ALL_TYPES:
        if getattr(update, kind, None) is not None:
            return kind
    return "unknown"


# -- send helpers ------------------------------------------------------------------------------


def _reply_markup(quick_replies: tuple[str, ...]) -> ReplyKeyboardMarkup | ReplyKeyboardRemove:
    if not quick_replies:
        # Otherwise the last question's buttons stay under a reply that asks nothing.
        return ReplyKeyboardRemove()
    # One button per row: Vietnamese labels are long and must stay readable on small phones.
    return ReplyKeyboardMarkup(
        [[KeyboardButton(label)] for label in quick_replies],
        one_time_keyboard=True,
        resize_keyboard=True,
    )


def delivery_error(exc: TelegramError) -> DeliveryError:
    """The channel-neutral error for a failed Bot API call."""
    name = type(exc).__name__
    if isinstance(exc, Forbidden):
        # Blocked by the user, or the account is deactivated: retrying cannot help.
        return DeliveryError(f"telegram {name}: {exc.message}", permanent=True)
    if isinstance(exc, RetryAfter):
        return DeliveryError(f"telegram {name}", retry_after=_retry_after_seconds(exc))
    if isinstance(exc, BadRequest):
        # Chat not found, text rejected: the same request fails the same way every time.
        # (BadRequest subclasses NetworkError in PTB, so it must be tested first.)
        return DeliveryError(f"telegram {name}: {exc.message}", permanent=True)
    if isinstance(exc, ChatMigrated):
        return DeliveryError(f"telegram {name}", permanent=True)
    if isinstance(exc, NetworkError):  # includes TimedOut
        return DeliveryError(f"telegram {name}", permanent=False)
    # InvalidToken and the rest are the bot's own problem, not the recipient's: keep the
    # message for a retry once the configuration is fixed.
    return DeliveryError(f"telegram {name}", permanent=False)


def _retry_after_seconds(exc: RetryAfter) -> float:
    # PTB 22.2+ warns that `retry_after` becomes a timedelta; accept either shape quietly.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PTBDeprecationWarning)
        value: int | float | timedelta = exc.retry_after
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


def _message_number(raw: str, chat_id: int) -> int | None:
    chat, sep, number = raw.rpartition(":")
    if sep and chat != str(chat_id):
        return None  # an inbound id from another chat
    try:
        return int(number)
    except ValueError:
        return None


# -- webhook helpers ---------------------------------------------------------------------------


def _bad_request(detail: str) -> JSONResponse:
    return JSONResponse({"detail": detail}, status_code=400)


def _log_handler_failure(exc: BaseException, what: str) -> None:
    # The stack without the exception's message: database errors quote the row they failed on,
    # and that row holds a person's words.
    stack = "".join(traceback.format_tb(exc.__traceback__))
    log.error("telegram %s not stored: %s\n%s", what, type(exc).__name__, stack)


async def _unless_stopped(work: Awaitable[_T], stop_event: asyncio.Event) -> _T | None:
    """The result of `work`, or None (with `work` cancelled) if `stop_event` is set first."""
    task = asyncio.ensure_future(work)
    stopper = asyncio.ensure_future(stop_event.wait())
    try:
        done, _ = await asyncio.wait({task, stopper}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopper.cancel()
        if not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, TelegramError):
                await task
    if task in done:
        return task.result()
    return None


async def _sleep_unless_stopped(seconds: float, stop_event: asyncio.Event) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop_event.wait(), timeout=seconds)
