"""The phone hotline through Twilio Programmable Voice (docs/platforms.md §4).

Twilio POSTs each step of a call to a webhook under `/voice/` as a signed form; every one is
checked against `X-Twilio-Signature` (the URL rebuilt from `HOTLINE_PUBLIC_BASE_URL`) before
any field is read, and a forged one is refused with 403. What each step does is
`bot.channels.voice.flow`; this module is the HTTP face and the promise that a caller is
never left in silence: when anything behind a step fails, the answer is still valid TwiML
that says the emergency numbers and forwards the call to a configured number.

Phone numbers are personal data: log lines carry the CallSid, never `From` or `To`.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

import structlog
from fastapi import APIRouter, HTTPException, Request, Response
from fastapi.responses import FileResponse
from starlette.concurrency import run_in_threadpool
from twilio.request_validator import RequestValidator
from twilio.twiml.voice_response import VoiceResponse

from bot.channels.twilio_signature import signature_problem
from bot.channels.voice.audio import SHIPPED, AudioLibrary, clip_texts
from bot.channels.voice.flow import PREFIX, CallParams, VoiceFlow
from bot.channels.voice.rota import Rota
from bot.channels.voice.twiml import AUDIO_PATH, Speaker, twiml
from bot.channels.voice.wording import VoiceWording
from bot.config import BotSettings
from bot.contract import (
    ChannelBase,
    ChannelContext,
    DeliveryError,
    InboundHandler,
    OutboundText,
    TextLimit,
)

log = structlog.get_logger("bot.voice")

TWIML = "text/xml"
EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response/>'
_CALL_SID = re.compile(r"^CA[0-9a-fA-F]{32}$")
_RECORDING_SID = re.compile(r"^RE[0-9a-fA-F]{32}$")
_CLIP = re.compile(r"^[A-Za-z0-9_\-]{1,64}$")
# A call whose end was never reported is taken as ended after this long: Twilio ends a <Dial>
# after 4 hours (its timeLimit), so no call still on the line is that old.
STALE_CALL = timedelta(hours=5)
SWEEP_SECONDS = 300.0


def _text(form: object, name: str, limit: int = 500) -> str | None:
    value = form.get(name)  # type: ignore[attr-defined]
    if not isinstance(value, str) or not value.strip():
        return None
    return value.strip()[:limit]


def _seconds(form: object, name: str) -> int | None:
    value = _text(form, name, 12)
    if value is None or not value.isdigit():
        return None
    return min(int(value), 86_400)


def params_of(form: object) -> CallParams | None:
    """The fields the flow reads, or None when the form names no call."""
    call_sid = _text(form, "CallSid", 64)
    if call_sid is None or not _CALL_SID.match(call_sid):
        return None
    recording_sid = _text(form, "RecordingSid", 64)
    recording_url = _text(form, "RecordingUrl")
    if recording_sid is not None and not _RECORDING_SID.match(recording_sid):
        recording_sid = None
    if recording_url is not None and not re.match(r"^https?://[\x21-\x7e]+$", recording_url):
        recording_url = None
    return CallParams(
        call_sid=call_sid,
        caller=_text(form, "From", 32),
        called=_text(form, "To", 32),
        digits=_text(form, "Digits", 8),
        call_status=_text(form, "CallStatus", 32),
        dial_status=_text(form, "DialCallStatus", 32),
        dial_duration=_seconds(form, "DialCallDuration"),
        recording_sid=recording_sid,
        recording_url=recording_url,
        recording_duration=_seconds(form, "RecordingDuration"),
        recording_status=_text(form, "RecordingStatus", 32),
    )


class VoiceChannel(ChannelBase):
    """The hotline's number: calls in, no messages out (a call has no thread to reply into)."""

    name = "voice"
    limit = TextLimit(1, "chars")

    @classmethod
    def from_settings(cls, settings: BotSettings, context: ChannelContext) -> VoiceChannel | None:
        if not (settings.twilio_account_sid and settings.twilio_auth_token):
            return None
        if not settings.voice_on_call or context.intake is None:
            return None
        return cls(settings, context)

    def __init__(
        self,
        settings: BotSettings,
        context: ChannelContext,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        if not (settings.twilio_auth_token and settings.voice_on_call and context.intake):
            raise ValueError(
                "The voice hotline needs HOTLINE_TWILIO_AUTH_TOKEN, HOTLINE_VOICE_ON_CALL and the "
                "intake client."
            )
        self._settings = settings
        self.rota = Rota.from_settings(
            settings.voice_on_call,
            settings.voice_fallback_number,
            settings.voice_operator_number,
            settings.voice_hours,
            settings.voice_days,
        )
        wording = VoiceWording.load(settings.nlu_data_dir, context.hotlines)
        self.library = AudioLibrary(settings.voice_audio_dir or SHIPPED, clip_texts(wording))
        base = (settings.public_base_url or "").rstrip("/")
        self.speaker = Speaker(wording, self.library, base, settings.voice_tts_voice)
        self._clock = clock or (lambda: datetime.now(UTC))
        self.flow = VoiceFlow(
            context.engine,
            context.intake,
            self.rota,
            self.speaker,
            base,
            caller_id=settings.voice_caller_id,
            dial_timeout=settings.voice_dial_timeout_seconds,
            max_recording=settings.voice_max_recording_seconds,
            menu_attempts=settings.voice_menu_attempts,
            clock=self._clock,
        )
        self._validator = RequestValidator(settings.twilio_auth_token)

    async def send(self, message: OutboundText) -> str | None:
        raise DeliveryError("A phone call has no thread to send a message into.", permanent=True)

    async def receive(self, handler: InboundHandler, stop: asyncio.Event) -> None:
        """Not a receiver: the safety net for calls whose end Twilio never reported."""
        while not stop.is_set():
            try:
                swept = await run_in_threadpool(self.flow.sweep, self._clock() - STALE_CALL)
                if swept:
                    log.warning("voice_calls_without_end", calls=swept)
            except Exception as exc:
                log.error("voice_sweep_failed", error=type(exc).__name__)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=SWEEP_SECONDS)

    def emergency(self) -> str:
        """The answer when a step failed: the emergency numbers, then a forwarded call. Built
        from memory and configuration alone, so it holds when the database does not."""
        response = VoiceResponse()
        self.speaker.prompt(response, "emergency")
        number = self.rota.any_number(self._clock())
        if number:
            response.dial(number, timeout=self._settings.voice_dial_timeout_seconds)
        response.hangup()
        return twiml(response)

    def router(self, handler: InboundHandler) -> APIRouter:
        # A call's steps are the flow's, not messages for the conversation: `handler` unused.
        api = APIRouter(prefix=PREFIX)
        flow = self.flow

        async def authentic(request: Request) -> CallParams | None:
            try:
                form = await request.form()
            except Exception as exc:  # malformed multipart and the like: the sender's fault
                raise HTTPException(400, "The body could not be read as a form.") from exc
            problem = signature_problem(request, form, self._validator, self._settings)
            if problem is not None:
                log.warning("voice_webhook_rejected", path=request.url.path, reason=problem)
                raise HTTPException(403, problem)
            return params_of(form)

        def step(run: Callable[[CallParams], str]) -> Callable[[Request], Awaitable[Response]]:
            async def endpoint(request: Request) -> Response:
                params = await authentic(request)
                if params is None:
                    log.warning("voice_request_without_call", path=request.url.path)
                    return Response(self.emergency(), media_type=TWIML)
                try:
                    body = await run_in_threadpool(run, params)
                except Exception as exc:
                    # Never silence on the line: whatever failed, the caller hears the numbers
                    # and is forwarded. The exception's message may quote a row: type only.
                    log.error(
                        "voice_step_failed",
                        path=request.url.path,
                        call_sid=params.call_sid,
                        error=type(exc).__name__,
                    )
                    body = self.emergency()
                return Response(body, media_type=TWIML)

            return endpoint

        def callback(run: Callable[[CallParams], None]) -> Callable[[Request], Awaitable[Response]]:
            async def endpoint(request: Request) -> Response:
                params = await authentic(request)
                if params is None:
                    raise HTTPException(400, "The form names no call (CallSid).")
                try:
                    await run_in_threadpool(run, params)
                except Exception as exc:
                    log.error(
                        "voice_callback_failed",
                        path=request.url.path,
                        call_sid=params.call_sid,
                        error=type(exc).__name__,
                    )
                    # Not acted on: Twilio may deliver it again (connection overrides).
                    raise HTTPException(503, "Not recorded; try again later.") from None
                return Response(EMPTY_TWIML, media_type=TWIML)

            return endpoint

        def leg_of(request: Request) -> str:
            return request.query_params.get("leg", "on_call")

        def purpose_of(request: Request) -> str:
            return request.query_params.get("purpose", "report")

        async def dial(request: Request) -> Response:
            leg = leg_of(request)
            return await step(lambda p: flow.dial_done(p, leg))(request)

        async def recorded(request: Request) -> Response:
            purpose = purpose_of(request)
            return await step(lambda p: flow.recorded(p, purpose))(request)

        async def recording(request: Request) -> Response:
            purpose = purpose_of(request)
            return await callback(lambda p: flow.recording_status(p, purpose))(request)

        api.add_api_route("/incoming", step(flow.incoming), methods=["POST"])
        api.add_api_route("/menu", step(flow.menu), methods=["POST"])
        api.add_api_route("/info", step(flow.info), methods=["POST"])
        api.add_api_route("/dial", dial, methods=["POST"])
        api.add_api_route("/recorded", recorded, methods=["POST"])
        api.add_api_route("/recording", recording, methods=["POST"])
        api.add_api_route("/status", callback(flow.status), methods=["POST"])

        @api.get(AUDIO_PATH.removeprefix(PREFIX) + "/{clip}.wav", include_in_schema=False)
        def audio(clip: str) -> FileResponse:
            path = self.library.path(clip) if _CLIP.match(clip) else None
            if path is None:
                raise HTTPException(404, "No such recording.")
            return FileResponse(path, media_type="audio/wav")

        return api
