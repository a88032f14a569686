"""The Telegram adapter, driving the real python-telegram-bot against a fake Bot API."""

from __future__ import annotations

import asyncio
import json
import logging
import unicodedata
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from telegram import Update
from telegram.ext import Application
from telegram.request import HTTPXRequest

from bot.channels.telegram.channel import (
    MAX_TEXT_UTF16,
    SECRET_HEADER,
    WEBHOOK_PATH,
    TelegramChannel,
    inbound_from_update,
    send_request,
)
from bot.channels.text import split_text
from bot.config import BotSettings
from bot.contract import DeliveryError, InboundMessage, OutboundText
from tests.bot.channels.fake_telegram import TOKEN, FakeTelegram, text_update

SECRET = "s3cret_Token-for-tests"
CHAT_ID = 555_001


class RecordingHandler:
    """Stands in for the inbox: remembers every message, reports repeats as duplicates."""

    def __init__(self, error: Exception | None = None) -> None:
        self.messages: list[InboundMessage] = []
        self.error = error

    async def __call__(self, message: InboundMessage) -> bool:
        if self.error is not None:
            raise self.error
        new = all(m.message_id != message.message_id for m in self.messages)
        self.messages.append(message)
        return new


@pytest.fixture
def fake() -> Iterator[FakeTelegram]:
    server = FakeTelegram().start()
    yield server
    server.stop()


def settings_for(fake: FakeTelegram, secret: str | None = SECRET) -> BotSettings:
    return BotSettings(
        telegram_token=TOKEN,
        telegram_webhook_secret=secret,
        telegram_api_base=fake.base_url,
    )


def channel_for(fake: FakeTelegram, secret: str | None = SECRET) -> TelegramChannel:
    """The adapter with the application the default builder makes: the sends on the
    adapter's own request object, polling on a cheap HTTP client (certificate loading costs
    ~30 ms per client and the fake speaks plain HTTP on 127.0.0.1);
    `test_start_registers_the_webhook_with_the_secret` covers the adapter's own builder."""
    settings = settings_for(fake, secret)
    assert settings.telegram_token is not None
    application = (
        Application.builder()
        .token(settings.telegram_token)
        .base_url(settings.telegram_api_base)
        .updater(None)
        .request(send_request())
        .get_updates_request(HTTPXRequest(httpx_kwargs={"verify": False}))
        .build()
    )
    return TelegramChannel(settings, application=application)


@pytest.fixture
async def channel(fake: FakeTelegram) -> AsyncIterator[TelegramChannel]:
    tg = channel_for(fake)
    await tg.start()
    yield tg
    await tg.stop()


@pytest.fixture
def handler() -> RecordingHandler:
    return RecordingHandler()


@pytest.fixture
async def client(
    channel: TelegramChannel, handler: RecordingHandler
) -> AsyncIterator[httpx.AsyncClient]:
    app = FastAPI()
    app.include_router(channel.router(handler))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield http


async def post_update(
    client: httpx.AsyncClient, update: Any, secret: str | None = SECRET
) -> httpx.Response:
    headers = {SECRET_HEADER: secret} if secret is not None else {}
    return await client.post(WEBHOOK_PATH, json=update, headers=headers)


# -- webhook: authenticity --------------------------------------------------------------------


@pytest.mark.parametrize("secret", [None, "", "wrong", SECRET + "x", SECRET.upper()])
async def test_webhook_refuses_missing_or_wrong_secret_without_calling_handler(
    client: httpx.AsyncClient,
    handler: RecordingHandler,
    secret: str | None,
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.WARNING, logger="bot.channels.telegram.channel"):
        response = await post_update(client, text_update(1, "xin chào"), secret=secret)

    assert response.status_code == 403
    assert handler.messages == []
    assert "telegram webhook refused" in caplog.text


async def test_webhook_refuses_everything_when_no_secret_is_configured(
    fake: FakeTelegram, handler: RecordingHandler
) -> None:
    tg = channel_for(fake, secret=None)
    app = FastAPI()
    app.include_router(tg.router(handler))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://testserver"
    ) as http:
        response = await http.post(
            WEBHOOK_PATH, json=text_update(1, "hi"), headers={SECRET_HEADER: ""}
        )

    assert response.status_code == 403
    assert handler.messages == []


# -- webhook: messages ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "Tôi bị lừa sang Campuchia, cứu em với!",
        "toi bi lua sang campuchia cuu em voi",
        "Em ở Mộc Bài 🆘🙏🏽 👨‍👩‍👧",
        # Decomposed accents (some Android keyboards) stay decomposed: no normalising here.
        unicodedata.normalize("NFD", "Tôi bị lừa sang Campuchia"),
        "/start",
        "/xoa",
        "  hai dòng\nthứ hai  ",
    ],
)
async def test_webhook_hands_the_text_exactly_as_sent_and_answers_ok(
    client: httpx.AsyncClient, handler: RecordingHandler, text: str
) -> None:
    response = await post_update(client, text_update(10001, text, chat_id=CHAT_ID, message_id=5))

    assert response.status_code == 200
    assert response.json() == {"ok": True}
    [message] = handler.messages
    assert message.text == text
    assert message.channel == "telegram"
    assert message.sender_id == str(CHAT_ID)
    assert message.message_id == f"{CHAT_ID}:5"
    assert message.location is None and message.phone is None


async def test_webhook_redelivery_is_acknowledged_each_time_with_the_same_message_id(
    client: httpx.AsyncClient, handler: RecordingHandler
) -> None:
    update = text_update(10001, "Có người bị giữ ở Hà Giang", message_id=42)

    statuses = [(await post_update(client, update)).status_code for _ in range(3)]

    assert statuses == [200, 200, 200]
    assert len(handler.messages) == 3
    assert {m.message_id for m in handler.messages} == {f"{CHAT_ID}:42"}


async def test_message_id_survives_update_id_restart(
    client: httpx.AsyncClient, handler: RecordingHandler
) -> None:
    # After a week without updates Telegram picks a new random update_id; the message id of a
    # redelivered message must not depend on it.
    await post_update(client, text_update(10001, "tin báo", message_id=9))
    await post_update(client, text_update(987_654, "tin báo", message_id=9))

    assert handler.messages[0].message_id == handler.messages[1].message_id


@pytest.mark.parametrize(
    "body",
    [
        b"{not json",
        b"\xff\xfe\x00garbage",
        b"",
        b"[1, 2, 3]",
        b'"update"',
        b'{"message": {"text": "no update id"}}',
        b'{"update_id": "10001", "message": {}}',
        b'{"update_id": 10001, "message": {"message_id": 1, "text": "no chat"}}',
        b'{"update_id": 10001, "message": "not an object"}',
        b"[" * 100_000,
    ],
)
async def test_webhook_answers_400_with_a_reason_for_malformed_bodies(
    client: httpx.AsyncClient, handler: RecordingHandler, body: bytes
) -> None:
    response = await client.post(
        WEBHOOK_PATH,
        content=body,
        headers={SECRET_HEADER: SECRET, "Content-Type": "application/json"},
    )

    assert response.status_code == 400
    assert isinstance(response.json()["detail"], str)
    assert handler.messages == []


async def test_shared_location_arrives_as_coordinates(
    client: httpx.AsyncClient, handler: RecordingHandler
) -> None:
    update = text_update(10002, "", message_id=6)
    del update["message"]["text"]
    update["message"]["location"] = {"latitude": 10.7769, "longitude": 106.7009}

    response = await post_update(client, update)

    assert response.status_code == 200
    [message] = handler.messages
    assert message.location == (10.7769, 106.7009)
    assert message.text is None
    assert message.message_id == f"{CHAT_ID}:6"


@pytest.mark.parametrize(
    ("shared", "expected"),
    [("84912345678", "+84912345678"), ("+84 912 345 678", "+84912345678")],
)
async def test_own_contact_share_arrives_as_vouched_e164_phone(
    client: httpx.AsyncClient, handler: RecordingHandler, shared: str, expected: str
) -> None:
    update = text_update(10003, "", message_id=8)
    del update["message"]["text"]
    update["message"]["contact"] = {
        "phone_number": shared,
        "first_name": "An",
        "user_id": CHAT_ID,
    }

    response = await post_update(client, update)

    assert response.status_code == 200
    [message] = handler.messages
    assert message.phone == expected
    assert message.text is None


async def test_someone_elses_contact_card_arrives_as_text_not_as_a_vouched_phone(
    client: httpx.AsyncClient, handler: RecordingHandler
) -> None:
    update = text_update(10004, "", message_id=9)
    del update["message"]["text"]
    update["message"]["contact"] = {"phone_number": "0987 654 321", "first_name": "Môi giới"}

    await post_update(client, update)

    [message] = handler.messages
    assert message.phone is None
    assert message.text == "+84987654321"


async def test_callback_query_passes_button_data_and_is_answered(
    client: httpx.AsyncClient, handler: RecordingHandler, fake: FakeTelegram
) -> None:
    update = {
        "update_id": 10005,
        "callback_query": {
            "id": "cbq1",
            "chat_instance": "ci",
            "data": "cat:rescue",
            "from": {"id": CHAT_ID, "is_bot": False, "first_name": "An"},
            "message": {
                "message_id": 99,
                "date": 1_700_000_000,
                "chat": {"id": CHAT_ID, "type": "private"},
                "text": "chọn",
            },
        },
    }

    response = await post_update(client, update)

    assert response.status_code == 200
    [message] = handler.messages
    assert message.text == "cat:rescue"
    assert message.sender_id == str(CHAT_ID)
    assert message.message_id == "callback:cbq1"
    [answer] = fake.calls_of("answerCallbackQuery")
    assert answer.params["callback_query_id"] == "cbq1"


@pytest.mark.parametrize("chat_type", ["group", "supergroup"])
async def test_group_chat_updates_are_acknowledged_but_ignored(
    client: httpx.AsyncClient,
    handler: RecordingHandler,
    chat_type: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    update = text_update(10006, "Nhóm: số 0912345678", chat_id=-100_123, chat_type=chat_type)

    with caplog.at_level(logging.INFO, logger="bot.channels.telegram.channel"):
        response = await post_update(client, update)

    assert response.status_code == 200
    assert handler.messages == []
    assert f"ignored: {chat_type} chat" in caplog.text


async def test_edited_message_is_ignored(
    client: httpx.AsyncClient, handler: RecordingHandler
) -> None:
    update = text_update(10007, "sửa lại")
    update["edited_message"] = update.pop("message")
    update["edited_message"]["edit_date"] = 1_700_000_100

    response = await post_update(client, update)

    assert response.status_code == 200
    assert handler.messages == []


@pytest.mark.parametrize(
    ("field", "payload", "kind"),
    [
        ("photo", [{"file_id": "p1", "file_unique_id": "u1", "width": 90, "height": 90}], "photo"),
        ("voice", {"file_id": "v1", "file_unique_id": "u2", "duration": 3}, "voice"),
        (
            "sticker",
            {
                "file_id": "s1",
                "file_unique_id": "u3",
                "width": 512,
                "height": 512,
                "is_animated": False,
                "is_video": False,
                "type": "regular",
            },
            "sticker",
        ),
    ],
)
async def test_media_without_words_is_passed_on_by_kind(
    client: httpx.AsyncClient, handler: RecordingHandler, field: str, payload: object, kind: str
) -> None:
    update = text_update(10020, "x")
    del update["message"]["text"]
    update["message"][field] = payload

    response = await post_update(client, update)

    assert response.status_code == 200
    [message] = handler.messages
    assert message.attachment == kind and message.text is None


async def test_logs_carry_update_id_and_type_but_no_text_or_chat(
    client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG, logger="bot.channels.telegram.channel"):
        await post_update(client, text_update(10008, "Nguyễn Văn A 0912345678", chat_id=777_888))

    assert "10008" in caplog.text and "message" in caplog.text
    assert "Nguyễn" not in caplog.text
    assert "0912345678" not in caplog.text
    assert "777888" not in caplog.text


async def test_storage_failure_is_not_acknowledged_and_its_message_not_logged(
    fake: FakeTelegram, caplog: pytest.LogCaptureFixture
) -> None:
    tg = channel_for(fake)
    app = FastAPI()
    failing = RecordingHandler(error=RuntimeError("INSERT failed for 'Tôi bị giữ ở Lào'"))
    app.include_router(tg.router(failing))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://testserver"
    ) as http:
        response = await post_update(http, text_update(1, "Tôi bị giữ ở Lào"))

    assert response.status_code == 503
    assert "RuntimeError" in caplog.text
    assert "Lào" not in caplog.text


def test_an_update_becomes_a_message_without_a_server(fake: FakeTelegram) -> None:
    tg = channel_for(fake)
    message = inbound_from_update(Update.de_json(text_update(5, "chào", message_id=3), tg.bot))
    assert message is not None
    assert message.sender_id == str(CHAT_ID)
    assert (message.message_id, message.text) == ("555001:3", "chào")


# -- send -------------------------------------------------------------------------------------


async def test_send_reaches_the_api_with_chat_text_and_one_time_keyboard(
    channel: TelegramChannel, fake: FakeTelegram
) -> None:
    reply = OutboundText(
        "telegram",
        str(CHAT_ID),
        "Bạn đang ở đâu? 📍",
        quick_replies=("Báo tin", "Cần giúp đỡ ngay"),
    )

    message_id = await channel.send(reply)

    [call] = fake.calls_of("sendMessage")
    assert call.params["chat_id"] == str(CHAT_ID)
    assert call.params["text"] == "Bạn đang ở đâu? 📍"
    markup = call.params["reply_markup"]
    assert markup["keyboard"] == [[{"text": "Báo tin"}], [{"text": "Cần giúp đỡ ngay"}]]
    assert markup["one_time_keyboard"] is True
    assert markup["resize_keyboard"] is True
    assert message_id is not None and message_id.isdigit()


async def test_send_without_quick_replies_removes_the_keyboard(
    channel: TelegramChannel, fake: FakeTelegram
) -> None:
    await channel.send(OutboundText("telegram", str(CHAT_ID), "Cảm ơn bạn."))

    [call] = fake.calls_of("sendMessage")
    assert call.params["reply_markup"] == {"remove_keyboard": True}


async def test_a_5000_character_reply_goes_out_as_two_messages_split_between_paragraphs(
    channel: TelegramChannel, fake: FakeTelegram
) -> None:
    first = ("Đoạn một có dấu tiếng Việt. " * 110).strip()  # about 3000 characters
    second = ("Đoạn hai, câu tiếp theo! " * 80).strip()  # about 2000 characters
    text = f"{first}\n\n{second}"
    assert len(text) > 4096

    last_id = await channel.send(
        OutboundText("telegram", str(CHAT_ID), text, quick_replies=("Có", "Không"))
    )

    calls = fake.calls_of("sendMessage")
    assert [c.params["text"] for c in calls] == [first, second]
    assert "reply_markup" not in calls[0].params
    assert calls[1].params["reply_markup"]["keyboard"] == [[{"text": "Có"}], [{"text": "Không"}]]
    assert last_id == str(fake._next_message_id)


@pytest.mark.parametrize(
    ("error_code", "description"),
    [
        (403, "Forbidden: bot was blocked by the user"),
        (403, "Forbidden: user is deactivated"),
        (400, "Bad Request: chat not found"),
    ],
)
async def test_send_to_an_unreachable_person_is_a_permanent_failure(
    channel: TelegramChannel, fake: FakeTelegram, error_code: int, description: str
) -> None:
    fake.fail("sendMessage", error_code, description)

    with pytest.raises(DeliveryError) as caught:
        await channel.send(OutboundText("telegram", str(CHAT_ID), "Xin chào"))

    assert caught.value.permanent is True


# PTB itself warns while building RetryAfter (its `retry_after` becomes a timedelta in v23).
@pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")
async def test_flood_control_is_a_temporary_failure_with_the_wait(
    channel: TelegramChannel, fake: FakeTelegram
) -> None:
    fake.fail("sendMessage", 429, "Too Many Requests: retry after 7", retry_after=7)

    with pytest.raises(DeliveryError) as caught:
        await channel.send(OutboundText("telegram", str(CHAT_ID), "Xin chào"))

    assert caught.value.permanent is False
    assert caught.value.retry_after == 7


@pytest.mark.parametrize("error_code", [500, 502])
async def test_server_errors_are_temporary_failures(
    channel: TelegramChannel, fake: FakeTelegram, error_code: int
) -> None:
    fake.fail("sendMessage", error_code, "Internal Server Error")

    with pytest.raises(DeliveryError) as caught:
        await channel.send(OutboundText("telegram", str(CHAT_ID), "Xin chào"))

    assert caught.value.permanent is False


async def test_send_to_a_non_telegram_recipient_fails_permanently_without_a_call(
    channel: TelegramChannel, fake: FakeTelegram
) -> None:
    with pytest.raises(DeliveryError) as caught:
        await channel.send(OutboundText("telegram", "web-session-1", "Xin chào"))

    assert caught.value.permanent is True
    assert fake.calls_of("sendMessage") == []


async def test_delete_removes_sent_and_inbound_messages_and_ignores_failures(
    channel: TelegramChannel, fake: FakeTelegram
) -> None:
    sent = await channel.send(OutboundText("telegram", str(CHAT_ID), "Mã hồ sơ của bạn"))
    assert sent is not None
    fake.fail("deleteMessage", 400, "Bad Request: message can't be deleted")

    deleted = await channel.delete(str(CHAT_ID), ["1", sent, f"{CHAT_ID}:5", "999:6", "not-an-id"])

    assert deleted == 2
    assert [c.params["message_id"] for c in fake.calls_of("deleteMessage")] == ["1", sent, "5"]
    assert {c.params["chat_id"] for c in fake.calls_of("deleteMessage")} == {str(CHAT_ID)}


# -- lifespan ---------------------------------------------------------------------------------


async def test_start_registers_the_webhook_with_the_secret(fake: FakeTelegram) -> None:
    tg = TelegramChannel(
        settings_for(fake), webhook_url="https://hotline.example.vn/telegram/webhook"
    )
    await tg.start()
    await tg.stop()

    assert [c.method for c in fake.calls] == ["getMe", "setWebhook"]
    [call] = fake.calls_of("setWebhook")
    assert call.params["url"] == "https://hotline.example.vn/telegram/webhook"
    assert call.params["secret_token"] == SECRET
    assert call.params["allowed_updates"] == ["message", "callback_query"]


async def test_register_webhook_refuses_without_a_valid_secret(fake: FakeTelegram) -> None:
    tg = channel_for(fake, secret="has spaces")
    with pytest.raises(ValueError, match="WEBHOOK_SECRET"):
        await tg.register_webhook("https://hotline.example.vn/telegram/webhook")
    assert fake.calls_of("setWebhook") == []


def test_missing_token_is_a_clear_configuration_error() -> None:
    with pytest.raises(ValueError, match="TELEGRAM_TOKEN"):
        TelegramChannel(BotSettings(telegram_token=None))


# -- polling ----------------------------------------------------------------------------------


async def wait_for(condition: Any, timeout: float = 2.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "condition not reached in time"
        await asyncio.sleep(0.01)


async def test_polling_processes_queued_updates_once_and_stops(
    channel: TelegramChannel, fake: FakeTelegram
) -> None:
    fake.webhook_url = "https://old.example/telegram/webhook"
    for n, text in enumerate(["một", "hai", "ba"]):
        fake.queue_update(text_update(500 + n, text, message_id=n + 1))
    fake.queue_update(text_update(503, "nhóm", chat_id=-5, chat_type="group"))
    handler = RecordingHandler()
    stop = asyncio.Event()

    task = asyncio.create_task(channel.run_polling(handler, stop, poll_timeout=1))
    await wait_for(lambda: len(handler.messages) == 3 and fake.pending_updates == [])
    stop.set()
    await asyncio.wait_for(task, timeout=2)

    assert [m.text for m in handler.messages] == ["một", "hai", "ba"]
    assert fake.webhook_url == ""
    offsets = [c.params.get("offset") for c in fake.calls_of("getUpdates")]
    assert offsets[0] is None
    assert offsets[-1] == "504"  # everything handled is confirmed before returning


async def test_polling_does_not_confirm_an_update_the_handler_failed_to_store(
    channel: TelegramChannel, fake: FakeTelegram
) -> None:
    fake.queue_update(text_update(700, "quan trọng", message_id=1))
    attempts: list[InboundMessage] = []

    async def flaky(message: InboundMessage) -> bool:
        attempts.append(message)
        if len(attempts) == 1:
            raise ConnectionError("database away")
        return True

    stop = asyncio.Event()
    task = asyncio.create_task(channel.run_polling(flaky, stop, poll_timeout=1, max_backoff=0.01))
    await wait_for(lambda: len(attempts) == 2 and fake.pending_updates == [])
    stop.set()
    await asyncio.wait_for(task, timeout=2)

    assert [m.message_id for m in attempts] == [f"{CHAT_ID}:1", f"{CHAT_ID}:1"]


async def test_polling_stops_promptly_during_a_long_poll(
    channel: TelegramChannel, fake: FakeTelegram
) -> None:
    stop = asyncio.Event()
    task = asyncio.create_task(channel.run_polling(RecordingHandler(), stop, poll_timeout=30))
    await wait_for(lambda: bool(fake.calls_of("getUpdates")))
    stop.set()
    await asyncio.wait_for(task, timeout=0.5)


# -- pure helpers -----------------------------------------------------------------------------


def test_split_text_counts_emoji_as_two_units_and_never_exceeds_the_limit() -> None:
    text = "🆘" * 3000  # 3000 characters, 6000 UTF-16 units
    parts = split_text(text, MAX_TEXT_UTF16)
    assert len(parts) == 2
    assert all(len(p.encode("utf-16-le")) // 2 <= MAX_TEXT_UTF16 for p in parts)
    assert "".join(parts) == text


def test_split_text_prefers_sentence_ends_then_words() -> None:
    text = "Câu một dài. " * 10 + "Câu hai"
    parts = split_text(text, limit=40)
    assert all(len(p) <= 40 for p in parts)
    assert all(p.endswith(".") for p in parts[:-1])
    words = split_text("từ " * 30, limit=20)
    assert all(not p.startswith(" ") and not p.endswith(" ") for p in words)
    assert " ".join(words).split() == ["từ"] * 30


def test_split_text_keeps_decomposed_accents_with_their_letter() -> None:
    text = "a" * 9 + "e\u0301" + "b" * 10  # no spaces: a hard cut right before the accent
    parts = split_text(text, limit=10)
    assert all(not p[0].isspace() and p[0] != "\u0301" for p in parts)
    assert "".join(parts) == text


@pytest.mark.parametrize("text", [12345, ["cứu"], {"a": 1}, "cứu \ud800 em", "cứu\x00em"])
async def test_an_update_whose_text_cannot_be_stored_is_refused_at_the_door_not_503(
    client: httpx.AsyncClient, handler: RecordingHandler, text: Any
) -> None:
    update = text_update(77, "placeholder")
    update["message"]["text"] = text
    response = await client.post(
        WEBHOOK_PATH,
        content=json.dumps(update, ensure_ascii=True),
        headers={SECRET_HEADER: SECRET, "Content-Type": "application/json"},
    )
    # Refused before the handler stores anything: a 503 would make Telegram resend it forever.
    assert response.status_code in (200, 400), response.text
    assert response.status_code != 503
    assert all(isinstance(m.text, str) and "\x00" not in m.text for m in handler.messages)
