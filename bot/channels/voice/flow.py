"""The hotline's call flow (docs/architecture.md, The voice hotline): what each of Twilio's
requests about a call does, and the TwiML it answers.

    incoming ──▶ greeting + <Gather> menu (repeated on silence or a wrong key)
      1 danger   P1 ticket filed at once, reference code read twice, <Dial> on-call → fallback
                 → voicemail <Record> and a call-back task
      2 report   ticket filed, <Record>; the recording's link and length reach the ticket, the
                 code is read back
      3 info     the chat's own answers (hotlines, victims' rights, job offers), then back
      0 operator <Dial> the operators' desk in their hours (else, and when nobody answers,
                 voicemail and a call-back task)
    status     the call's end: a call that filed nothing yet files its ticket; a caller nobody
               answered is owed a call-back (missed, abandoned, after hours)

Every step's state is in `bot_voice_calls`, and every callback acted on is keyed in
`bot_voice_callbacks` in the same transaction as what it files (the intake outbox), so a
replayed callback changes nothing and any process, restarted or not, continues any call.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime

import structlog
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select
from twilio.twiml.voice_response import VoiceResponse

from bot.channels.voice.rota import Rota
from bot.channels.voice.twiml import Speaker, twiml
from bot.intake.client import IntakeClient
from bot.intake.port import TicketDraft, TicketUpdate, TranscriptLine
from bot.models import VoiceCall, VoiceCallback
from bot.triage.rules import routed
from intake_api.metrics import VOICE_CALLS, VOICE_CALLS_ENDED
from intake_api.phones import is_e164

log = structlog.get_logger("bot.voice")

PREFIX = "/voice"
# Call statuses after which nothing more happens on the call.
FINAL_STATUSES = frozenset({"completed", "busy", "failed", "no-answer", "canceled"})
LEG_OUTCOMES = {
    "completed": "answered",
    "answered": "answered",
    "busy": "busy",
    "no-answer": "no-answer",
    "failed": "failed",
    "canceled": "canceled",
}
# Numbers Twilio puts in `From` when the caller withheld theirs: nobody to call back.
WITHHELD = frozenset({"+266696687", "+7378742833", "+2562533", "+8656696", "+86282452253"})
GATHER_TIMEOUT_SECONDS = 6
RECORD_SILENCE_SECONDS = 5

# What each choice files: the category and priority are the hotline's rules; the agencies come
# from the routing table (nlu_data/triage_keywords.yml), as the chat's tickets do. Categories
# the table does not route (no case: information, a silent call) go where support requests go.
TICKETS: dict[str, tuple[str, str]] = {
    "danger": ("request_rescue", "P1"),
    "report": ("report_trafficking", "P2"),
    "operator": ("request_support", "P2"),
    "silent": ("out_of_scope", "P2"),
    "none": ("out_of_scope", "P2"),
    "info": ("ask_info", "P3"),
}
REASONS = {
    "danger": "voice menu: key 1, in danger now",
    "report": "voice menu: key 2, recorded report",
    "operator": "voice menu: key 0, asked for an operator",
    "silent": "voice menu: no key pressed, forwarded to a person",
    "none": "voice call ended before any choice",
    "info": "voice menu: key 3, information only",
}
TRANSCRIPT = {"silent": "none"}


@dataclass(frozen=True)
class CallParams:
    """The fields of Twilio's voice requests the flow reads (docs/platforms.md §4)."""

    call_sid: str
    caller: str | None = None
    called: str | None = None
    digits: str | None = None
    call_status: str | None = None
    dial_status: str | None = None
    dial_duration: int | None = None
    recording_sid: str | None = None
    recording_url: str | None = None
    recording_duration: int | None = None
    recording_status: str | None = None


def _utcnow() -> datetime:
    return datetime.now(UTC)


class VoiceFlow:
    def __init__(
        self,
        engine: Engine,
        intake: IntakeClient,
        rota: Rota,
        speaker: Speaker,
        base_url: str,
        *,
        caller_id: str | None = None,
        dial_timeout: int = 20,
        max_recording: int = 180,
        menu_attempts: int = 3,
        clock: Callable[[], datetime] = _utcnow,
    ) -> None:
        self.engine = engine
        self.intake = intake
        self.rota = rota
        self.speaker = speaker
        self.base_url = base_url.rstrip("/")
        self.caller_id = caller_id
        self.dial_timeout = dial_timeout
        self.max_recording = max_recording
        self.menu_attempts = menu_attempts
        self.clock = clock

    def url(self, path: str) -> str:
        return f"{self.base_url}{PREFIX}{path}"

    # --- the requests ------------------------------------------------------------------------

    def incoming(self, p: CallParams) -> str:
        call = self._open(p)
        response = VoiceResponse()
        self.speaker.prompt(response, "greeting")
        if call.after_hours:
            self.speaker.prompt(response, "after_hours")
        self._menu(response)
        return twiml(response)

    def menu(self, p: CallParams) -> str:
        call = self._open(p)
        digit = (p.digits or "").strip()[:1]
        response = VoiceResponse()
        if digit == "1":
            self._choose(call, "1")
            code = self._ensure_ticket(call, "danger")
            self.speaker.prompt(response, "danger_filed")
            self.speaker.code(response, code)
            self._dial(response, call, "danger")
        elif digit == "2":
            self._choose(call, "2")
            self._ensure_ticket(call, "report")
            self.speaker.prompt(response, "record_prompt")
            self._record(response, "report")
        elif digit == "3":
            self._choose(call, "3")
            self._info_menu(response)
        elif digit == "0":
            self._choose(call, "0")
            self._ensure_ticket(call, "operator")
            if call.after_hours:
                self.speaker.prompt(response, "operator_closed")
                self._voicemail(response, call, prompt=False)
            else:
                self._dial(response, call, "operator")
        else:
            misses = self._missed(call)
            if misses >= self.menu_attempts:
                # Someone who cannot press a key may be the one most in need: a person answers.
                self._ensure_ticket(call, "silent")
                self._dial(response, call, "danger")
            else:
                self.speaker.prompt(response, "wrong_key" if digit else "no_input")
                self._menu(response)
        return twiml(response)

    def info(self, p: CallParams) -> str:
        self._open(p)
        digit = (p.digits or "").strip()[:1]
        response = VoiceResponse()
        if digit in self.speaker.wording.info:
            self.speaker.info(response, digit)
            self._info_menu(response)
        elif digit == "9" or not digit:
            self._menu(response)
        else:
            self.speaker.prompt(response, "wrong_key")
            self._info_menu(response)
        return twiml(response)

    def dial_done(self, p: CallParams, leg: str) -> str:
        """A `<Dial>` leg ended (its action): the outcome is an event on the ticket; an
        unanswered leg goes on to the fallback number, then to voicemail."""
        call = self._open(p)
        outcome = LEG_OUTCOMES.get((p.dial_status or "").strip(), "failed")
        leg = leg if leg in ("on_call", "fallback") else "on_call"
        code = call.reference_code or self._ensure_ticket(call, "silent")
        with self._step(f"leg:{call.call_sid}:{leg}", call.call_sid) as step:
            if step is not None:
                row = step.get(VoiceCall, call.id)
                assert row is not None
                if outcome == "answered":
                    row.reached_person = True
                step.add(row)
                self._queue_call(
                    step,
                    code,
                    {
                        "key": f"leg-{leg}",
                        "kind": "leg",
                        "call_sid": call.call_sid,
                        "target": leg,
                        "outcome": outcome,
                        "duration_seconds": p.dial_duration,
                    },
                )
        response = VoiceResponse()
        if outcome == "answered" or (p.call_status or "") in FINAL_STATUSES:
            response.hangup()
            return twiml(response)
        following = self.rota.next_leg(leg)
        if following is not None:
            self.speaker.prompt(response, "fallback_connecting")
            self._dial_number(response, call, *following)
        else:
            self._voicemail(response, self._reload(call))
        return twiml(response)

    def recorded(self, p: CallParams, purpose: str) -> str:
        """`<Record>`'s action: the recording reaches the ticket; the code is read back."""
        call = self._open(p)
        self._attach(call, p, purpose)
        call = self._reload(call)
        response = VoiceResponse()
        if p.recording_sid:
            self.speaker.prompt(response, "record_thanks")
        else:
            self.speaker.prompt(response, "no_recording")
        if call.reference_code:
            self.speaker.code(response, call.reference_code)
        self.speaker.prompt(response, "goodbye")
        response.hangup()
        return twiml(response)

    def recording_status(self, p: CallParams, purpose: str) -> None:
        """`recordingStatusCallback`: the same attachment as the action, whichever comes
        first (the action is skipped when the caller hangs up at the beep)."""
        if (p.recording_status or "completed") != "completed":
            return
        self._attach(self._open(p), p, purpose)

    def status(self, p: CallParams) -> None:
        """The call's status callback. At its end, a call that filed nothing files its
        ticket, and a caller no person answered is owed a call-back."""
        if (p.call_status or "") not in FINAL_STATUSES:
            return
        call = self._open(p)
        if not call.reference_code:
            self._ensure_ticket(call, "info" if "3" in call.choices else "none")
            call = self._reload(call)
        outcome: str | None = None
        with self._step(f"end:{call.call_sid}", call.call_sid) as step:
            if step is None:
                return
            row = step.get(VoiceCall, call.id)
            assert row is not None
            row.ended = True
            step.add(row)
            only_information = set(row.choices) <= {"3"} and "3" in row.choices
            owed = not (row.reached_person or row.recorded or row.callback_reason)
            if owed and not only_information:
                if row.after_hours:
                    reason = "after_hours"
                elif row.leg is not None:
                    reason = "missed"
                else:
                    reason = "abandoned"
                self._owe_callback(step, row, reason)
                outcome = reason
            elif row.reached_person:
                outcome = "answered"
            elif row.recorded:
                outcome = "recorded"
            elif only_information:
                outcome = "information"
            else:
                outcome = row.callback_reason  # owed earlier in the call (voicemail unanswered)
        if outcome is not None and step is not None and step.info.get("committed"):
            # After the commit: a replay or a lost race counts nothing.
            VOICE_CALLS_ENDED.labels(outcome).inc()

    def sweep(self, started_before: datetime) -> int:
        """Ends the calls that started before then and never had their end reported (a lost
        status callback, a number configured without one), as if they had ended: their
        ticket is filed and a caller nobody answered is owed a call-back. Returns how many."""
        with Session(self.engine) as session:
            sids = session.exec(
                select(VoiceCall.call_sid).where(
                    VoiceCall.ended == False,  # noqa: E712
                    VoiceCall.created_at < started_before,
                )
            ).all()
        for sid in sids:
            self.status(CallParams(call_sid=sid, call_status="completed"))
        return len(sids)

    # --- pieces of TwiML ---------------------------------------------------------------------

    def _menu(self, response: VoiceResponse) -> None:
        self._gather(response, "/menu", "menu")

    def _info_menu(self, response: VoiceResponse) -> None:
        self._gather(response, "/info", "info_menu")

    def _gather(self, response: VoiceResponse, path: str, prompt: str) -> None:
        """One key asked for with `prompt`, answered at `path`, silence included."""
        gather = response.gather(
            input="dtmf",
            num_digits=1,
            timeout=GATHER_TIMEOUT_SECONDS,
            action=self.url(path),
            method="POST",
            action_on_empty_result=True,
        )
        self.speaker.prompt(gather, prompt)
        # Reached only where the action is not requested on silence: the same as silence.
        response.redirect(self.url(path), method="POST")

    def _dial(self, response: VoiceResponse, call: VoiceCall, purpose: str) -> None:
        self._set(call, purpose=purpose)
        first = self.rota.first_leg(self.clock(), purpose)
        if first is None:
            self._voicemail(response, call)
            return
        self.speaker.prompt(
            response, "connecting" if purpose == "danger" else "operator_connecting"
        )
        self._dial_number(response, call, *first)

    def _dial_number(self, response: VoiceResponse, call: VoiceCall, leg: str, number: str) -> None:
        self._set(call, leg=leg)
        dial = response.dial(
            action=self.url(f"/dial?leg={leg}"),
            method="POST",
            timeout=self.dial_timeout,
            caller_id=self.caller_id or self._called(call),
        )
        dial.number(number)

    def _voicemail(self, response: VoiceResponse, call: VoiceCall, prompt: bool = True) -> None:
        code = call.reference_code or self._ensure_ticket(call, "silent")
        with self._step(f"callback:{call.call_sid}", call.call_sid) as step:
            if step is not None:
                row = step.get(VoiceCall, call.id)
                assert row is not None
                self._owe_callback(step, row, "after_hours" if row.after_hours else "missed", code)
        if prompt:
            self.speaker.prompt(response, "voicemail")
        self._record(response, "voicemail")

    def _record(self, response: VoiceResponse, purpose: str) -> None:
        response.record(
            action=self.url(f"/recorded?purpose={purpose}"),
            method="POST",
            timeout=RECORD_SILENCE_SECONDS,
            finish_on_key="#",
            max_length=self.max_recording,
            play_beep=True,
            recording_status_callback=self.url(f"/recording?purpose={purpose}"),
            recording_status_callback_method="POST",
            recording_status_callback_event="completed absent",
        )
        # An empty recording skips the action and comes here.
        self.speaker.prompt(response, "no_recording")
        response.hangup()

    # --- state -------------------------------------------------------------------------------

    def _open(self, p: CallParams) -> VoiceCall:
        """The call's row, created by its first request (whichever reaches us first)."""
        with Session(self.engine, expire_on_commit=False) as session:
            row = session.exec(select(VoiceCall).where(VoiceCall.call_sid == p.call_sid)).first()
            if row is not None:
                return row
            row = VoiceCall(
                call_sid=p.call_sid,
                caller=p.caller,
                called=p.called,
                after_hours=not self.rota.operators_in(self.clock()),
            )
            session.add(row)
            try:
                session.commit()
            except IntegrityError:
                session.rollback()  # the same call's request in another process won
                row = session.exec(select(VoiceCall).where(VoiceCall.call_sid == p.call_sid)).one()
            else:
                VOICE_CALLS.inc()
            return row

    def _reload(self, call: VoiceCall) -> VoiceCall:
        with Session(self.engine, expire_on_commit=False) as session:
            row = session.get(VoiceCall, call.id)
            assert row is not None
            return row

    def _set(self, call: VoiceCall, **values: object) -> None:
        with Session(self.engine) as session:
            row = session.get(VoiceCall, call.id)
            assert row is not None
            for name, value in values.items():
                setattr(row, name, value)
                setattr(call, name, value)
            row.updated_at = _utcnow()
            session.add(row)
            session.commit()

    def _choose(self, call: VoiceCall, digit: str) -> None:
        if call.choices.endswith(digit):
            return  # the same choice again (a replayed menu request)
        self._set(call, choices=(call.choices + digit)[-64:], misses=0)

    def _missed(self, call: VoiceCall) -> int:
        self._set(call, misses=call.misses + 1)
        return call.misses

    @contextmanager
    def _step(self, key: str, call_sid: str) -> Iterator[Session | None]:
        """One callback's effects in one transaction, keyed: the session, or None for a
        callback already acted on (a replay). What it queued is delivered after commit."""
        codes: set[str] = set()
        with Session(self.engine, expire_on_commit=False) as session:
            if session.get(VoiceCallback, key) is not None:
                yield None
                return
            session.add(VoiceCallback(key=key, call_sid=call_sid))
            session.info["codes"] = codes
            try:
                yield session
                session.commit()
                session.info["committed"] = True
            except IntegrityError:
                # The same callback in another process at the same moment: it acted on it.
                session.rollback()
                return
        for code in codes:
            self.intake.outbox.deliver_pending(reference_code=code)

    def _queue_call(self, session: Session, code: str, body: dict[str, object]) -> None:
        with self.intake.turn() as items:
            self.intake.record_call(code, body)
        for item in items:
            session.add(item)
        session.info.setdefault("codes", set()).add(code)

    def _owe_callback(
        self, session: Session, row: VoiceCall, reason: str, code: str | None = None
    ) -> None:
        if row.callback_reason:
            return
        row.callback_reason = reason
        session.add(row)
        self._queue_call(
            session,
            code or str(row.reference_code),
            {"key": "callback", "kind": "callback", "call_sid": row.call_sid, "reason": reason},
        )

    def _attach(self, call: VoiceCall, p: CallParams, purpose: str) -> None:
        if not (p.recording_sid and p.recording_url):
            return
        purpose = purpose if purpose in ("report", "voicemail") else "report"
        code = call.reference_code or self._ensure_ticket(call, "report")
        with self._step(f"rec:{p.recording_sid}", call.call_sid) as step:
            if step is None:
                return
            row = step.get(VoiceCall, call.id)
            assert row is not None
            row.recorded = True
            step.add(row)
            self._queue_call(
                step,
                code,
                {
                    "key": f"rec-{p.recording_sid}",
                    "kind": "recording",
                    "call_sid": call.call_sid,
                    "recording_sid": p.recording_sid,
                    "recording_url": p.recording_url,
                    "duration_seconds": p.recording_duration,
                    "purpose": purpose,
                },
            )

    def _ensure_ticket(self, call: VoiceCall, kind: str) -> str:
        """The call's ticket: filed on its first need, once per call (the draft's key is the
        CallSid, the code is set on the call row in the transaction that queues the filing).
        A later danger choice raises an existing ticket to P1."""
        if call.reference_code:
            if kind == "danger" and call.priority != "P1":
                self._escalate(call)
            return call.reference_code
        category, priority = TICKETS[kind]
        caller = self._caller(call)
        lines = [self.speaker.wording.transcript[TRANSCRIPT.get(kind, kind)]]
        if call.after_hours:
            lines.append(self.speaker.wording.transcript["after_hours"])
        at = call.created_at.isoformat()
        triage = routed(category, priority)
        if not triage["agencies"]:
            triage["agencies"] = routed("request_support", priority)["agencies"]
        triage["reasons"] = [REASONS[kind]]
        draft = TicketDraft(
            channel="voice",
            sender_id=caller or "",
            conversation_id=f"call-{call.call_sid}",
            transcript=[TranscriptLine("in", line, at) for line in lines],
            nlu=None,
            triage=triage,
            phone=caller,
            # The caller gave their number by calling: it is how staff call back. A withheld
            # number leaves nothing to keep.
            anonymous=caller is None,
            consent_to_contact=caller is not None,
            source_message_id=f"{call.call_sid}:ticket",
        )
        with self.intake.turn() as items:
            code = self.intake.submit_ticket(draft)
        with Session(self.engine, expire_on_commit=False) as session:
            row = session.get(VoiceCall, call.id)
            assert row is not None
            if row.reference_code:
                return row.reference_code  # another request of this call filed it meanwhile
            row.reference_code, row.priority = code, priority
            row.updated_at = _utcnow()
            session.add(row)
            for item in items:
                session.add(item)
            try:
                session.commit()
            except IntegrityError:
                session.rollback()
                again = session.get(VoiceCall, call.id)
                if again is None or not again.reference_code:
                    raise
                code = again.reference_code
        call.reference_code, call.priority = code, priority
        log.info("voice_ticket_filed", call_sid=call.call_sid, priority=priority, kind=kind)
        self.intake.outbox.deliver_pending(reference_code=code)
        return code

    def _escalate(self, call: VoiceCall) -> None:
        code = str(call.reference_code)
        with self.intake.turn() as items:
            self.intake.update_ticket(
                code,
                TicketUpdate(
                    text=self.speaker.wording.transcript["danger"],
                    message_id=f"{call.call_sid}:danger",
                    priority="P1",
                    conversation_id=f"call-{call.call_sid}",
                ),
            )
        with Session(self.engine) as session:
            row = session.get(VoiceCall, call.id)
            assert row is not None
            row.priority = "P1"
            session.add(row)
            for item in items:
                session.add(item)
            try:
                session.commit()
            except IntegrityError:
                session.rollback()  # already escalated by a concurrent request
        call.priority = "P1"
        self.intake.outbox.deliver_pending(reference_code=code)

    @staticmethod
    def _caller(call: VoiceCall) -> str | None:
        number = (call.caller or "").strip()
        return number if is_e164(number) and number not in WITHHELD else None

    @staticmethod
    def _called(call: VoiceCall) -> str | None:
        number = (call.called or "").strip()
        return number if is_e164(number) else None
