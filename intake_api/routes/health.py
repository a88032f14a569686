from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from intake_api.deps import SessionDep, StateDep

router = APIRouter(tags=["health"])


@router.get("/healthz")
def healthz(session: SessionDep, state: StateDep) -> JSONResponse:
    """The database, and the parts served beside the API: one platform that cannot be reached
    degrades its channel (reported here), never the service."""
    try:
        session.exec(text("SELECT 1"))  # type: ignore[call-overload]
    except SQLAlchemyError:
        return JSONResponse(
            status_code=503,
            content={"status": "unavailable", "database": "unreachable"},
        )
    content: dict[str, object] = {"status": "ok", "database": "ok"}
    for name, report in state.health_reports.items():
        parts = report()
        content[name] = parts
        if "degraded" in parts.values():
            content["status"] = "degraded"
    return JSONResponse(content=content)
