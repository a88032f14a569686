"""Several API processes and bot workers on one PostgreSQL (a province's deployment), proved
with real processes: work is shared through the database's own locks, never process memory."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import suppress
from pathlib import Path

import httpx
import pytest

from tests.multiprocess.harness import Deployment, deployment, staff_token

pytestmark = pytest.mark.slow
RESCUE = "cứu em với, em bị nhốt ở Campuchia"


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Deployment]:
    with deployment(tmp_path) as found:
        api1 = found.start("api1", "api")
        api2 = found.start("api2", "api")
        found.start("bot1", "bot", extra_env={"HOTLINE_INTAKE_URL": api1})
        found.start("bot2", "bot", extra_env={"HOTLINE_INTAKE_URL": api2})
        yield found


def _chat(
    url: str, session: str, text: str, message_id: str | None = None, after: int = 0
) -> httpx.Response:
    body = {"session_id": session, "message_id": message_id or uuid.uuid4().hex[:16]}
    return httpx.post(
        f"{url}/webchat/messages", json={**body, "text": text, "after": after}, timeout=60
    )


def _wait(condition, seconds: float = 30.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.2)


def test_rescues_through_two_workers_each_become_exactly_one_ticket(stack: Deployment) -> None:
    sessions = [f"mp-rescue-{i:02d}-{uuid.uuid4().hex[:8]}" for i in range(16)]
    bots = [stack.urls["bot1"], stack.urls["bot2"]]
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda i: _chat(bots[i % 2], sessions[i], RESCUE), range(16)))
    assert all(a.status_code == 200 for a in answers)
    _wait(lambda: stack.sql("SELECT count(*) FROM tickets")[0][0] == 16)
    time.sleep(2)  # nothing more arrives later
    codes = stack.sql("SELECT reference_code FROM tickets")
    assert len(codes) == 16 == len(set(codes))
    assert stack.sql("SELECT count(*) FROM bot_outbox WHERE state <> 'delivered'")[0][0] == 0


def test_a_staff_reply_is_delivered_once_when_two_workers_race_for_it(stack: Deployment) -> None:
    session = f"mp-staff-{uuid.uuid4().hex}"
    assert _chat(stack.urls["bot1"], session, RESCUE).status_code == 200
    _wait(lambda: stack.sql("SELECT count(*) FROM tickets")[0][0] == 1)
    (ticket_id,) = stack.sql("SELECT id FROM tickets")[0]
    headers = {"Authorization": f"Bearer {staff_token(stack.urls['api1'])}"}
    texts = [f"Cán bộ nhắn lần {n}" for n in range(8)]
    for n, text in enumerate(texts):
        api = stack.urls["api1" if n % 2 else "api2"]
        answer = httpx.post(
            f"{api}/api/v1/tickets/{ticket_id}/replies", json={"text": text}, headers=headers
        )
        assert answer.status_code in (200, 201), answer.text
    _wait(lambda: stack.sql("SELECT count(*) FROM replies WHERE state = 'delivered'")[0][0] == 8)
    page = httpx.get(
        f"{stack.urls['bot2']}/webchat/messages", params={"session_id": session}
    ).json()["messages"]
    shown = [m["text"] for m in page]
    for text in texts:
        assert sum(text in s for s in shown) == 1, text


def test_one_conversation_is_worked_in_order_by_one_worker_whichever_received_it(
    stack: Deployment,
) -> None:
    session = f"mp-order-{uuid.uuid4().hex}"
    bots = [stack.urls["bot1"], stack.urls["bot2"]]
    texts = ["xin chào", "cho hỏi số đường dây nóng", "cảm ơn", "tạm biệt"] * 2
    with ThreadPoolExecutor(4) as pool:
        list(pool.map(lambda i: _chat(bots[i % 2], session, texts[i], f"m{i}"), range(8)))
    _wait(
        lambda: stack.sql("SELECT count(*) FROM bot_inbound WHERE state = 'processed'")[0][0] == 8
    )
    rows = stack.sql("SELECT id, processed_at FROM bot_inbound ORDER BY id")
    processed = [r[1] for r in rows]
    assert processed == sorted(processed)  # stored order is the order worked
    replies = stack.sql("SELECT count(*) FROM bot_outgoing WHERE state = 'sent'")[0][0]
    assert replies >= 8


def test_a_killed_worker_leaves_its_messages_to_the_other_within_seconds(
    stack: Deployment,
) -> None:
    session = f"mp-kill-{uuid.uuid4().hex}"
    with ThreadPoolExecutor(1) as pool:
        pending = pool.submit(_chat, stack.urls["bot1"], session, RESCUE)
        _wait(lambda: stack.sql("SELECT count(*) FROM bot_inbound")[0][0] == 1, 20)
        stack.kill("bot1")  # stored; the answer may or may not have been worked
        with suppress(httpx.HTTPError):
            pending.result(timeout=30)
    killed_at = time.monotonic()
    _wait(
        lambda: stack.sql("SELECT count(*) FROM bot_inbound WHERE state = 'processed'")[0][0] == 1,
        40,
    )
    _wait(
        lambda: stack.sql("SELECT count(*) FROM bot_outgoing WHERE state = 'sent'")[0][0] >= 1, 40
    )
    _wait(lambda: stack.sql("SELECT count(*) FROM tickets")[0][0] == 1, 40)
    assert time.monotonic() - killed_at < 35
    page = httpx.get(
        f"{stack.urls['bot2']}/webchat/messages", params={"session_id": session}
    ).json()["messages"]
    assert any("113" in m["text"] for m in page)


def test_a_conversation_goes_on_after_every_process_restarts(stack: Deployment) -> None:
    session = f"mp-restart-{uuid.uuid4().hex}"
    first = _chat(stack.urls["bot1"], session, "em mới được giải cứu về, giờ cần hỗ trợ học nghề")
    asked_first = [m["text"] for m in first.json()["messages"]]
    seen = max(m["id"] for m in first.json()["messages"])
    for name in ("bot1", "bot2"):
        stack.kill(name)
    bot = stack.start("bot3", "bot", extra_env={"HOTLINE_INTAKE_URL": stack.urls["api1"]})
    second = _chat(bot, session, "em ở Nghệ An", after=seen)
    asked_next = [m["text"] for m in second.json()["messages"]]
    # The flow resumed where it was (the next question), not from its greeting again.
    assert asked_next and asked_next[-1] not in asked_first
    assert not any(text == asked_first[0] for text in asked_next)
