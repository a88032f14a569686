"""The queue: the tickets the signed-in person may see, most urgent first, with the filters of
the API's ticket list, refreshed in the page without a reload."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from sqlmodel import Session

from intake_api.config import Settings
from intake_api.console.flags import flags_for
from intake_api.console.session import ConsoleSession
from intake_api.console.web import (
    PREFIX,
    SignedIn,
    page,
    render_text,
    require,
    settings_of,
)
from intake_api.db import utcnow
from intake_api.deps import SessionDep
from intake_api.enums import CLOSED_STATUSES, Channel, Priority, Status
from intake_api.identity import TICKET_ROLES
from intake_api.models import Ticket
from intake_api.rules.lifecycle import is_closed
from intake_api.tickets import TicketFilters, list_page, summaries

router = APIRouter(prefix=PREFIX, include_in_schema=False)

PAGE_SIZE = 50
OPEN_STATUSES = [s.value for s in Status if s not in CLOSED_STATUSES]
_USERNAME = re.compile(r"^[a-z0-9_.\-]{1,64}$")


@dataclass(frozen=True)
class QueueQuery:
    """The filters as chosen in the form; a value outside the known ones is dropped."""

    status: str = "open"
    priority: str = ""
    channel: str = ""
    province: str = ""
    agency: str = ""
    assignee: str = ""
    q: str = ""
    page: int = 1

    @classmethod
    def of(cls, params: Any, settings: Settings) -> QueueQuery:
        def pick(name: str, allowed: list[str], default: str = "") -> str:
            value = params.get(name, default)
            return value if value in allowed else default

        assignee = params.get("assignee", "")
        if assignee not in ("", "me", "none") and not _USERNAME.match(assignee):
            assignee = ""
        q = re.sub(r"[\x00-\x1f]", "", params.get("q", ""))[:100].strip()
        try:
            number = min(max(int(params.get("page", "1")), 1), 100_000)
        except ValueError:
            number = 1
        return cls(
            status=pick("status", ["open", "all", *[s.value for s in Status]], "open"),
            priority=pick("priority", [p.value for p in Priority]),
            channel=pick("channel", [c.value for c in Channel]),
            province=pick("province", list(settings.provinces)),
            agency=pick("agency", settings.agency_codes),
            assignee=assignee,
            q=q,
            page=number,
        )

    def filters(self, sess: ConsoleSession) -> TicketFilters:
        status: list[str] | None
        if self.status == "open":
            status = OPEN_STATUSES
        elif self.status == "all":
            status = None
        else:
            status = [self.status]
        assignee = sess.caller.username if self.assignee == "me" else self.assignee
        return TicketFilters(
            status=status,
            priority=[self.priority] if self.priority else None,
            agency=self.agency or None,
            province=self.province or None,
            channel=self.channel or None,
            assignee=assignee or None,
            q=self.q or None,
        )

    def query_string(self, **changes: Any) -> str:
        values = {**self.__dict__, **changes}
        kept = {k: str(v) for k, v in values.items() if v not in ("", None) and v != 1}
        if kept.get("status") == "open":
            kept.pop("status")
        return urlencode(kept)


def minutes_left(ticket: Ticket, now: datetime) -> int | None:
    """Minutes until the first response is due (negative: overdue); None once answered or
    closed, when the service level no longer runs."""
    if ticket.first_response_at is not None or is_closed(ticket.status):
        return None
    return math.floor((ticket.due_at - now).total_seconds() / 60)


def queue_rows(session: Session, sess: ConsoleSession, query: QueueQuery) -> dict[str, Any]:
    tickets, total = list_page(session, sess.caller, query.filters(sess), query.page, PAGE_SIZE)
    now = utcnow()
    flags = flags_for(session, tickets)
    rows = [
        {
            "t": summary,
            "intent": ticket.intent,
            "minutes_left": minutes_left(ticket, now),
            "flags": flags[ticket.id],
            "urgent": ticket.priority == Priority.P1 and not is_closed(ticket.status),
        }
        for ticket, summary in zip(tickets, summaries(session, tickets), strict=True)
    ]
    return {"rows": rows, "total": total, "pages": max(1, math.ceil(total / PAGE_SIZE))}


@router.get("")
def queue(request: Request, sess: SignedIn, db: SessionDep) -> Response:
    require(sess, TICKET_ROLES)
    settings = settings_of(request)
    query = QueueQuery.of(request.query_params, settings)
    return page(
        request,
        sess,
        "queue.html",
        query=query,
        statuses=[s.value for s in Status],
        priorities=[p.value for p in Priority],
        channels=[c.value for c in Channel],
        provinces=settings.provinces,
        agencies=settings.agencies,
        rows_url=f"{PREFIX}/queue/rows?{query.query_string()}",
        **queue_rows(db, sess, query),
    )


@router.get("/queue/rows")
def queue_fragment(request: Request, sess: SignedIn, db: SessionDep) -> Response:
    """The queue's rows for the page's refresh. Not activity: the session's idle clock keeps
    running while a queue is merely open (no cookie is re-sealed here)."""
    require(sess, TICKET_ROLES)
    query = QueueQuery.of(request.query_params, settings_of(request))
    data = queue_rows(db, sess, query)
    html = render_text("console/_queue_rows.html", rows=data["rows"], prefix=PREFIX)
    return JSONResponse(
        {
            "html": html,
            "ids": [row["t"].id for row in data["rows"]],
            "urgent": [row["t"].id for row in data["rows"] if row["urgent"]],
            "total": data["total"],
        },
        headers={"Cache-Control": "no-store"},
    )
