"""The Zalo OA channel against a fake of Zalo's HTTP APIs on 127.0.0.1 (no internet)."""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import time
import unicodedata
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from bot.channels.text import split_text
from bot.channels.zalo.channel import MAX_TEXT_UNITS, ZaloChannel
from bot.config import BotSettings
from bot.contract import DeliveryError, InboundMessage, OutboundText
from tests.bot.channels.fake_zalo import FakeZalo, Reply
from tests.bot.nlu.fake_rasa import closed_port_url

APP_ID = "app-1"
APP_SECRET = "app-secret"
OA_SECRET = "oa-secret-key"
USER_ID = "246845883529197922"
NOW = datetime(2025, 6, 1, 8, 0, tzinfo=UTC)

ACCENTED = "Cần giúp đỡ gấp! Em bị giữ ở Campuchia, số 0912 345 678"
UNACCENTED = "can giup do gap, em bi giu o campuchia"


def settings(openapi_base: str = "http://unused", oauth_base: str = "http://unused") -> BotSettings:
    return BotSettings(
        zalo_app_id=APP_ID,
        zalo_app_secret=APP_SECRET,
        zalo_oa_secret_key=OA_SECRET,
        zalo_access_token="access-0",
        zalo_refresh_token="refresh-0",
        zalo_openapi_base=openapi_base,
        zalo_oauth_base=oauth_base,
    )


# --------------------------------------------------------------------------------------------
# Inbound: the webhook


class RecordingHandler:
    """Stands in for the inbox: remembers each message, optionally fails like a real store."""

    def __init__(self, error: Exception | None = None) -> None:
        self.messages: list[InboundMessage] = []
        self.error = error

    async def __call__(self, inbound: InboundMessage) -> bool:
        self.messages.append(inbound)
        if self.error is not None:
            raise self.error
        return True


def text_event(text: str, msg_id: str = "96d3cdf3af150460909", **extra: Any) -> dict[str, Any]:
    return {
        "app_id": APP_ID,
        "user_id_by_app": "552177279717587730",
        "event_name": "user_send_text",
        "sender": {"id": USER_ID},
        "recipient": {"id": "388613280878808645"},
        "message": {"text": text, "msg_id": msg_id},
        "timestamp": str(int(time.time() * 1000)),
        **extra,
    }


def sign(raw: bytes, timestamp: str, secret: str = OA_SECRET) -> str:
    """The MAC as docs/platforms.md 2.4 states it, computed independently of the code."""
    return hashlib.sha256(f"{APP_ID}{raw.decode()}{timestamp}{secret}".encode()).hexdigest()


def signed(event: dict[str, Any], **dumps: Any) -> tuple[bytes, dict[str, str]]:
    raw = json.dumps(event, ensure_ascii=False, **dumps).encode()
    headers = {
        "Content-Type": "application/json",
        "X-ZEvent-Signature": f"mac={sign(raw, event['timestamp'])}",
    }
    return raw, headers


@pytest.fixture
def handler() -> RecordingHandler:
    return RecordingHandler()


def client_for(handler: RecordingHandler) -> httpx.AsyncClient:
    app = FastAPI()
    app.include_router(ZaloChannel(settings()).router(handler))
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver")


@pytest.fixture
async def webhook(handler: RecordingHandler) -> AsyncIterator[httpx.AsyncClient]:
    async with client_for(handler) as client:
        yield client


async def post(client: httpx.AsyncClient, raw: bytes, headers: dict[str, str]) -> httpx.Response:
    return await client.post("/zalo/webhook", content=raw, headers=headers)


@pytest.mark.parametrize(
    "text",
    [ACCENTED, UNACCENTED, unicodedata.normalize("NFD", ACCENTED)],
    ids=["accented", "unaccented", "decomposed"],
)
async def test_signed_text_reaches_handler_with_text_exactly_as_sent(
    webhook: httpx.AsyncClient, handler: RecordingHandler, text: str
) -> None:
    raw, headers = signed(text_event(text))

    response = await post(webhook, raw, headers)

    assert response.status_code == 200
    assert response.json() == {"ok": True}
    [inbound] = handler.messages
    assert inbound.channel == "zalo"
    assert inbound.sender_id == USER_ID
    assert inbound.message_id == "96d3cdf3af150460909"
    assert inbound.text == text


async def test_signature_is_checked_over_raw_bytes_not_reserialized_json(
    webhook: httpx.AsyncClient, handler: RecordingHandler
) -> None:
    # Zalo's spacing differs from json.dumps defaults; re-serializing would break the MAC.
    raw, headers = signed(text_event(ACCENTED), indent=2)

    response = await post(webhook, raw, headers)

    assert response.status_code == 200
    assert handler.messages[0].text == ACCENTED


@pytest.mark.parametrize(
    "form",
    ["{mac}", "MAC={upper}", " mac= {mac} ", "mac={upper}"],
    ids=["bare", "upper", "spaces", "upper-hex"],
)
async def test_signature_check_tolerates_prefix_case_and_whitespace(
    webhook: httpx.AsyncClient, handler: RecordingHandler, form: str
) -> None:
    event = text_event(UNACCENTED)
    raw, headers = signed(event)
    mac = sign(raw, event["timestamp"])
    headers["X-ZEvent-Signature"] = form.format(mac=mac, upper=mac.upper())

    response = await post(webhook, raw, headers)

    assert response.status_code == 200
    assert len(handler.messages) == 1


@pytest.mark.parametrize(
    "signature",
    [None, "", "mac=", "mac=" + "0" * 64, "not-a-mac", "mac=ünïcode"],
    ids=["missing", "empty", "prefix-only", "wrong", "garbage", "non-ascii"],
)
async def test_missing_or_wrong_signature_is_refused_and_handler_not_called(
    webhook: httpx.AsyncClient, handler: RecordingHandler, signature: str | None
) -> None:
    raw, headers = signed(text_event(ACCENTED))
    request_headers: dict[str, str | bytes] = {**headers}
    if signature is None:
        del request_headers["X-ZEvent-Signature"]
    else:
        # Latin-1 bytes: what a non-ASCII header value looks like on the wire.
        request_headers["X-ZEvent-Signature"] = signature.encode("latin-1")

    response = await webhook.post("/zalo/webhook", content=raw, headers=request_headers)

    assert response.status_code == 403
    assert "X-ZEvent-Signature" in response.json()["detail"]
    assert handler.messages == []


async def test_tampered_body_is_refused(
    webhook: httpx.AsyncClient, handler: RecordingHandler
) -> None:
    raw, headers = signed(text_event("toi can giup do"))
    tampered = raw.replace(b"toi can giup do", b"toi on, huy bao")

    response = await post(webhook, tampered, headers)

    assert response.status_code == 403
    assert handler.messages == []


async def test_signature_made_with_app_secret_instead_of_oa_secret_is_refused(
    webhook: httpx.AsyncClient, handler: RecordingHandler
) -> None:
    event = text_event(ACCENTED)
    raw, headers = signed(event)
    headers["X-ZEvent-Signature"] = "mac=" + sign(raw, event["timestamp"], secret=APP_SECRET)

    assert (await post(webhook, raw, headers)).status_code == 403
    assert handler.messages == []


async def test_rejected_signature_logs_header_format_but_no_secret_or_personal_data(
    webhook: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    event = text_event(ACCENTED)
    raw, headers = signed(event)
    bad = "mac=" + sign(raw, event["timestamp"], secret="wrong")
    headers["X-ZEvent-Signature"] = bad

    with caplog.at_level(logging.DEBUG):
        await post(webhook, raw, headers)

    assert "mac= prefix, 64 chars, hex lowercase" in caplog.text
    for secret in (bad[4:], OA_SECRET, ACCENTED, USER_ID):
        assert secret not in caplog.text


@pytest.mark.parametrize(
    "raw",
    [b"{not json", b"\xff\xfe\x00", b"[1, 2]", b'"text"', b'{"event_name": "user_send_text"}'],
    ids=["broken", "not-utf8", "array", "string", "no-timestamp"],
)
async def test_malformed_body_is_400_and_handler_not_called(
    webhook: httpx.AsyncClient, handler: RecordingHandler, raw: bytes
) -> None:
    # Any signature: the body is refused before there is a timestamp to check it with.
    headers = {"X-ZEvent-Signature": "mac=" + "0" * 64}

    response = await post(webhook, raw, headers)

    assert response.status_code == 400
    assert handler.messages == []


@pytest.mark.parametrize(
    "change",
    [
        {"sender": None},
        {"sender": {}},
        {"message": {"text": "xin chao"}},
        {"message": {"msg_id": "m1"}},
        {"message": "xin chao"},
        {"event_name": None},
    ],
    ids=["no-sender", "no-sender-id", "no-msg-id", "no-text", "message-not-object", "no-event"],
)
async def test_signed_event_missing_fields_is_400(
    webhook: httpx.AsyncClient, handler: RecordingHandler, change: dict[str, Any]
) -> None:
    event = {k: v for k, v in {**text_event("xin chao"), **change}.items() if v is not None}
    raw, headers = signed(event)

    response = await post(webhook, raw, headers)

    assert response.status_code == 400
    assert handler.messages == []


@pytest.mark.parametrize(
    "event",
    [
        {
            "event_name": "follow",
            "app_id": APP_ID,
            "oa_id": "388613280878808645",
            "follower": {"id": USER_ID},
            "source": "oa_profile",
            "user_id_by_app": "552177279717587730",
        },
        {"event_name": "unfollow", "app_id": APP_ID, "follower": {"id": USER_ID}},
        {
            "event_name": "oa_send_text",
            "app_id": APP_ID,
            "sender": {"id": "388613280878808645"},
            "recipient": {"id": USER_ID},
            "message": {"text": "Chào bạn", "msg_id": "oa-1"},
        },
        {
            "event_name": "user_seen_message",
            "app_id": APP_ID,
            "sender": {"id": USER_ID},
            "message": {"msg_ids": ["oa-1"]},
        },
        {"event_name": "some_future_event", "app_id": APP_ID},
    ],
    ids=["follow", "unfollow", "oa-echo", "seen", "unknown"],
)
async def test_events_without_a_user_message_are_acknowledged_and_ignored(
    webhook: httpx.AsyncClient, handler: RecordingHandler, event: dict[str, Any]
) -> None:
    raw, headers = signed({**event, "timestamp": str(int(time.time() * 1000))})

    response = await post(webhook, raw, headers)

    assert response.status_code == 200
    assert response.json() == {"ok": True}
    assert handler.messages == []


@pytest.mark.parametrize(
    "payload",
    [
        {"coordinates": {"latitude": "10.7923119", "longitude": "106.7820651"}},
        {"coordinates": {"lat": "10.7923119", "long": "106.7820651"}},
        {"coordinates": {"latitude": 10.7923119, "longitude": 106.7820651}},
    ],
    ids=["strings", "lat-long", "numbers"],
)
async def test_location_is_parsed_from_attachment_coordinates(
    webhook: httpx.AsyncClient, handler: RecordingHandler, payload: dict[str, Any]
) -> None:
    event = text_event("")
    event["event_name"] = "user_send_location"
    event["message"] = {
        "msg_id": "loc-1",
        "text": "Bến xe Miền Đông",
        "attachments": [{"type": "location", "payload": payload}],
    }
    raw, headers = signed(event)

    response = await post(webhook, raw, headers)

    assert response.status_code == 200
    [inbound] = handler.messages
    assert inbound.location == pytest.approx((10.7923119, 106.7820651))
    assert inbound.text == "Bến xe Miền Đông"
    assert inbound.message_id == "loc-1"


@pytest.mark.parametrize(
    "coordinates",
    [{"latitude": "abc", "longitude": "106.7"}, {"latitude": "95", "longitude": "106.7"}, {}],
    ids=["not-number", "out-of-range", "missing"],
)
async def test_location_with_bad_coordinates_is_400(
    webhook: httpx.AsyncClient, handler: RecordingHandler, coordinates: dict[str, Any]
) -> None:
    event = text_event("")
    event["event_name"] = "user_send_location"
    event["message"] = {
        "msg_id": "loc-1",
        "attachments": [{"type": "location", "payload": {"coordinates": coordinates}}],
    }
    raw, headers = signed(event)

    assert (await post(webhook, raw, headers)).status_code == 400
    assert handler.messages == []


async def test_image_caption_becomes_the_text_and_bare_image_is_passed_on_as_media(
    webhook: httpx.AsyncClient, handler: RecordingHandler
) -> None:
    image = {"type": "image", "payload": {"thumbnail": "https://t/x", "url": "https://u/x"}}
    for msg_id, text in (("img-1", "Đây là hợp đồng họ bắt em ký"), ("img-2", None)):
        event = text_event("")
        event["event_name"] = "user_send_image"
        event["message"] = {"msg_id": msg_id, "attachments": [image]}
        if text is not None:
            event["message"]["text"] = text
        raw, headers = signed(event)
        assert (await post(webhook, raw, headers)).status_code == 200

    captioned, bare = handler.messages
    assert captioned.message_id == "img-1"
    assert captioned.text == "Đây là hợp đồng họ bắt em ký" and captioned.attachment is None
    assert bare.message_id == "img-2" and bare.text is None and bare.attachment == "photo"


@pytest.mark.parametrize(
    ("event_name", "kind"),
    [("user_send_sticker", "sticker"), ("user_send_audio", "voice"), ("user_send_file", "file")],
)
async def test_media_the_bot_cannot_read_is_passed_on_by_kind(
    webhook: httpx.AsyncClient, handler: RecordingHandler, event_name: str, kind: str
) -> None:
    event = text_event("")
    event["event_name"] = event_name
    event["message"] = {"msg_id": "media-1", "attachments": [{"type": kind, "payload": {}}]}
    raw, headers = signed(event)
    assert (await post(webhook, raw, headers)).status_code == 200
    [inbound] = handler.messages
    assert inbound.attachment == kind and inbound.text is None


async def test_same_msg_id_delivered_three_times_keeps_the_same_message_id(
    webhook: httpx.AsyncClient, handler: RecordingHandler
) -> None:
    raw, headers = signed(text_event(ACCENTED, msg_id="dup-42"))

    for attempt in range(3):
        response = await post(webhook, raw, {**headers, "num_retry": str(attempt)})
        assert response.status_code == 200

    assert [m.message_id for m in handler.messages] == ["dup-42"] * 3


async def test_handler_failure_is_not_acknowledged_and_not_logged_with_its_text(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # The exception quotes the message, as careless code might; it must stay out of the log.
    handler = RecordingHandler(error=RuntimeError(f"could not store {ACCENTED}"))
    raw, headers = signed(text_event(ACCENTED))

    async with client_for(handler) as client:
        response = await post(client, raw, headers)

    assert response.status_code == 503
    assert "RuntimeError" in caplog.text
    assert ACCENTED not in caplog.text


async def test_webhook_answers_well_within_zalos_two_seconds(webhook: httpx.AsyncClient) -> None:
    raw, headers = signed(text_event(ACCENTED))

    started = time.perf_counter()
    response = await post(webhook, raw, headers)
    elapsed = time.perf_counter() - started

    assert response.status_code == 200
    assert elapsed < 0.5


async def test_channel_serves_the_same_webhook_for_its_oa(handler: RecordingHandler) -> None:
    app = FastAPI()
    async with ZaloChannel(settings()) as zalo:
        app.include_router(zalo.router(handler))
    raw, headers = signed(text_event(UNACCENTED))

    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        assert (await post(client, raw, headers)).status_code == 200
    assert handler.messages[0].text == UNACCENTED


def test_router_refuses_to_run_without_the_oa_secret_key(handler: RecordingHandler) -> None:
    with pytest.raises(ValueError, match="OA_SECRET_KEY"):
        ZaloChannel(settings().model_copy(update={"zalo_oa_secret_key": None})).router(handler)


# --------------------------------------------------------------------------------------------
# Outbound: sending and the token pair


class Clock:
    def __init__(self, now: datetime = NOW) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def fake() -> Iterator[FakeZalo]:
    server = FakeZalo(app_id=APP_ID, app_secret=APP_SECRET).start()
    yield server
    server.stop()


@pytest.fixture
def saved() -> list[tuple[str, str, datetime]]:
    return []


@pytest.fixture
async def channel(
    fake: FakeZalo, saved: list[tuple[str, str, datetime]]
) -> AsyncIterator[ZaloChannel]:
    def save(access: str, refresh: str, expires_at: datetime) -> None:
        saved.append((access, refresh, expires_at))

    async with ZaloChannel(
        settings(fake.url, fake.url), save=save, clock=Clock(), timeout=2.0
    ) as zalo:
        yield zalo


def reply(text: str, reply_to: str | None = None) -> OutboundText:
    return OutboundText(channel="zalo", recipient_id=USER_ID, text=text, reply_to=reply_to)


async def test_send_posts_cs_message_with_access_token_header_and_returns_its_id(
    channel: ZaloChannel, fake: FakeZalo
) -> None:
    message_id = await channel.send(reply(ACCENTED))

    assert message_id == "oa-msg-1"
    [request] = fake.sends()
    assert request.headers["access_token"] == "access-0"
    assert "authorization" not in request.headers
    assert request.json == {"recipient": {"user_id": USER_ID}, "message": {"text": ACCENTED}}


async def test_reply_to_is_sent_as_recipient_message_id_so_zalo_counts_a_free_reply(
    channel: ZaloChannel, fake: FakeZalo
) -> None:
    await channel.send(reply("Chúng tôi đã nhận tin", reply_to="96d3cdf3af150460909"))

    assert fake.sends()[0].json["recipient"] == {"message_id": "96d3cdf3af150460909"}


async def test_expired_token_is_refreshed_once_and_the_send_retried(
    channel: ZaloChannel, fake: FakeZalo, saved: list[tuple[str, str, datetime]]
) -> None:
    fake.script_send(Reply(body={"error": -216, "message": "Access token is invalid"}))

    message_id = await channel.send(reply(ACCENTED))

    assert message_id == "oa-msg-1"
    assert [r.headers["access_token"] for r in fake.sends()] == ["access-0", "access-1"]
    [refresh] = fake.refreshes()
    assert refresh.headers["secret_key"] == APP_SECRET
    assert refresh.form == {
        "refresh_token": "refresh-0",
        "app_id": APP_ID,
        "grant_type": "refresh_token",
    }
    # `expires_in` came as the string "90000".
    assert saved == [("access-1", "refresh-1", NOW + timedelta(seconds=90000))]


async def test_new_refresh_token_is_used_next_time_and_the_old_one_never_again(
    channel: ZaloChannel, fake: FakeZalo, saved: list[tuple[str, str, datetime]]
) -> None:
    fake.script_send(Reply(body={"error": -216}))
    await channel.send(reply("một"))
    fake.access_tokens.clear()  # every token issued so far has now expired

    await channel.send(reply("hai"))

    used = [r.form["refresh_token"] for r in fake.refreshes()]
    assert used == ["refresh-0", "refresh-1"]
    assert [pair[:2] for pair in saved] == [("access-1", "refresh-1"), ("access-2", "refresh-2")]
    assert fake.sends()[-1].headers["access_token"] == "access-2"


async def test_http_401_also_triggers_one_refresh(channel: ZaloChannel, fake: FakeZalo) -> None:
    fake.script_send(Reply(status=401, body={"message": "Unauthorized"}))

    assert await channel.send(reply("xin chào")) == "oa-msg-1"
    assert len(fake.refreshes()) == 1


async def test_token_rejected_again_after_refresh_is_a_transient_failure_without_more_refreshes(
    channel: ZaloChannel, fake: FakeZalo
) -> None:
    fake.script_send(Reply(body={"error": -216}), Reply(body={"error": -216}))

    with pytest.raises(DeliveryError) as failure:
        await channel.send(reply("xin chào"))

    assert failure.value.permanent is False
    assert len(fake.refreshes()) == 1
    assert len(fake.sends()) == 2


async def test_concurrent_token_failures_spend_one_refresh_token(
    channel: ZaloChannel, fake: FakeZalo, saved: list[tuple[str, str, datetime]]
) -> None:
    fake.access_tokens.clear()

    ids = await asyncio.gather(*(channel.send(reply(f"tin {n}")) for n in range(5)))

    assert len(set(ids)) == 5
    assert len(fake.refreshes()) == 1
    assert len(saved) == 1


async def test_reused_refresh_token_fails_with_14020_as_a_transient_delivery_error(
    fake: FakeZalo, channel: ZaloChannel
) -> None:
    # A second process that still holds the configured pair after the first one refreshed.
    fake.script_send(Reply(body={"error": -216}))
    await channel.send(reply("một"))
    fake.access_tokens.discard("access-0")

    async with ZaloChannel(settings(fake.url, fake.url), timeout=2.0) as stale_process:
        with pytest.raises(DeliveryError) as failure:
            await stale_process.send(reply("hai"))

    assert "-14020" in str(failure.value)
    # Not permanent: after an admin re-authorizes the app the reply can still go out.
    assert failure.value.permanent is False


async def test_second_process_adopts_the_stored_pair_instead_of_reusing_a_dead_token(
    fake: FakeZalo, channel: ZaloChannel, saved: list[tuple[str, str, datetime]]
) -> None:
    fake.script_send(Reply(body={"error": -216}))
    await channel.send(reply("một"))
    fake.access_tokens.discard("access-0")

    async with ZaloChannel(
        settings(fake.url, fake.url), load=lambda: saved[-1], timeout=2.0
    ) as other_process:
        assert await other_process.send(reply("hai"))

    assert [r.form["refresh_token"] for r in fake.refreshes()] == ["refresh-0"]
    assert fake.sends()[-1].headers["access_token"] == "access-1"


async def test_token_near_expiry_is_refreshed_before_sending(
    fake: FakeZalo, saved: list[tuple[str, str, datetime]]
) -> None:
    clock = Clock()
    async with ZaloChannel(
        settings(fake.url, fake.url),
        tokens=("access-0", "refresh-0", NOW + timedelta(hours=2)),
        save=lambda *pair: saved.append(pair),
        clock=clock,
        timeout=2.0,
    ) as zalo:
        await zalo.send(reply("một"))
        assert fake.refreshes() == []

        clock.now = NOW + timedelta(hours=1, minutes=50)
        await zalo.send(reply("hai"))

    assert len(fake.refreshes()) == 1
    assert [r.headers["access_token"] for r in fake.sends()] == ["access-0", "access-1"]
    assert saved[0][2] == clock.now + timedelta(seconds=90000)


async def test_long_text_is_split_into_messages_zalo_accepts(
    channel: ZaloChannel, fake: FakeZalo
) -> None:
    words = ["Quyền", "của", "bạn:", "không", "ai", "được", "giữ", "hộ", "chiếu", "của", "bạn."]
    text = " ".join(words[i % len(words)] for i in range(1000))
    assert len(text) > 4000

    await channel.send(reply(text, reply_to="in-1"))

    chunks = [r.json["message"]["text"] for r in fake.sends()]
    assert len(chunks) == 3
    assert all(len(chunk) <= 2000 for chunk in chunks)
    assert " ".join(chunks) == text
    assert all(r.json["recipient"] == {"message_id": "in-1"} for r in fake.sends())


def test_split_never_separates_a_letter_from_its_combining_diacritic() -> None:
    text = unicodedata.normalize("NFD", "ệ" * 1500)  # 4500 code points, no spaces

    chunks = split_text(text, MAX_TEXT_UNITS)

    assert "".join(chunks) == text
    assert all(len(chunk) <= 2000 for chunk in chunks)
    assert not any(unicodedata.combining(chunk[0]) for chunk in chunks)


def test_split_counts_emoji_as_two_units_and_prefers_paragraph_breaks() -> None:
    assert [len(c) for c in split_text("😀" * 1500, MAX_TEXT_UNITS)] == [1000, 500]
    paragraphs = ["a" * 1200, "b" * 1200]
    assert split_text("\n\n".join(paragraphs), MAX_TEXT_UNITS) == paragraphs
    assert split_text("  \n ", MAX_TEXT_UNITS) == []


@pytest.mark.parametrize(
    ("code", "permanent"),
    [(-230, True), (-213, True), (-244, True), (-32, False), (-211, False), (-999, False)],
)
async def test_zalo_errors_become_delivery_errors_permanent_only_when_retrying_cannot_help(
    channel: ZaloChannel, fake: FakeZalo, code: int, permanent: bool
) -> None:
    fake.script_send(Reply(body={"error": code, "message": "nope"}))

    with pytest.raises(DeliveryError) as failure:
        await channel.send(reply("xin chào"))

    assert failure.value.permanent is permanent
    assert fake.refreshes() == []


async def test_unreachable_zalo_is_a_transient_delivery_error() -> None:
    async with ZaloChannel(settings(closed_port_url(), closed_port_url()), timeout=1.0) as zalo:
        with pytest.raises(DeliveryError) as failure:
            await zalo.send(reply("xin chào"))

    assert failure.value.permanent is False


async def test_delete_is_not_offered_by_the_oa_api(channel: ZaloChannel, fake: FakeZalo) -> None:
    assert await channel.delete(USER_ID, ["oa-msg-1"]) == 0
    assert fake.requests == []


async def test_nothing_secret_or_personal_is_logged_while_sending(
    channel: ZaloChannel, fake: FakeZalo, caplog: pytest.LogCaptureFixture
) -> None:
    fake.script_send(Reply(body={"error": -216}), Reply(body={"error": -230}))

    with caplog.at_level(logging.DEBUG), pytest.raises(DeliveryError):
        await channel.send(reply(ACCENTED))

    for secret in ("access-0", "access-1", "refresh-0", "refresh-1", APP_SECRET, USER_ID, ACCENTED):
        assert secret not in caplog.text
    assert "error -230" in caplog.text


async def test_a_deeply_nested_body_is_a_400_whatever_its_signature() -> None:
    handler = RecordingHandler()
    raw = b'{"a":' * 5_000 + b"1" + b"}" * 5_000  # under the size limit, past recursion
    async with client_for(handler) as client:
        response = await post(client, raw, {"X-ZEvent-Signature": "mac=anything"})
    assert response.status_code == 400
    assert handler.messages == []


async def test_a_signed_event_older_than_the_freshness_window_is_refused() -> None:
    handler = RecordingHandler()
    event = text_event(ACCENTED)
    event["timestamp"] = "1577836800000"  # 2020-01-01, signed with the right key
    raw, headers = signed(event)
    async with client_for(handler) as client:
        response = await post(client, raw, headers)
    assert response.status_code == 400
    assert handler.messages == []


async def test_a_signed_event_whose_timestamp_is_not_a_number_is_refused_saying_so() -> None:
    handler = RecordingHandler()
    event = text_event(ACCENTED)
    event["timestamp"] = "soon"
    raw, headers = signed(event)
    async with client_for(handler) as client:
        response = await post(client, raw, headers)
    assert response.status_code == 400
    assert response.json()["detail"] == "timestamp is not a number of milliseconds since the epoch"
    assert handler.messages == []


async def test_a_nul_in_the_message_id_is_refused_before_it_is_stored() -> None:
    handler = RecordingHandler()
    raw, headers = signed(text_event(ACCENTED, msg_id="abc\u0000def"))
    async with client_for(handler) as client:
        response = await post(client, raw, headers)
    assert response.status_code == 400
    assert handler.messages == []
