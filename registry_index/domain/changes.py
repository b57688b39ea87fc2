"""The change feed: one create-only object per change, numbered 1, 2, 3, ... with no gaps.

Every sidecar write, deletion and root-index listing appends one small record
(``changes/<serial // 10,000>/<serial>.json``). A writer takes the number after the last one
it knows with a create-only write; when another instance took it first (a 412), the writer
reads what it missed and tries the next one. A record numbered N+1 is only ever written by a
writer that saw N exist, so the feed has no gaps: a reader follows it by asking for the next
number until the store says there is none. Nothing is ever rewritten, so two instances never
conflict on one hot object, and a change costs O(1) bytes whatever the size of the index.

The root index (``root_index.py``), search and mirrors (``GET /changes``) follow this feed
instead of listing the store.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import deque
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace

from ..storage import ObjectConflict, ObjectNotFound, Storage
from . import keys

Action = str  # "update" (a sidecar write), "delete", "list", "withdraw"
PROBE = 32  # how many serials a catch-up asks for at once
RECENT = 10_000  # records kept in memory for GET /changes and followers
APPEND_DEADLINE = 120.0  # seconds a writer keeps losing the race before it gives up


class FeedError(Exception):
    pass


@dataclass(frozen=True, slots=True)
class Change:
    """One change to one project, and the root-index state it leaves the project in."""

    serial: int
    project: str  # normalized name
    action: Action
    name: str = ""  # display name ("" when it is not listed)
    listed: bool = False  # on /simple/ after this change
    hidden: bool = False  # listed but quarantined: kept off /simple/
    created: str = ""  # the project's creation time: a re-created project ranks above its past
    project_serial: int = 0  # the sidecar's own serial (PEP 700 per project)
    at: float = 0.0  # Unix time of the append

    @property
    def rank(self) -> tuple[str, int]:
        """Orders two changes to one project written by racing instances: the later sidecar wins."""
        return (self.created, self.project_serial)

    def to_json(self) -> bytes:
        return json.dumps({"schema": 1, **asdict(self)}, separators=(",", ":"), sort_keys=True).encode()

    @classmethod
    def from_json(cls, data: bytes) -> Change:
        doc = json.loads(data)
        if doc.get("schema") != 1:
            raise FeedError(f"change record schema {doc.get('schema')!r} is not supported")
        return cls(
            serial=int(doc["serial"]),
            project=str(doc["project"]),
            action=str(doc["action"]),
            name=str(doc.get("name", "")),
            listed=bool(doc.get("listed", False)),
            hidden=bool(doc.get("hidden", False)),
            created=str(doc.get("created", "")),
            project_serial=int(doc.get("project_serial", 0)),
            at=float(doc.get("at", 0.0)),
        )

    def public(self) -> dict[str, object]:
        """The record as GET /changes shows it."""
        doc: dict[str, object] = {
            "serial": self.serial,
            "project": self.project,
            "action": self.action,
            "listed": self.listed and not self.hidden,
            "project_serial": self.project_serial,
            "timestamp": round(self.at, 3),
        }
        if self.name:
            doc["name"] = self.name
        return doc


Listener = Callable[[Change], None]


class ChangeFeed:
    """Appends to the feed and follows it; every record seen is handed to ``listeners`` in order."""

    def __init__(self, storage: Storage, clock: Callable[[], float] = time.time) -> None:
        self._storage = storage
        self._clock = clock
        self.head = 0  # the last serial this process has seen (and handed to its listeners)
        self.listeners: list[Listener] = []
        self.recent: deque[Change] = deque(maxlen=RECENT)
        self._lock = asyncio.Lock()
        # The rank of the last change seen for a project (the root index knows it).
        self.rank_of: Callable[[str], tuple[str, int]] = _no_rank

    def start_at(self, serial: int) -> None:
        """Follow from ``serial`` + 1 (a snapshot of the root index covers what came before)."""
        self.head = max(self.head, serial)

    async def append(self, change: Change, *, supersede: bool = False) -> Change:
        """Write ``change`` under the next free serial; returns it with that serial.

        With ``supersede`` (a deletion, which has no sidecar to rank it), the change ranks
        just above the last one seen for its project, after catching up.
        """
        deadline = time.monotonic() + APPEND_DEADLINE
        async with self._lock:
            while True:
                await self._catch_up_locked()
                ranked = change
                if supersede:
                    created, serial = self.rank_of(change.project)
                    ranked = replace(change, created=created, project_serial=serial + 1)
                numbered = replace(ranked, serial=self.head + 1, at=self._clock())
                try:
                    await self._storage.put(
                        keys.change(numbered.serial), numbered.to_json(), create_only=True
                    )
                except ObjectConflict:
                    if time.monotonic() > deadline:
                        raise FeedError(
                            f"could not append to the change feed for {APPEND_DEADLINE:.0f} s"
                        ) from None
                    continue  # another instance took it: read it, then take the next one
                self._seen(numbered)
                return numbered

    async def catch_up(self) -> int:
        """Read every record written since the last one seen; returns how many."""
        async with self._lock:
            return await self._catch_up_locked()

    async def _catch_up_locked(self) -> int:
        # One GET when nothing is new (the common case, every ``freshness`` seconds); when
        # something is, ask for twice as many at once each round, up to PROBE.
        read, width = 0, 1
        while True:
            batch = await asyncio.gather(*(self._read(self.head + 1 + i) for i in range(width)))
            for change in batch:
                if change is None:
                    return read
                self._seen(change)
                read += 1
            width = min(PROBE, width * 2)

    async def _read(self, serial: int) -> Change | None:
        try:
            blob = await self._storage.get(keys.change(serial))
        except ObjectNotFound:
            return None
        change = Change.from_json(blob.data)
        if change.serial != serial:
            raise FeedError(f"change record {keys.change(serial)} holds serial {change.serial}")
        return change

    def _seen(self, change: Change) -> None:
        if change.serial != self.head + 1:
            return  # a probe past a gap that a concurrent writer is filling: read again later
        self.head = change.serial
        self.recent.append(change)
        for listener in self.listeners:
            listener(change)

    async def since(self, serial: int, limit: int) -> list[Change]:
        """Up to ``limit`` records after ``serial``, oldest first (from memory when recent)."""
        await self.catch_up()
        if self.recent and self.recent[0].serial <= serial + 1:
            return [c for c in self.recent if c.serial > serial][:limit]
        wanted = range(serial + 1, min(self.head, serial + limit) + 1)
        found = await asyncio.gather(*(self._read(s) for s in wanted))
        return [c for c in found if c is not None]


def _no_rank(project: str) -> tuple[str, int]:
    return ("", 0)
