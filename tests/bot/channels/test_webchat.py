"""The web chat endpoint: what the page sends and fetches."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlmodel import Session, select

from bot.contract import OutboundText
from bot.runtime import BotRuntime
from bot.server import mount
from intake_api.models import Ticket
from intake_api.state import AppState
from tests.bot.conftest import SwitchableTransport, bot_for

SESSION = "page-session-0123456789abcdef"


@pytest.fixture
async def chat(
    api_state: AppState, transport: SwitchableTransport
) -> AsyncIterator[tuple[httpx.AsyncClient, BotRuntime]]:
    runtime = bot_for(api_state, transport)
    app = FastAPI()
    mount(app, runtime)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://testserver"
    ) as client:
        yield client, runtime


async def test_page_is_served_without_external_resources(
    chat: tuple[httpx.AsyncClient, BotRuntime],
) -> None:
    client, _ = chat
    page = await client.get("/chat")
    assert page.status_code == 200 and "<form" in page.text
    assert "http://" not in page.text and "https://" not in page.text  # no CDN
    assert "111" in page.text and "113" in page.text


async def test_message_gets_the_bots_answer_and_files_a_ticket(
    chat: tuple[httpx.AsyncClient, BotRuntime], api_state: AppState
) -> None:
    client, runtime = chat
    response = await client.post(
        "/webchat/messages",
        json={"session_id": SESSION, "message_id": "a1", "text": "cuu em, em bi nhot o lao"},
    )
    assert response.status_code == 200
    messages = response.json()["messages"]
    assert messages and "113" in messages[0]["text"]
    # The page has its answer first; the ticket is filed right after, in the background.
    await runtime.service.drain()
    with Session(api_state.engine) as session:
        (ticket,) = session.exec(select(Ticket)).all()
    assert ticket.channel == "webchat" and ticket.priority == "P1"
    # A resend of the same message id (a double click, a retry) is not answered twice.
    again = await client.post(
        "/webchat/messages",
        json={
            "session_id": SESSION,
            "message_id": "a1",
            "text": "cuu em, em bi nhot o lao",
            "after": messages[-1]["id"],
        },
    )
    assert again.json()["messages"] == []


async def test_the_answer_does_not_wait_for_the_ticket_to_be_filed(
    chat: tuple[httpx.AsyncClient, BotRuntime],
    api_state: AppState,
    transport: SwitchableTransport,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The person locked in somewhere reads "call 113" and the code at once, however slow the
    # API is to take the ticket.
    client, runtime = chat
    api_free = threading.Event()
    create = transport.inner.create

    def slow_create(*args: Any, **kwargs: Any) -> Any:
        assert api_free.wait(10)
        return create(*args, **kwargs)

    monkeypatch.setattr(transport.inner, "create", slow_create)
    response = await asyncio.wait_for(
        client.post(
            "/webchat/messages",
            json={"session_id": SESSION, "message_id": "s1", "text": "cứu em, em bị nhốt ở Lào"},
        ),
        timeout=5,
    )
    messages = response.json()["messages"]
    assert "113" in messages[0]["text"] and "TIP-" in " ".join(m["text"] for m in messages)
    with Session(api_state.engine) as session:
        assert session.exec(select(Ticket)).all() == []
    api_free.set()
    await runtime.service.drain()
    with Session(api_state.engine) as session:
        (ticket,) = session.exec(select(Ticket)).all()
    assert ticket.priority == "P1" and ticket.reference_code in messages[0]["text"] + "".join(
        m["text"] for m in messages
    )


async def test_staff_messages_wait_for_the_page_to_fetch_them(
    chat: tuple[httpx.AsyncClient, BotRuntime],
) -> None:
    client, runtime = chat
    await runtime.channels["webchat"].send(
        OutboundText("webchat", SESSION, "Cán bộ nhắn: chào bạn")
    )
    polled = await client.get("/webchat/messages", params={"session_id": SESSION})
    texts = [m["text"] for m in polled.json()["messages"]]
    assert texts == ["Cán bộ nhắn: chào bạn"]
    last = polled.json()["messages"][-1]["id"]
    later = await client.get("/webchat/messages", params={"session_id": SESSION, "after": last})
    assert later.json()["messages"] == []
    other = await client.get("/webchat/messages", params={"session_id": "someone-else-0123456789"})
    assert other.json()["messages"] == []


async def test_the_page_gets_quick_replies_and_the_marker_that_clears_it_in_order(
    chat: tuple[httpx.AsyncClient, BotRuntime],
) -> None:
    client, runtime = chat
    webchat = runtime.channels["webchat"]
    await webchat.send(OutboundText("webchat", SESSION, "Bạn cần gì?", ("Báo tin", "Hỏi")))
    await webchat.delete(SESSION, ["1"])
    await webchat.send(OutboundText("webchat", SESSION, "Hãy gọi 113"))
    polled = (await client.get("/webchat/messages", params={"session_id": SESSION})).json()
    shown = [(m["text"], m["quick_replies"], m["clear"]) for m in polled["messages"]]
    assert shown == [
        ("Bạn cần gì?", ["Báo tin", "Hỏi"], False),
        ("", [], True),
        ("Hãy gọi 113", [], False),
    ]
    ids = [m["id"] for m in polled["messages"]]
    assert ids == sorted(ids)
    after = await client.get("/webchat/messages", params={"session_id": SESSION, "after": ids[0]})
    assert [m["text"] for m in after.json()["messages"]] == ["", "Hãy gọi 113"]


@pytest.mark.parametrize(
    "body",
    [
        {"session_id": "short", "message_id": "a", "text": "x"},
        {"session_id": SESSION, "message_id": "a b", "text": "x"},
        {"session_id": SESSION, "message_id": "a", "text": "x" * 4001},
        {"session_id": SESSION, "message_id": "a", "text": "x", "extra": 1},
    ],
)
async def test_malformed_requests_are_422(
    chat: tuple[httpx.AsyncClient, BotRuntime], body: dict[str, object]
) -> None:
    client, _ = chat
    response = await client.post("/webchat/messages", json=body)
    assert response.status_code == 422
