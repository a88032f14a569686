"""A group commit: what many concurrent callers hand in is written in one database thread and
one transaction per round. A caller arriving while a round is being written waits for the
next round, which takes everyone who arrived meanwhile; alone, a caller's round starts at once.

Under load this turns a transaction (and a hop to a database thread and back) per caller into
one per round, whatever the number of callers in it; each caller still returns only once what
it handed in is committed, or with the round's error.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Generic, TypeVar

from starlette.concurrency import run_in_threadpool

T = TypeVar("T")


class GroupCommit(Generic[T]):
    def __init__(
        self,
        write: Callable[[list[T]], None],
        run: Callable[[Callable[[list[T]], None], list[T]], Awaitable[Any]] = run_in_threadpool,
    ) -> None:
        # Writes every item of a round in one transaction, on a worker thread through `run`.
        self._write = write
        self._run = run
        self._waiting: list[tuple[list[T], asyncio.Future[None]]] = []
        self._writer: asyncio.Task[None] | None = None

    async def __call__(self, items: Sequence[T]) -> None:
        loop = asyncio.get_running_loop()
        committed: asyncio.Future[None] = loop.create_future()
        self._waiting.append((list(items), committed))
        if self._writer is None or self._writer.done() or self._writer.get_loop() is not loop:
            # A writer left pending on a loop that was closed never runs again; the callers
            # it would have answered were that loop's, and went with it.
            self._waiting = [entry for entry in self._waiting if entry[1].get_loop() is loop]
            self._writer = loop.create_task(self._rounds())
        await committed

    async def _rounds(self) -> None:
        while self._waiting:
            batch, self._waiting = self._waiting, []
            try:
                await self._run(self._write, [item for items, _ in batch for item in items])
            except asyncio.CancelledError:
                for _, committed in batch:
                    committed.cancel()
                for _, committed in self._waiting:
                    committed.cancel()
                self._waiting = []
                raise
            except Exception as exc:
                for _, committed in batch:
                    if not committed.done():
                        committed.set_exception(exc)
                continue
            for _, committed in batch:
                if not committed.done():
                    committed.set_result(None)
