"""Creating a ticket from the bot's intake, exactly once per Idempotency-Key."""

from __future__ import annotations

import hashlib
import json
import uuid

import structlog
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from intake_api.audit import record
from intake_api.config import Settings
from intake_api.crypto import PersonalDataCipher
from intake_api.db import utcnow
from intake_api.enums import Status
from intake_api.identity import Caller
from intake_api.metrics import TICKETS_FILED
from intake_api.models import Ticket, TicketAgency, TicketEvent, TicketMessage
from intake_api.refcodes import new_reference_code
from intake_api.rules.priority import due_at
from intake_api.rules.senders import REPORTER
from intake_api.schemas import IntakeIn

log = structlog.get_logger("intake_api.intake")


class IdempotencyConflict(Exception):
    """The key was used before for a different request body, or by another account."""


class ReferenceCodeTaken(Exception):
    """The bot proposed a reference code that another ticket already has."""


class UnknownValue(ValueError):
    """A value that is well-formed but not in the configuration (agency, province)."""


def key_digest(idempotency_key: str) -> str:
    return hashlib.sha256(idempotency_key.encode()).hexdigest()


def fingerprint(body: IntakeIn) -> str:
    canonical = json.dumps(body.model_dump(mode="json"), sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def province_in_force(settings: Settings, name: str | None, field: str = "province") -> str | None:
    """The configured province `name` means: itself, or the unit that absorbed a pre-2025
    province ("Bình Dương" → "Thành phố Hồ Chí Minh"), as the NLU maps it."""
    if name is None:
        return None
    canonical = settings.province_names.canonical(name)
    if canonical is None:
        raise UnknownValue(
            f"{field}: '{name}' is not one of the configured provinces "
            "(use the name of the unit in force since 1 July 2025, e.g. 'Vĩnh Long', "
            "or a pre-2025 name it absorbed)"
        )
    return canonical


def check_configured(body: IntakeIn, settings: Settings) -> IntakeIn:
    """The body with its province in force, or UnknownValue naming what is not configured."""
    unknown = sorted(set(body.triage.agencies) - set(settings.agency_codes))
    if unknown:
        raise UnknownValue(
            f"triage.agencies: unknown agency {', '.join(unknown)}; "
            f"configured agencies are {', '.join(settings.agency_codes)}"
        )
    return body.model_copy(update={"province": province_in_force(settings, body.province)})


def find_by_key(session: Session, digest: str) -> Ticket | None:
    return session.exec(select(Ticket).where(Ticket.idempotency_key == digest)).first()


def _existing(session: Session, digest: str, print_: str, caller: Caller) -> Ticket | None:
    ticket = find_by_key(session, digest)
    # Another account's key answers a conflict, never that account's ticket.
    if ticket is not None and (
        ticket.request_fingerprint != print_ or ticket.filed_by_id != caller.user_id
    ):
        raise IdempotencyConflict
    return ticket


def create_ticket(
    session: Session,
    settings: Settings,
    cipher: PersonalDataCipher,
    body: IntakeIn,
    idempotency_key: str,
    caller: Caller,
) -> tuple[Ticket, bool]:
    """Returns the ticket and whether this call created it (False for a replay). The caller,
    a service account, is recorded as the filer: only it follows up on the ticket."""
    digest, print_ = key_digest(idempotency_key), fingerprint(body)
    existing = _existing(session, digest, print_, caller)
    if existing is not None:
        return existing, False
    body = check_configured(body, settings)

    for _attempt in range(5):
        ticket = _build(settings, cipher, body, digest, print_)
        ticket.filed_by_id = caller.user_id
        session.add(ticket)
        try:
            session.flush()
        except IntegrityError:
            session.rollback()
            # Either a concurrent replay won the race (return its ticket) or the reference
            # code collided (draw another, unless the bot already gave it to the reporter).
            existing = _existing(session, digest, print_, caller)
            if existing is not None:
                return existing, False
            if body.reference_code is not None:
                raise ReferenceCodeTaken(body.reference_code) from None
            continue
        _add_children(session, ticket, body, caller.username)
        session.commit()
        TICKETS_FILED.labels(ticket.priority, ticket.channel).inc()
        log.info("ticket_filed", reference_code=ticket.reference_code, priority=ticket.priority)
        return ticket, True
    raise RuntimeError("could not draw a free reference code")


def _build(
    settings: Settings, cipher: PersonalDataCipher, body: IntakeIn, digest: str, print_: str
) -> Ticket:
    now = utcnow()
    reporter = body.reporter
    phone = reporter.phone
    nlu = body.nlu or {}
    intent = nlu.get("intent") if isinstance(nlu.get("intent"), dict) else {}
    confidence = intent.get("confidence")
    return Ticket(
        id=uuid.uuid4().hex,
        reference_code=body.reference_code or new_reference_code(),
        status=Status.new,
        priority=body.triage.priority,
        category=body.triage.category,
        intent=str(intent.get("name"))[:32] if intent.get("name") else None,
        intent_confidence=float(confidence) if isinstance(confidence, int | float) else None,
        channel=body.channel,
        province=body.province,
        country=body.country,
        conversation_id=body.conversation_id,
        reporter_channel_user_id=reporter.channel_user_id,
        reporter_phone=phone,
        reporter_name=reporter.name,
        reporter_hash=(
            cipher.blind_index(body.channel, reporter.channel_user_id)
            if reporter.channel_user_id
            else None
        ),
        phone_hash=cipher.blind_index("phone", phone) if phone else None,
        sender_ref=reporter.sender_ref,
        anonymous=reporter.anonymous,
        consent_to_contact=reporter.consent_to_contact,
        nlu=body.nlu,
        location=body.location.model_dump() if body.location else None,
        triage_reasons=list(body.triage.reasons),
        idempotency_key=digest,
        request_fingerprint=print_,
        due_at=due_at(settings.service_levels_hours, body.triage.priority, now),
        created_at=now,
        updated_at=now,
    )


def _add_children(session: Session, ticket: Ticket, body: IntakeIn, actor: str) -> None:
    for agency in sorted(set(body.triage.agencies)):
        session.add(TicketAgency(ticket_id=ticket.id, agency=agency))
    for line in body.transcript:
        session.add(
            TicketMessage(
                ticket_id=ticket.id,
                direction=line.direction,
                text=line.text,
                at=line.at or utcnow(),
                # What came with the filing is the reporter's own conversation.
                sender=REPORTER if line.direction == "in" else None,
            )
        )
    session.add(
        TicketEvent(ticket_id=ticket.id, actor=actor, kind="created", to_value=ticket.status)
    )
    record(session, actor, "intake", ticket.id, f"{ticket.priority} {ticket.category}")
