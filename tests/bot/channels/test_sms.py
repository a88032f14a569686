"""The SMS adapter: Twilio's signed webhook in, the real twilio SDK out to a local fake.

Signatures are computed with the SDK's own `RequestValidator`, so a passing test means Twilio's
real algorithm was checked, not a reimplementation of it.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import time
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from twilio.request_validator import RequestValidator

from bot.channels.sms.channel import WEBHOOK_PATH, SmsChannel, webhook_router
from bot.channels.sms.segments import count_segments, encoding, length_units, strip_diacritics
from bot.config import BotSettings
from bot.contract import DeliveryError, InboundMessage, OutboundText
from tests.bot.channels.fake_twilio import FakeTwilio, twilio_error
from tests.bot.nlu.fake_rasa import closed_port_url

TOKEN = "0123456789abcdef0123456789abcdef"
ACCOUNT_SID = "AC" + "1" * 32
OUR_NUMBER = "+15005550006"
REPORTER = "+84912345678"
PUBLIC_BASE = "https://hotline.example.org"
PUBLIC_URL = PUBLIC_BASE + WEBHOOK_PATH
MESSAGE_SID = "SM" + "a" * 32
ACCENTED = "Cứu tôi với, tôi bị giữ ở Đồng Nai, không có hộ chiếu."
UNACCENTED = "cuu toi voi, toi bi giu o dong nai"


def settings(**overrides: Any) -> BotSettings:
    values: dict[str, Any] = {
        "twilio_account_sid": ACCOUNT_SID,
        "twilio_auth_token": TOKEN,
        "twilio_from_number": OUR_NUMBER,
        "public_base_url": PUBLIC_BASE,
        "sms_strip_diacritics": False,
        "twilio_api_base": None,
    }
    values.update(overrides)
    return BotSettings(**values)


def twilio_form(**overrides: str) -> dict[str, str]:
    """What Twilio posts for one inbound SMS (docs/platforms.md §3.1), with fields we ignore."""
    form = {
        "ToCountry": "US",
        "SmsMessageSid": MESSAGE_SID,
        "NumMedia": "0",
        "SmsSid": MESSAGE_SID,
        "SmsStatus": "received",
        "Body": ACCENTED,
        "To": OUR_NUMBER,
        "NumSegments": "1",
        "MessageSid": MESSAGE_SID,
        "AccountSid": ACCOUNT_SID,
        "From": REPORTER,
        "FromCountry": "VN",
        "ApiVersion": "2010-04-01",
    }
    form.update(overrides)
    return form


def signed(params: dict[str, str], url: str = PUBLIC_URL, token: str = TOKEN) -> dict[str, str]:
    return {"X-Twilio-Signature": RequestValidator(token).compute_signature(url, params)}


class RecordingHandler:
    """Stores what it is given; answers None for a MessageSid it has seen (a duplicate)."""

    def __init__(self, error: Exception | None = None) -> None:
        self.received: list[InboundMessage] = []
        self.error = error

    async def __call__(self, message: InboundMessage) -> bool | None:  # type: ignore[return]
        if self.error is not None:
            raise self.error
        seen = any(m.message_id == message.message_id for m in self.received)
        self.received.append(message)
        return None if seen else True


def webhook_client(handler: RecordingHandler, **overrides: Any) -> TestClient:
    app = FastAPI()
    app.include_router(webhook_router(handler, settings(**overrides)))
    return TestClient(app)


@pytest.fixture
def handler() -> RecordingHandler:
    return RecordingHandler()


@pytest.fixture
def client(handler: RecordingHandler) -> TestClient:
    return webhook_client(handler)


def assert_empty_twiml(response: Any) -> None:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/xml")
    root = ET.fromstring(response.content)
    assert root.tag == "Response"
    assert list(root) == []  # replies go out through the REST API, never in TwiML


# --- inbound webhook -----------------------------------------------------------------------


@pytest.mark.parametrize("body", [ACCENTED, UNACCENTED])
def test_signed_sms_reaches_handler_verbatim_and_gets_empty_twiml(
    client: TestClient, handler: RecordingHandler, body: str
) -> None:
    form = twilio_form(Body=body)
    response = client.post(WEBHOOK_PATH, data=form, headers=signed(form))

    assert_empty_twiml(response)
    [message] = handler.received
    assert message.channel == "sms"
    assert message.text == body
    assert message.sender_id == REPORTER
    assert message.phone == REPORTER
    assert message.message_id == MESSAGE_SID


def test_tampered_body_is_refused_before_the_handler_runs(
    client: TestClient, handler: RecordingHandler
) -> None:
    form = twilio_form()
    headers = signed(form)
    response = client.post(WEBHOOK_PATH, data={**form, "Body": "xin chào"}, headers=headers)

    assert response.status_code == 403
    assert "X-Twilio-Signature" in response.json()["detail"]
    assert handler.received == []


def test_missing_signature_is_refused(client: TestClient, handler: RecordingHandler) -> None:
    response = client.post(WEBHOOK_PATH, data=twilio_form())

    assert response.status_code == 403
    assert "Missing X-Twilio-Signature" in response.json()["detail"]
    assert handler.received == []


@pytest.mark.parametrize(
    "signed_url",
    [
        "https://other.example.org/sms/webhook",  # another host
        PUBLIC_BASE + "/voice/webhook",  # another endpoint of ours
        "http://testserver/sms/webhook",  # the internal URL, while a public one is configured
    ],
)
def test_signature_for_another_url_is_refused(
    client: TestClient, handler: RecordingHandler, signed_url: str
) -> None:
    form = twilio_form()
    response = client.post(WEBHOOK_PATH, data=form, headers=signed(form, url=signed_url))

    assert response.status_code == 403
    assert handler.received == []


def test_signature_with_another_token_is_refused(
    client: TestClient, handler: RecordingHandler
) -> None:
    form = twilio_form()
    response = client.post(WEBHOOK_PATH, data=form, headers=signed(form, token="f" * 32))

    assert response.status_code == 403
    assert handler.received == []


def test_without_public_base_url_the_request_url_is_what_was_signed(
    handler: RecordingHandler,
) -> None:
    client = webhook_client(handler, public_base_url="")
    form = twilio_form()
    response = client.post(
        WEBHOOK_PATH, data=form, headers=signed(form, url="http://testserver/sms/webhook")
    )

    assert_empty_twiml(response)
    assert len(handler.received) == 1


def test_public_url_keeps_a_prefix_the_proxy_strips(handler: RecordingHandler) -> None:
    # Twilio calls https://…/hotline/sms/webhook; the app runs with root_path=/hotline.
    app = FastAPI()
    app.include_router(webhook_router(handler, settings(public_base_url=PUBLIC_BASE + "/hotline")))
    client = TestClient(app, root_path="/hotline")
    form = twilio_form()
    headers = signed(form, url=PUBLIC_BASE + "/hotline" + WEBHOOK_PATH)

    assert_empty_twiml(client.post(WEBHOOK_PATH, data=form, headers=headers))


def test_query_string_is_part_of_the_signed_public_url(
    client: TestClient, handler: RecordingHandler
) -> None:
    form = twilio_form()
    headers = signed(form, url=PUBLIC_URL + "?province=hn")

    assert client.post(WEBHOOK_PATH + "?province=hn", data=form, headers=headers).status_code == 200
    assert (
        client.post(WEBHOOK_PATH + "?province=hcm", data=form, headers=headers).status_code == 403
    )


def test_without_an_auth_token_every_request_is_refused(handler: RecordingHandler) -> None:
    client = webhook_client(handler, twilio_auth_token=None)
    form = twilio_form()

    response = client.post(WEBHOOK_PATH, data=form, headers=signed(form))

    assert response.status_code == 403
    assert handler.received == []


@pytest.mark.parametrize("field", ["MessageSid", "From", "Body"])
def test_signed_request_missing_a_required_field_is_a_400(
    client: TestClient, handler: RecordingHandler, field: str
) -> None:
    form = twilio_form()
    del form[field]
    response = client.post(WEBHOOK_PATH, data=form, headers=signed(form))

    assert response.status_code == 400
    assert field in response.json()["detail"]
    assert handler.received == []


def test_empty_body_is_a_message_too(client: TestClient, handler: RecordingHandler) -> None:
    # An MMS carrying only a photo arrives with Body="".
    form = twilio_form(Body="", NumMedia="1")
    response = client.post(WEBHOOK_PATH, data=form, headers=signed(form))

    assert_empty_twiml(response)
    assert handler.received[0].text == ""


def test_sender_that_is_not_e164_is_not_passed_on_as_a_phone(
    client: TestClient, handler: RecordingHandler
) -> None:
    form = twilio_form(From="VIETTEL")
    response = client.post(WEBHOOK_PATH, data=form, headers=signed(form))

    assert_empty_twiml(response)
    assert handler.received[0].sender_id == "VIETTEL"
    assert handler.received[0].phone is None


def test_twilio_retrying_one_sms_gives_the_same_message_id_each_time(
    client: TestClient, handler: RecordingHandler
) -> None:
    form = twilio_form()
    for _ in range(3):
        assert_empty_twiml(client.post(WEBHOOK_PATH, data=form, headers=signed(form)))

    assert [m.message_id for m in handler.received] == [MESSAGE_SID] * 3
    assert {m.text for m in handler.received} == {ACCENTED}


def test_logs_name_the_message_sid_but_never_the_number_or_text(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    form = twilio_form()
    client.post(WEBHOOK_PATH, data=form, headers=signed(form))
    client.post(WEBHOOK_PATH, data=form)  # unsigned: rejected, and logged

    assert MESSAGE_SID in caplog.text
    assert "rejected" in caplog.text
    assert REPORTER not in caplog.text
    assert "Đồng Nai" not in caplog.text


# --- sending through the REST API ----------------------------------------------------------


@pytest.fixture
def fake_twilio() -> Iterator[FakeTwilio]:
    fake = FakeTwilio(ACCOUNT_SID).start()
    yield fake
    fake.stop()


@pytest.fixture
async def channel(fake_twilio: FakeTwilio) -> AsyncIterator[SmsChannel]:
    channel = SmsChannel(settings(twilio_api_base=fake_twilio.url))
    yield channel
    await channel.stop()


def reply(text: str = ACCENTED) -> OutboundText:
    return OutboundText(channel="sms", recipient_id=REPORTER, text=text)


async def test_send_posts_to_from_and_body_through_the_sdk(
    channel: SmsChannel, fake_twilio: FakeTwilio
) -> None:
    sid = await channel.send(reply())

    [request] = fake_twilio.requests
    assert request.method == "POST"
    assert request.path == f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json"
    assert request.basic_auth == (ACCOUNT_SID, TOKEN)
    assert request.form["To"] == REPORTER
    assert request.form["From"] == OUR_NUMBER
    assert request.form["Body"] == ACCENTED
    assert sid is not None and sid.startswith("SM")


async def test_decomposed_vietnamese_is_sent_composed(
    channel: SmsChannel, fake_twilio: FakeTwilio
) -> None:
    import unicodedata

    await channel.send(reply(unicodedata.normalize("NFD", ACCENTED)))

    assert fake_twilio.requests[0].form["Body"] == ACCENTED


async def test_strip_diacritics_sends_gsm7_ascii(fake_twilio: FakeTwilio) -> None:
    channel = SmsChannel(settings(twilio_api_base=fake_twilio.url, sms_strip_diacritics=True))

    await channel.send(reply())
    await channel.stop()

    body = fake_twilio.requests[0].form["Body"]
    assert body == "Cuu toi voi, toi bi giu o Dong Nai, khong co ho chieu."
    assert body.isascii()
    assert encoding(body) == "GSM-7"


@pytest.mark.parametrize("code", [21211, 21610, 21614, 21617])
async def test_errors_that_retrying_cannot_fix_are_permanent(
    channel: SmsChannel, fake_twilio: FakeTwilio, code: int
) -> None:
    fake_twilio.script(twilio_error(code, f"The 'To' number {REPORTER} cannot receive this."))

    with pytest.raises(DeliveryError) as caught:
        await channel.send(reply())

    assert caught.value.permanent is True
    assert str(code) in str(caught.value)


@pytest.mark.parametrize(("code", "status"), [(20429, 429), (20500, 500), (30001, 400)])
async def test_other_twilio_errors_are_transient(
    channel: SmsChannel, fake_twilio: FakeTwilio, code: int, status: int
) -> None:
    fake_twilio.script(twilio_error(code, "Try again", status=status))

    with pytest.raises(DeliveryError) as caught:
        await channel.send(reply())

    assert caught.value.permanent is False


async def test_unreachable_twilio_is_transient() -> None:
    channel = SmsChannel(settings(twilio_api_base=closed_port_url()))

    with pytest.raises(DeliveryError) as caught:
        await channel.send(reply())
    await channel.stop()

    assert caught.value.permanent is False


async def test_a_twilio_that_never_answers_fails_the_send_within_its_timeout(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("bot.channels.sms.channel.SEND_TIMEOUT_SECONDS", 0.5)
    with socket.socket() as silent:  # takes the connection, never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        host, port = silent.getsockname()
        channel = SmsChannel(settings(twilio_api_base=f"http://{host}:{port}"))
        started = time.monotonic()
        with pytest.raises(DeliveryError) as caught:
            await channel.send(reply())
        await channel.stop()

    assert caught.value.permanent is False
    assert time.monotonic() - started < 5


async def test_sends_go_out_on_the_event_loop_without_a_thread(
    channel: SmsChannel, fake_twilio: FakeTwilio, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def no_thread(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("a send took a worker thread")

    monkeypatch.setattr(asyncio, "to_thread", no_thread)
    sid = await asyncio.gather(*(channel.send(reply(f"{ACCENTED} {n}")) for n in range(8)))

    assert len(set(sid)) == 8
    assert sorted(r.form["Body"] for r in fake_twilio.requests) == sorted(
        f"{ACCENTED} {n}" for n in range(8)
    )


def test_one_channel_sends_from_one_event_loop_after_another(fake_twilio: FakeTwilio) -> None:
    """The session is the loop's that sends: a channel outliving a loop (tests, a restart of
    the runtime) sends from the next one."""
    channel = SmsChannel(settings(twilio_api_base=fake_twilio.url))

    async def send_and_stop() -> str | None:
        sid = await channel.send(reply())
        await channel.stop()
        return sid

    async def send_only() -> str | None:
        return await channel.send(reply())

    assert asyncio.run(send_only())
    assert asyncio.run(send_and_stop())
    assert len(fake_twilio.requests) == 2


def test_behind_a_proxy_the_sdks_own_client_sends(
    fake_twilio: FakeTwilio, monkeypatch: pytest.MonkeyPatch
) -> None:
    """requests honours HTTPS_PROXY and NO_PROXY; an aiohttp session of ours would not."""
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.invalid:3128")
    monkeypatch.setenv("HTTP_PROXY", "http://proxy.invalid:3128")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    channel = SmsChannel(settings(twilio_api_base=fake_twilio.url))
    threads: list[str] = []
    to_thread = asyncio.to_thread

    async def counted(func: Any, *args: Any, **kwargs: Any) -> Any:
        threads.append(getattr(func, "__name__", "?"))
        return await to_thread(func, *args, **kwargs)

    monkeypatch.setattr(asyncio, "to_thread", counted)
    assert asyncio.run(channel.send(reply()))
    assert threads == ["create"]
    assert fake_twilio.requests[0].form["Body"] == ACCENTED


async def test_send_failure_never_exposes_the_phone_number_or_text(
    channel: SmsChannel, fake_twilio: FakeTwilio, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    # Twilio's own messages quote the number, e.g. "The 'To' number +84... is not valid".
    fake_twilio.script(twilio_error(21211, f"The 'To' number {REPORTER} is not valid."))

    with pytest.raises(DeliveryError) as caught:
        await channel.send(reply())
    sid = await channel.send(reply())

    assert REPORTER not in str(caught.value)
    assert caught.value.__cause__ is None
    assert caught.value.__suppress_context__ is True
    assert sid is not None and sid in caplog.text
    assert REPORTER not in caplog.text
    assert "Đồng Nai" not in caplog.text


async def test_empty_reply_is_refused_without_calling_twilio(
    channel: SmsChannel, fake_twilio: FakeTwilio
) -> None:
    with pytest.raises(DeliveryError) as caught:
        await channel.send(reply("  "))

    assert caught.value.permanent is True
    assert fake_twilio.requests == []


async def test_sent_sms_cannot_be_deleted(channel: SmsChannel) -> None:
    assert await channel.delete(REPORTER, ["SM" + "b" * 32]) == 0


def test_channel_without_credentials_fails_at_startup() -> None:
    with pytest.raises(ValueError, match="HOTLINE_TWILIO_FROM_NUMBER"):
        SmsChannel(settings(twilio_from_number=None))


# --- segments ------------------------------------------------------------------------------

VIETNAMESE = (
    "Tôi cần giúp đỡ. Em gái tôi bị đưa sang biên giới và không liên lạc được từ tuần trước. "
) * 5


def vietnamese(length: int) -> str:
    text = VIETNAMESE[:length]
    assert len(text) == length and encoding(text) == "UCS-2"
    return text


@pytest.mark.parametrize(("length", "segments"), [(70, 1), (71, 2), (134, 2), (135, 3), (160, 3)])
def test_vietnamese_is_ucs2_with_70_then_67_characters_per_segment(
    length: int, segments: int
) -> None:
    assert count_segments(vietnamese(length)) == segments


@pytest.mark.parametrize(("length", "segments"), [(160, 1), (161, 2), (306, 2), (307, 3)])
def test_ascii_is_gsm7_with_160_then_153_characters_per_segment(length: int, segments: int) -> None:
    text = ("Goi 111 de duoc giup do. " * 20)[:length]
    assert encoding(text) == "GSM-7"
    assert count_segments(text) == segments


def test_euro_sign_is_gsm7_but_counts_double() -> None:
    assert encoding("Phi 50€") == "GSM-7"
    assert length_units("€") == 2
    assert count_segments("€" * 80) == 1
    assert count_segments("€" * 81) == 2
    assert count_segments("a" * 159 + "€") == 2


def test_extension_character_is_never_split_between_segments() -> None:
    # 306 septets fit two 153-septet parts only if the € (ESC + code) straddled them.
    assert count_segments("a" * 152 + "€" + "a" * 152) == 3


def test_gsm7_accented_latin_letters_do_not_force_ucs2() -> None:
    # è é ù ì ò à are in the GSM alphabet; ơ (and any Vietnamese tone mark on it) is not.
    assert encoding("Bà ơi") == "UCS-2"
    assert encoding("Bà về") == "UCS-2"
    assert encoding("Bà è") == "GSM-7"


def test_emoji_forces_ucs2_and_counts_two_units() -> None:
    assert encoding("Cam on 🙏") == "UCS-2"
    assert length_units("🙏") == 2
    assert count_segments("🙏" * 35) == 1
    assert count_segments("🙏" * 36) == 2


def test_strip_diacritics_keeps_vietnamese_readable_and_gsm7() -> None:
    assert strip_diacritics("Đường dây nóng 111: gọi ngay!") == "Duong day nong 111: goi ngay!"
    assert strip_diacritics("“Đừng đi” – em ấy nói…") == '"Dung di" - em ay noi...'
    every_letter = "àáảãạăằắẳẵặâầấẩẫậđèéẻẽẹêềếểễệìíỉĩịòóỏõọôồốổỗộơờớởỡợùúủũụưừứửữựỳýỷỹỵ"
    stripped = strip_diacritics(every_letter + every_letter.upper())
    assert stripped.isascii()
    assert set(stripped.lower()) == set("aeiouyd")


def test_stripping_triples_what_fits_in_one_segment() -> None:
    text = vietnamese(160)
    assert count_segments(text) == 3
    assert count_segments(strip_diacritics(text)) == 1


def test_a_nul_in_the_message_sid_is_refused_before_it_is_stored(
    client: TestClient, handler: RecordingHandler
) -> None:
    form = twilio_form(MessageSid="SM" + "0" * 10 + "\x00" + "1" * 21)
    response = client.post(WEBHOOK_PATH, data=form, headers=signed(form))
    assert response.status_code == 400
    assert handler.received == []
