"""The group commit: callers at the same time share a round; each returns once its own items
are written, or with its round's error, and a failed round does not stop the next."""

from __future__ import annotations

import asyncio
import threading

import pytest

from bot.messaging.grouped import GroupCommit


class Writes:
    def __init__(self) -> None:
        self.rounds: list[list[int]] = []
        # A round holding one of these fails whole, as a transaction does.
        self.refused: set[int] = set()
        self.release = threading.Event()
        self.release.set()

    def __call__(self, items: list[int]) -> None:
        self.release.wait(5)
        if self.refused & set(items):
            raise RuntimeError("the database went away")
        self.rounds.append(items)

    def written(self) -> set[int]:
        return {item for items in self.rounds for item in items}


async def test_a_lone_caller_is_written_at_once_in_a_round_of_its_own() -> None:
    writes = Writes()
    commit = GroupCommit(writes)
    await commit([1, 2])
    assert writes.rounds == [[1, 2]]
    await commit([3])
    assert writes.rounds == [[1, 2], [3]]


async def test_callers_arriving_during_a_round_share_the_next_and_each_returns_once_written() -> (
    None
):
    writes = Writes()
    writes.release.clear()  # the first round is held in its thread while the others arrive
    commit = GroupCommit(writes)
    returned: list[int] = []

    async def caller(n: int) -> None:
        await commit([n])
        assert n in writes.written()  # never before its own items are written
        returned.append(n)

    first = asyncio.create_task(caller(0))
    await asyncio.sleep(0.05)
    others = [asyncio.create_task(caller(n)) for n in range(1, 31)]
    await asyncio.sleep(0.05)
    assert returned == []
    writes.release.set()
    await asyncio.gather(first, *others)
    assert sorted(returned) == list(range(31))
    assert writes.rounds[0] == [0]
    assert sorted(writes.rounds[1]) == list(range(1, 31))
    assert len(writes.rounds) == 2


async def test_a_failed_round_fails_its_callers_only_and_the_next_round_is_written() -> None:
    writes = Writes()
    writes.refused = {2}
    writes.release.clear()
    commit = GroupCommit(writes)
    first = asyncio.create_task(commit([0]))
    await asyncio.sleep(0.05)
    second = [asyncio.create_task(commit([n])) for n in (1, 2)]  # the next round, together
    await asyncio.sleep(0.05)
    writes.release.set()
    await first
    for task in second:
        with pytest.raises(RuntimeError, match="went away"):
            await task
    await commit([3])
    assert writes.written() == {0, 3}


# The abandoned loop's writer is never run: that is the case under test.
@pytest.mark.filterwarnings("ignore:coroutine 'GroupCommit._rounds' was never awaited")
def test_a_writer_left_on_a_closed_loop_does_not_hold_the_next_loops_callers() -> None:
    writes = Writes()
    commit = GroupCommit(writes)
    first = asyncio.new_event_loop()
    abandoned: list[asyncio.Future[None]] = []

    async def queue_and_leave() -> None:
        # The caller queues its items and creates the writer; the loop stops before the
        # writer's first step and is closed without cancelling it.
        abandoned.append(asyncio.ensure_future(commit([1])))

    first.run_until_complete(queue_and_leave())
    first.close()
    asyncio.run(asyncio.wait_for(commit([2]), 5))
    assert writes.rounds == [[2]]
