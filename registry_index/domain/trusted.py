"""Trusted publishers and spent OIDC tokens, in the store.

Publishers are one object moved by compare-and-swap: they are few (one or two per project
that uses them), read at each exchange and changed by an admin. A spent token is a
create-only object named by the digest of its issuer and ``jti``: the first instance to
write it wins, so a token replayed to another instance is refused too.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable

from ..storage import ObjectConflict, Storage
from ..storage.cached import CachedObjects
from ..trusted.publishers import Publisher, publishers_from_json, publishers_to_json
from . import keys


class PublisherStore:
    def __init__(self, storage: Storage, freshness: float = 1.0) -> None:
        self._objects: CachedObjects[tuple[Publisher, ...]] = CachedObjects(
            storage,
            publishers_from_json,
            publishers_to_json,
            freshness,
            name="publishers",
            budget=4 * 1024**2,
        )

    async def all(self) -> tuple[Publisher, ...]:
        found, _ = await self._objects.read(keys.TRUSTED_PUBLISHERS)
        return found or ()

    async def fresh(self) -> tuple[Publisher, ...]:
        """As the store holds them now: what an exchange decides on."""
        found, _ = await self._objects.read_fresh(keys.TRUSTED_PUBLISHERS)
        return found or ()

    async def change(
        self, apply: Callable[[tuple[Publisher, ...]], tuple[Publisher, ...]]
    ) -> tuple[Publisher, ...]:
        def step(current: tuple[Publisher, ...] | None) -> tuple[Publisher, ...]:
            old = current or ()
            new = apply(old)
            return current if new == old and current is not None else new

        found, _ = await self._objects.update(keys.TRUSTED_PUBLISHERS, step)
        return found


class SpentTokens:
    def __init__(self, storage: Storage) -> None:
        self._storage = storage

    async def spend(self, issuer: str, once: str, expires: float) -> bool:
        """Mark the token spent; False when it was spent before (by any instance)."""
        digest = hashlib.sha256(f"{issuer}\n{once}".encode()).hexdigest()
        record = json.dumps({"iss": issuer, "exp": int(expires)}).encode()
        try:
            await self._storage.put(keys.spent_identity(digest), record, create_only=True)
        except ObjectConflict:
            return False
        return True
