"""Admin pins: a name not hosted here served from one named upstream only (issue 14).

Pins are kept in the store, all in one object (they are few), so every instance and the admin
CLI agree on them; the server checks the upstream's name against its ``--upstream`` list when
the name is requested.
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


def _decode(data: bytes) -> dict[str, str]:
    return {str(name): str(upstream) for name, upstream in json.loads(data)["pins"].items()}


def _encode(pins: dict[str, str]) -> bytes:
    return json.dumps({"schema": 1, "pins": dict(sorted(pins.items()))}, separators=(",", ":")).encode()


class Pins:
    def __init__(self, storage: Storage, audit: AuditLog | None = None, freshness: float = 1.0) -> None:
        self._audit = audit
        self._pins: CachedObjects[dict[str, str]] = CachedObjects(
            storage, _decode, _encode, freshness, name="pins"
        )

    async def get(self, normalized: str) -> str | None:
        pins, _ = await self._pins.read(keys.upstream_pins())
        return (pins or {}).get(normalized)

    def peek(self, normalized: str) -> tuple[bool, str | None]:
        """(known, pin) from memory: known is False when the store must be asked."""
        seen = self._pins.peek(keys.upstream_pins())
        return (False, None) if seen is None else (True, (seen[0] or {}).get(normalized))

    async def pin(self, name: str, upstream: str, *, actor: str = "cli") -> str:
        """Serve ``name`` from ``upstream`` (its id, as `registry-index serve` logs it) only."""
        normalized = self._checked(name)
        if not _UPSTREAM_ID.match(upstream):
            raise InvalidRequest(
                f"{upstream!r} is not an upstream id: use the id the server derives from the URL "
                "(e.g. pypi-org for https://pypi.org/simple/)."
            )
        await self._pins.update(keys.upstream_pins(), lambda pins: {**(pins or {}), normalized: upstream})
        if self._audit is not None:
            await self._audit.record(EventKind.PIN, actor, project=normalized, detail=f"upstream {upstream}")
        return normalized

    async def unpin(self, name: str, *, actor: str = "cli") -> str:
        normalized = self._checked(name)

        def without(pins: dict[str, str] | None) -> dict[str, str]:
            if normalized not in (pins or {}):
                raise NotFound(f"{normalized!r} is not pinned to an upstream.")
            return {n: u for n, u in (pins or {}).items() if n != normalized}

        await self._pins.update(keys.upstream_pins(), without)
        if self._audit is not None:
            await self._audit.record(EventKind.UNPIN, actor, project=normalized)
        return normalized

    @staticmethod
    def _checked(name: str) -> str:
        if not is_valid_name(name):
            raise InvalidRequest(f"{name[:200]!r} is not a valid project name.")
        return normalize(name)
