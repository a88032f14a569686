from __future__ import annotations

from typing import Literal

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from intake_api.deps import SessionDep, StateDep

router = APIRouter(tags=["health"])


class HealthOut(BaseModel):
    # "degraded": the service answers, but a part served beside it (a channel) is down.
    status: Literal["ok", "degraded", "unavailable"]
    database: Literal["ok", "unreachable"]
    # Each channel of the bot served in the same process: "ok" or "degraded".
    channels: dict[str, Literal["ok", "degraded"]] | None = None


@router.get(
    "/healthz",
    response_model=HealthOut,
    response_model_exclude_none=True,
    responses={503: {"model": HealthOut, "description": "The database does not answer."}},
)
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
