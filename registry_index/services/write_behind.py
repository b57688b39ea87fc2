"""Store writes that run beside the answer: what is being written, and waiting for it.

The proxy answers a cold page or file as soon as it is verified and keeps it in the store
meanwhile. Until the write lands this process serves the value it holds (never asking the
upstream again for it), the response's last byte waits for the write, and a shutdown waits
for every write still in flight.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

log = logging.getLogger("registry_index")
V = TypeVar("V")
R = TypeVar("R")


class WriteBehind(Generic[V]):
    def __init__(self, what: str) -> None:
        self._what = what  # for the log: "upstream page", "relayed file"
        self._pending: dict[str, tuple[V, asyncio.Future[object]]] = {}

    def get(self, key: str) -> tuple[V, asyncio.Future[object]] | None:
        """The value being written under ``key``, and its write; None once it has landed."""
        return self._pending.get(key)

    def start(
        self, key: str, value: V, write: Awaitable[R], landed: Callable[[R], None] | None = None
    ) -> asyncio.Future[object]:
        """Run ``write`` beside the caller; ``landed`` gets its result if it succeeds."""
        future: asyncio.Future[object] = asyncio.ensure_future(write)
        self._pending[key] = (value, future)

        def done(finished: asyncio.Future[object]) -> None:
            if self._pending.get(key, (None, None))[1] is finished:
                del self._pending[key]
            if finished.cancelled():
                return
            if (exc := finished.exception()) is not None:
                log.error("%s %s was served but could not be stored: %s", self._what, key, exc)
            elif landed is not None:
                landed(finished.result())  # type: ignore[arg-type]

        future.add_done_callback(done)
        return future

    async def close(self) -> None:
        await asyncio.gather(*(write for _, write in self._pending.values()), return_exceptions=True)


async def landed(write: Awaitable[object]) -> None:
    """Wait for a write started with ``start``; its failure was logged where it failed."""
    with contextlib.suppress(Exception):
        await asyncio.shield(write)
