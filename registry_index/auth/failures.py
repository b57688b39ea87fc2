"""Failed logins go to the audit log at a bounded rate, so anonymous clients can't grow it.

Each failure is an event while this process has written fewer than ``per_minute`` of them
this minute; beyond that, and for attempts refused by the throttle, failures are only
counted, and one summary event with the count is written when the next minute's first
failure arrives (or when the server stops). The audit log's own caps keep each event
small whatever user name or user agent the client chose.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable

from ..audit import AuditLog, EventKind, Origin
from ..storage import StorageError


class FailedLogins:
    def __init__(
        self, audit: AuditLog, per_minute: int = 30, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.audit = audit
        self.per_minute = per_minute
        self._clock = clock
        self._minute = -1
        self._written = 0
        self._suppressed = 0
        self._addresses: set[str] = set()

    async def record(self, name: str, origin: Origin, path: str, *, throttled: bool = False) -> None:
        minute = int(self._clock() // 60)
        if minute != self._minute:
            await self.flush()
            self._minute, self._written = minute, 0
        if throttled or self._written >= self.per_minute:
            self._suppressed += 1
            if len(self._addresses) < 1000:
                self._addresses.add(origin.client)
            return
        self._written += 1
        with contextlib.suppress(StorageError):
            await self.audit.record(
                EventKind.LOGIN_FAILED,
                name or "(unknown)",
                origin,
                outcome="refused",
                detail=path[:200],
            )

    async def flush(self) -> None:
        """Write the summary of what was only counted, if anything was."""
        if not self._suppressed:
            return
        count, addresses = self._suppressed, len(self._addresses)
        self._suppressed, self._addresses = 0, set()
        with contextlib.suppress(StorageError):
            await self.audit.record(
                EventKind.LOGIN_FAILED,
                "(summary)",
                Origin(),
                outcome="refused",
                detail=(
                    f"{count} more failed or throttled logins from {addresses} addresses were counted, "
                    f"not recorded one by one (over {self.per_minute} a minute, or throttled)"
                ),
            )
