"""Driving reporters against a running service: posting a webhook the way its platform does
(re-sent until it is acknowledged), and a person's side of a conversation (write, wait for the
answer, read, write again).

Every wait has a deadline; a message never answered is recorded as such, not waited for
forever.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import httpx

from tests.faults.platforms import Delivery, Phones
from tests.faults.reporters import Reporter, Request, Signer

Key = tuple[str, str]  # (channel, address)


class Inbox:
    """Every message delivered to a reporter, awaitable from the event loop (the fakes run in
    threads and call in through `Phones.on_delivery`)."""

    def __init__(self, phones: Phones, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self.got: dict[Key, list[Delivery]] = defaultdict(list)
        self._events: dict[Key, asyncio.Event] = defaultdict(asyncio.Event)
        phones.on_delivery = self._from_thread

    def _from_thread(self, delivery: Delivery) -> None:
        self._loop.call_soon_threadsafe(self.arrive, delivery)

    def arrive(self, delivery: Delivery) -> None:
        key = (delivery.channel, delivery.address)
        self.got[key].append(delivery)
        self._events[key].set()

    def count(self, key: Key) -> int:
        return len(self.got[key])

    async def answer(
        self, key: Key, seen: int, *, timeout: float, quiet: float = 0.3
    ) -> list[Delivery]:
        """What arrives after the first `seen` messages: waits up to `timeout` for the first
        one, then until nothing more has come for `quiet` seconds (a turn may answer with
        several messages). Empty when nothing came in time."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        event = self._events[key]
        while len(self.got[key]) <= seen:
            remaining = deadline - loop.time()
            if remaining <= 0:
                return []
            event.clear()
            try:
                await asyncio.wait_for(event.wait(), remaining)
            except TimeoutError:
                return []
        # A turn's messages come one after another; 50 rounds of quiet is far beyond any turn.
        for _ in range(50):
            count = len(self.got[key])
            event.clear()
            try:
                await asyncio.wait_for(event.wait(), quiet)
            except TimeoutError:
                break
            if len(self.got[key]) == count:
                break
        return list(self.got[key][seen:])


@dataclass
class Posted:
    status: int | None  # None: never acknowledged before the deadline
    attempts: int
    latency: float  # of the attempt that was acknowledged (or the last one)
    first_try_at: float
    accepted_at: float | None
    body: bytes = b""
    errors: list[str] = field(default_factory=list)


async def post_until_stored(
    client: httpx.AsyncClient,
    base: Callable[[], str],
    request: Request,
    *,
    deadline: float = 60.0,
    timeout: float = 10.0,
) -> Posted:
    """Posts until acknowledged, as Telegram, Zalo and Twilio re-send a webhook that was not:
    on a refused connection, a timeout, a 5xx or a 429 (after its Retry-After), with a short
    back-off. A 4xx other than 429 is final (the request itself is wrong)."""
    began = time.time()
    stop = time.monotonic() + deadline
    backoff = 0.1
    posted = Posted(None, 0, 0.0, began, None)
    while True:
        posted.attempts += 1
        started = time.perf_counter()
        wait = backoff
        try:
            response = await client.post(
                base() + request.path,
                content=request.content,
                headers=request.headers,
                timeout=timeout,
            )
        except httpx.TransportError as exc:
            posted.errors.append(type(exc).__name__)
        else:
            posted.latency = time.perf_counter() - started
            posted.status = response.status_code
            posted.body = response.content
            if response.status_code < 300:
                posted.accepted_at = time.time()
                return posted
            posted.errors.append(str(response.status_code))
            if response.status_code == 429:
                wait = min(2.0, float(response.headers.get("Retry-After", "1") or 1))
            elif response.status_code < 500:
                return posted
        if time.monotonic() + wait > stop:
            posted.status = None
            return posted
        await asyncio.sleep(wait)
        backoff = min(1.0, backoff * 2)


@dataclass
class Said:
    """One message a person wrote, and what came back."""

    reporter: Reporter
    index: int
    text: str
    request: Request
    posted: Posted
    answers: list[Delivery]

    @property
    def answered_at(self) -> float | None:
        return self.answers[0].at if self.answers else None


async def talk(
    reporter: Reporter,
    client: httpx.AsyncClient,
    base: Callable[[], str],
    signer: Signer,
    inbox: Inbox,
    *,
    answer_timeout: float = 45.0,
    pause: float = 0.0,
    post_deadline: float = 60.0,
    progress: list[Said] | None = None,
) -> list[Said]:
    """A person's conversation: each message written once its answer has come (or
    `answer_timeout` passed without one), after `pause` seconds of reading. Each message is
    also appended to `progress` as soon as it is answered (others watch the stream's pace)."""
    key = (reporter.channel, reporter.address)
    said: list[Said] = []
    after = 0
    for index, text in enumerate(reporter.texts):
        seen = inbox.count(key)
        request = signer.request(reporter, index, after)
        posted = await post_until_stored(client, base, request, deadline=post_deadline)
        answers: list[Delivery] = []
        if posted.status is not None and posted.status < 300:
            if reporter.channel == "webchat":
                # The page gets its answers with its own request.
                after = webchat_answers(reporter, posted, inbox, after)
            answers = await inbox.answer(key, seen, timeout=answer_timeout)
        said.append(Said(reporter, index, text, request, posted, answers))
        if progress is not None:
            progress.append(said[-1])
        if pause:
            await asyncio.sleep(pause)
    return said


def webchat_answers(reporter: Reporter, posted: Posted, inbox: Inbox, after: int) -> int:
    """Hands the messages a web-chat answer carried to the inbox; returns the last id seen."""
    return _webchat_messages(reporter, posted.body, posted.accepted_at, inbox, after)


async def webchat_poll(
    client: httpx.AsyncClient, base: str, reporter: Reporter, inbox: Inbox, after: int
) -> int:
    """What the page's poll (GET /webchat/messages) fetches; returns the last id seen."""
    try:
        response = await client.get(
            f"{base}/webchat/messages",
            params={"session_id": reporter.address, "after": after},
            timeout=10,
        )
    except httpx.HTTPError:
        return after
    if response.status_code != 200:
        return after
    return _webchat_messages(reporter, response.content, time.time(), inbox, after)


def _webchat_messages(
    reporter: Reporter, body: bytes, at: float | None, inbox: Inbox, after: int
) -> int:
    for message in json.loads(body or b"{}").get("messages", []):
        after = max(after, int(message["id"]))
        if message.get("clear") or not message.get("text"):
            continue
        inbox.arrive(
            Delivery(
                "webchat",
                reporter.address,
                str(message["text"]),
                str(message["id"]),
                at or time.time(),
                confirmed=True,
            )
        )
    return after


def finished(progress: Sequence[Said], reporters: Sequence[Reporter]) -> set[int]:
    """The reporters (by number) who have written all their messages."""
    counts = Counter(s.reporter.number for s in progress)
    return {r.number for r in reporters if counts[r.number] == len(r.texts)}
