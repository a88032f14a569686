from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from sqlmodel import col, func, select

from intake_api.deps import SessionDep, SupervisorDep
from intake_api.errors import SIGNED_IN, error_responses
from intake_api.models import AuditRecord
from intake_api.routes.filters import instant
from intake_api.schemas import NO_NUL_PATTERN, AuditOut, AuditPage, FilterTime

router = APIRouter(prefix="/api/v1/audit", tags=["audit"], responses=error_responses(*SIGNED_IN))


@router.get("", response_model=AuditPage)
def list_audit(
    caller: SupervisorDep,
    session: SessionDep,
    actor: Annotated[str | None, Query(max_length=64, pattern=NO_NUL_PATTERN)] = None,
    ticket_id: Annotated[str | None, Query(max_length=64, pattern=NO_NUL_PATTERN)] = None,
    action: Annotated[str | None, Query(max_length=32, pattern=NO_NUL_PATTERN)] = None,
    since: FilterTime | None = None,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    page_size: Annotated[int, Query(ge=1, le=500)] = 100,
) -> AuditPage:
    stmt = select(AuditRecord)
    if actor:
        stmt = stmt.where(AuditRecord.actor == actor)
    if ticket_id:
        stmt = stmt.where(AuditRecord.ticket_id == ticket_id)
    if action:
        stmt = stmt.where(AuditRecord.action == action)
    if since:
        stmt = stmt.where(AuditRecord.at >= instant(since))
    total = session.exec(select(func.count()).select_from(stmt.subquery())).one()
    rows = session.exec(
        stmt.order_by(col(AuditRecord.id).desc()).offset((page - 1) * page_size).limit(page_size)
    ).all()
    return AuditPage(
        items=[AuditOut.model_validate(r, from_attributes=True) for r in rows],
        total=int(total),
        page=page,
        page_size=page_size,
    )
