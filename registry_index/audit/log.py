"""The audit log over the store: create-only event objects extended by every instance.

Each event is written create-only at the next sequence number and names the hash of the
event before it. Two writers racing for one number cannot both win; the loser reads the
winner's hash and takes the next number. A head hint lets a new process find the end of
the chain without listing it.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from ..domain.model import utc_now
from ..storage import ObjectConflict, ObjectNotFound, Storage, StorageError
from .events import GENESIS, AuditEvent, EventKind, Origin, chain_problems

log = logging.getLogger("registry_index")

HEAD = "audit/head.json"
PREFIX = "audit/events/"


# Caps on what a client can choose (a user name, a user agent), so every event stays small.
MAX_ACTOR = 100
MAX_USER_AGENT = 200
MAX_DETAIL = 2000


def _capped(value: Any) -> Any:
    return value[:MAX_DETAIL] if isinstance(value, str) else value


def event_key(seq: int) -> str:
    return f"{PREFIX}{seq:012d}.json"


@dataclass(frozen=True, slots=True)
class AuditQuery:
    project: str | None = None
    actor: str | None = None
    action: str | None = None
    since: str | None = None  # ISO time, inclusive
    until: str | None = None

    def matches(self, event: AuditEvent) -> bool:
        return (
            (self.project is None or event.project == self.project)
            and (self.actor is None or event.actor == self.actor)
            and (
                self.action is None
                or event.action == self.action
                or event.action.startswith(self.action + ":")
            )
            and (self.since is None or event.time >= self.since)
            and (self.until is None or event.time <= self.until)
        )


@runtime_checkable
class AuditLog(Protocol):
    async def record(
        self, kind: EventKind, actor: str, origin: Origin | None = None, **details: Any
    ) -> AuditEvent: ...

    def events(self, query: AuditQuery | None = None) -> AsyncIterator[AuditEvent]: ...

    async def verify(self) -> list[str]: ...


class StorageAuditLog:
    def __init__(self, storage: Storage, retries: int = 5) -> None:
        self.storage = storage
        self.retries = retries
        self._lock = asyncio.Lock()
        self._tail: tuple[int, str] | None = None  # next seq, hash of the last event
        self._cache: dict[int, AuditEvent] = {}  # events never change once written

    async def _read(self, seq: int) -> AuditEvent:
        event = self._cache.get(seq)
        if event is None:
            event = AuditEvent.from_json((await self.storage.get(event_key(seq))).data)
            self._cache[seq] = event
        return event

    async def _find_tail(self) -> tuple[int, str]:
        seq = 0
        try:
            seq = int(json.loads((await self.storage.get(HEAD)).data)["next"])
        except (ObjectNotFound, ValueError, KeyError):
            seq = 0
        # The hint may lag (or run ahead after a crash): walk to the true end.
        while seq > 0:
            try:
                await self._read(seq - 1)
                break
            except ObjectNotFound:
                seq -= 1
        prev = GENESIS if seq == 0 else (await self._read(seq - 1)).hash
        while True:
            try:
                event = await self._read(seq)
            except ObjectNotFound:
                return seq, prev
            prev, seq = event.hash, seq + 1

    async def record(
        self, kind: EventKind, actor: str, origin: Origin | None = None, **details: Any
    ) -> AuditEvent:
        origin = origin or Origin()
        delay = 0.05
        for attempt in range(self.retries):
            try:
                return await self._append(kind, actor, origin, details)
            except StorageError:
                if attempt == self.retries - 1:
                    raise
                self._tail = None
                await asyncio.sleep(delay)
                delay *= 2
        raise AssertionError("unreachable")

    async def _append(
        self, kind: EventKind, actor: str, origin: Origin, details: dict[str, Any]
    ) -> AuditEvent:
        cleaned: dict[str, Any] = {k: _capped("" if v is None else v) for k, v in details.items()}
        async with self._lock:
            seq, prev = self._tail or await self._find_tail()
            while True:
                event = AuditEvent(
                    seq=seq,
                    time=utc_now(),
                    actor=actor[:MAX_ACTOR],
                    action=str(kind),
                    client=origin.client[:64],
                    user_agent=origin.user_agent[:MAX_USER_AGENT],
                    prev=prev,
                    **cleaned,
                ).sealed()
                try:
                    await self.storage.put(event_key(seq), event.to_json(), create_only=True)
                    break
                except ObjectConflict:
                    other = await self._read(seq)  # another instance took this number
                    prev, seq = other.hash, seq + 1
            self._cache[seq] = event
            self._tail = (seq + 1, event.hash)
        try:
            await self.storage.put(HEAD, json.dumps({"next": seq + 1}).encode())
        except StorageError:
            log.warning("could not update the audit head hint; the next writer walks forward")
        return event

    async def _all(self) -> list[AuditEvent]:
        seqs = [
            int(info.key.removeprefix(PREFIX).removesuffix(".json"))
            async for info in self.storage.list(PREFIX)
            if info.key.endswith(".json")
        ]
        seqs.sort()
        return [await self._read(seq) for seq in seqs]

    async def events(self, query: AuditQuery | None = None) -> AsyncIterator[AuditEvent]:
        query = query or AuditQuery()
        for event in await self._all():
            if query.matches(event):
                yield event

    async def verify(self) -> list[str]:
        self._cache.clear()  # verify what is stored, not what this process remembers
        events = await self._all()
        problems = chain_problems(events)
        try:
            hinted = int(json.loads((await self.storage.get(HEAD)).data)["next"])
        except (ObjectNotFound, ValueError, KeyError):
            hinted = 0
        if hinted > len(events) and not problems:
            problems.append(f"the log ends at event {len(events) - 1} but event {hinted - 1} was written")
        return problems
