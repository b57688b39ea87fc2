"""Admin pins: a name not hosted here served from one named upstream only (issue 14).

A pin is kept in the store, so every instance and the admin CLI agree on it; the server
checks the upstream's name against its ``--upstream`` list when the name is requested.
"""

from __future__ import annotations

import json
import re

from ..audit import AuditLog, EventKind
from ..domain import keys
from ..errors import InvalidRequest, NotFound
from ..names import is_valid_name, normalize
from ..storage import Storage
from ..storage.cached import CachedObjects

_UPSTREAM_ID = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")


def _decode(data: bytes) -> str:
    return str(json.loads(data)["upstream"])


def _encode(upstream: str) -> bytes:
    return json.dumps({"schema": 1, "upstream": upstream}, separators=(",", ":")).encode()


class Pins:
    def __init__(self, storage: Storage, audit: AuditLog | None = None, freshness: float = 1.0) -> None:
        self._storage = storage
        self._audit = audit
        self._pins: CachedObjects[str] = CachedObjects(storage, _decode, _encode, freshness)

    async def get(self, normalized: str) -> str | None:
        pin, _ = await self._pins.read(keys.upstream_pin(normalized))
        return pin

    def peek(self, normalized: str) -> tuple[bool, str | None]:
        """(known, pin) from memory: known is False when the store must be asked."""
        seen = self._pins.peek(keys.upstream_pin(normalized))
        return (False, None) if seen is None else (True, seen[0])

    async def pin(self, name: str, upstream: str, *, actor: str = "cli") -> str:
        """Serve ``name`` from ``upstream`` (its id, as `registry-index serve` logs it) only."""
        normalized = self._checked(name)
        if not _UPSTREAM_ID.match(upstream):
            raise InvalidRequest(
                f"{upstream!r} is not an upstream id: use the id the server derives from the URL "
                "(e.g. pypi-org for https://pypi.org/simple/)."
            )
        await self._pins.update(keys.upstream_pin(normalized), lambda _current: upstream)
        if self._audit is not None:
            await self._audit.record(EventKind.PIN, actor, project=normalized, detail=f"upstream {upstream}")
        return normalized

    async def unpin(self, name: str, *, actor: str = "cli") -> str:
        normalized = self._checked(name)
        current, _ = await self._pins.read_fresh(keys.upstream_pin(normalized))
        if current is None:
            raise NotFound(f"{normalized!r} is not pinned to an upstream.")
        await self._storage.delete(keys.upstream_pin(normalized))
        self._pins.forget(keys.upstream_pin(normalized))
        if self._audit is not None:
            await self._audit.record(EventKind.UNPIN, actor, project=normalized)
        return normalized

    @staticmethod
    def _checked(name: str) -> str:
        if not is_valid_name(name):
            raise InvalidRequest(f"{name[:200]!r} is not a valid project name.")
        return normalize(name)
