"""The audit trail: every view of personal data and every change, by whom and when."""

from __future__ import annotations

from sqlmodel import Session

from intake_api.models import AuditRecord


def record(
    session: Session,
    actor: str,
    action: str,
    ticket_id: str | None = None,
    detail: str | None = None,
) -> None:
    """Adds an audit record to the caller's transaction (committed with the work it records)."""
    session.add(AuditRecord(actor=actor, action=action, ticket_id=ticket_id, detail=detail))
