"""The in-process transport: the bot calls the API's own functions, with the same validation
and the same service-account permissions as over HTTP, without a network hop."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from pydantic import TypeAdapter, ValidationError
from sqlalchemy.exc import OperationalError
from sqlmodel import Session, select

from bot.intake.transport import Rejected, Unavailable
from intake_api.calls import record_call
from intake_api.enums import Role
from intake_api.errors import describe_validation_errors
from intake_api.identity import Caller
from intake_api.intake import IdempotencyConflict, ReferenceCodeTaken, UnknownValue, create_ticket
from intake_api.models import Ticket, User
from intake_api.schemas import (
    CallRecordIn,
    DeliveryResult,
    IntakeIn,
    IntakeOut,
    ReporterMessageIn,
)
from intake_api.state import AppState
from intake_api.tickets import TicketNotFound, find_filed_by_reference, lookup_status
from intake_api.workflow import (
    Conflict,
    Invalid,
    append_reporter_message,
    claim_replies,
    record_delivery,
)

CALL_RECORD: TypeAdapter[Any] = TypeAdapter(CallRecordIn)


class InProcessTransport:
    def __init__(self, state: AppState, service_username: str) -> None:
        self._state = state
        self._username = service_username

    def _caller(self, session: Session) -> Caller:
        user = session.exec(select(User).where(User.username == self._username)).first()
        if user is None or not user.active or Role.service not in user.role_set:
            raise Rejected(401, f"no active service account '{self._username}'")
        return Caller.of(user)

    def _session(self) -> Session:
        return Session(self._state.engine, expire_on_commit=False)

    @staticmethod
    def _validate(model: Any, body: dict[str, Any]) -> Any:
        try:
            if isinstance(model, TypeAdapter):
                return model.validate_python(body)
            return model.model_validate(body)
        except ValidationError as exc:
            raise Rejected(422, describe_validation_errors(exc.errors())) from None  # type: ignore[arg-type]

    def create(self, body: dict[str, Any], idempotency_key: str) -> dict[str, Any]:
        payload = self._validate(IntakeIn, body)
        try:
            with self._session() as session:
                caller = self._caller(session)
                ticket, _ = create_ticket(
                    session,
                    self._state.settings,
                    self._state.cipher,
                    payload,
                    idempotency_key,
                    caller,
                )
                return IntakeOut.model_validate(ticket, from_attributes=True).model_dump(
                    mode="json"
                )
        except (IdempotencyConflict, ReferenceCodeTaken) as exc:
            raise Rejected(409, type(exc).__name__) from None
        except UnknownValue as exc:
            raise Rejected(422, str(exc)) from None
        except OperationalError as exc:
            raise Unavailable("database") from exc

    @contextmanager
    def _filed(self, reference_code: str) -> Iterator[tuple[Session, Caller, Ticket]]:
        """The ticket this service account filed under the code, with the API's answers to
        what can go wrong on it."""
        try:
            with self._session() as session:
                caller = self._caller(session)
                yield session, caller, find_filed_by_reference(session, caller, reference_code)
        except TicketNotFound:
            raise Rejected(404, "No report has this reference code.") from None
        except Invalid as exc:
            raise Rejected(422, str(exc)) from None
        except Conflict as exc:
            raise Rejected(409, str(exc)) from None
        except OperationalError as exc:
            raise Unavailable("database") from exc

    def append(self, reference_code: str, body: dict[str, Any]) -> dict[str, Any]:
        payload = self._validate(ReporterMessageIn, body)
        with self._filed(reference_code) as (session, caller, ticket):
            _, created = append_reporter_message(
                session, self._state.settings, caller, ticket, payload
            )
            return {"ticket_id": ticket.id, "appended": created}

    def call(self, reference_code: str, body: dict[str, Any]) -> dict[str, Any]:
        payload = self._validate(CALL_RECORD, body)
        with self._filed(reference_code) as (session, caller, ticket):
            _, created = record_call(session, caller, ticket, payload)
            return {"ticket_id": ticket.id, "recorded": created}

    def status(self, reference_code: str) -> dict[str, Any] | None:
        try:
            with self._session() as session:
                caller = self._caller(session)
                try:
                    ticket = lookup_status(session, caller, reference_code)
                except TicketNotFound:
                    return None
                return {
                    "reference_code": ticket.reference_code,
                    "status": ticket.status,
                    "updated_at": ticket.updated_at.isoformat(),
                }
        except OperationalError as exc:
            raise Unavailable("database") from exc

    def close(self) -> None:
        return None  # nothing of its own: the API owns the engine

    def claim_replies(self, limit: int, channels: list[str]) -> list[dict[str, Any]]:
        try:
            with self._session() as session:
                caller = self._caller(session)
                claimed = claim_replies(session, self._state.settings, caller, limit, channels)
                return [reply.model_dump() for reply in claimed]
        except OperationalError as exc:
            raise Unavailable("database") from exc

    def report_delivery(self, reply_id: int, delivered: bool, error: str | None) -> None:
        result = DeliveryResult(
            state="delivered" if delivered else "failed", error=error[:500] if error else None
        )
        try:
            with self._session() as session:
                caller = self._caller(session)
                record_delivery(
                    session, caller, reply_id, result.state == "delivered", result.error
                )
        except LookupError:
            raise Rejected(404, f"There is no reply {reply_id}.") from None
        except OperationalError as exc:
            raise Unavailable("database") from exc
