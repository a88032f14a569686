"""Web chat for a public website: one small page and a JSON endpoint, no external CDN.

The page keeps a random session id (the conversation's address). Every message the bot or a
staff member sends to a session waits in the database until the page fetches it, so bot
replies and staff replies take one path.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import HTMLResponse, JSONResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape
from pydantic import BaseModel, ConfigDict, Field, StringConstraints
from sqlalchemy import bindparam, select
from sqlalchemy.engine import Engine
from sqlmodel import Session

from bot.config import BotSettings
from bot.contract import (
    ChannelBase,
    ChannelContext,
    InboundHandler,
    InboundMessage,
    OutboundText,
    TextLimit,
    problem_with,
)
from bot.models import WebchatMessage
from bot.models import webchat_table as _webchat
from intake_api.db import DirectStatement, insert_rows, run_db

SESSION_PATTERN = r"^[A-Za-z0-9_\-]{16,64}$"
SessionId = Annotated[str, StringConstraints(pattern=SESSION_PATTERN)]
_templates = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=select_autoescape(["html"]),
)


# Every request of the page (its post and its poll) asks this: read on the cursor
# (intake_api.db.DirectStatement), not loaded as model objects.
_WAITING_AFTER = DirectStatement(
    select(_webchat.c.id, _webchat.c.text, _webchat.c.quick_replies, _webchat.c["clear"])
    .where(_webchat.c.session_id == bindparam("key"), _webchat.c.id > bindparam("after"))
    .order_by(_webchat.c.id)
    .limit(100)
)


class WebchatIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    session_id: SessionId
    message_id: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_\-]{1,64}$")]
    text: Annotated[str, StringConstraints(min_length=1, max_length=4000)] | None = None
    after: int = Field(default=0, ge=0, le=2**62)


class WebchatChannel(ChannelBase):
    """Always on: the page and its JSON endpoint are served by this app itself."""

    name = "webchat"
    limit = TextLimit(4000, "chars")
    # The page shows the answer returned with its own POST.
    waits_for_replies = True

    @classmethod
    def from_settings(cls, settings: BotSettings, context: ChannelContext) -> WebchatChannel:
        return cls(context.engine, dict(context.hotlines), context.address_key)

    def __init__(
        self, engine: Engine, hotlines: dict[str, str], address_key: Callable[[str], str]
    ) -> None:
        self._engine = engine
        # The page shows the emergency numbers before anyone types (from configuration).
        self._hotlines = hotlines
        # Messages wait under a keyed hash of the session id, never the id itself.
        self._key = address_key

    async def send(self, message: OutboundText) -> str | None:
        (sent,) = await self.send_all([message])
        return sent

    async def send_all(self, messages: Sequence[OutboundText]) -> list[str | None]:
        """A turn's replies wait for the page together: one transaction."""

        def store() -> list[str | None]:
            with Session(self._engine) as session:
                rows = [
                    WebchatMessage(
                        session_id=self._key(message.recipient_id),
                        text=message.text,
                        quick_replies=list(message.quick_replies) or None,
                    )
                    for message in messages
                ]
                insert_rows(session, rows)
                session.commit()
                return [str(row.id) for row in rows]

        return await run_db(store)

    async def delete(self, recipient_id: str, message_ids: list[str]) -> int:
        """After `/xoa` the stored messages are gone already; a marker tells the page to clear
        what it still shows (its own copy of the conversation)."""

        def mark() -> None:
            with Session(self._engine) as session:
                session.add(WebchatMessage(session_id=self._key(recipient_id), text="", clear=True))
                session.commit()

        await run_db(mark)
        return len(message_ids)

    def messages_after(self, session_id: str, after: int) -> list[dict[str, Any]]:
        with Session(self._engine) as session:
            rows = _WAITING_AFTER.execute(
                session, {"key": self._key(session_id), "after": after}
            ).rows
        return [
            {"id": id_, "text": text, "quick_replies": quick or [], "clear": bool(clear)}
            for id_, text, quick, clear in rows
        ]

    def router(self, handler: InboundHandler) -> APIRouter:
        router = APIRouter(tags=["webchat"])

        @router.get("/chat", response_class=HTMLResponse, include_in_schema=False)
        def page() -> HTMLResponse:
            html = _templates.get_template("webchat.html").render(
                new_session=secrets.token_urlsafe(24), hotlines=self._hotlines
            )
            return HTMLResponse(html, headers={"Cache-Control": "no-store"})

        @router.post("/webchat/messages")
        async def post_message(body: WebchatIn) -> JSONResponse:
            if body.text is not None and body.text.strip():
                message = InboundMessage(
                    channel=self.name,
                    sender_id=body.session_id,
                    message_id=f"{body.session_id}:{body.message_id}",
                    text=body.text,
                )
                problem = problem_with(message)
                if problem is not None:
                    return JSONResponse({"detail": problem}, status_code=422)
                await handler(message)
            messages = await run_db(self.messages_after, body.session_id, body.after)
            return JSONResponse({"messages": messages})

        @router.get("/webchat/messages")
        async def get_messages(
            session_id: Annotated[str, Query(pattern=SESSION_PATTERN)],
            after: Annotated[int, Query(ge=0, le=2**62)] = 0,
        ) -> JSONResponse:
            messages = await run_db(self.messages_after, session_id, after)
            return JSONResponse({"messages": messages})

        return router
