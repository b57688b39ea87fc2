"""What the upstream cache holds, and pruning it (``registry-index cache``).

Only objects under ``upstream/`` are ever touched: hosted files are not a cache. Blobs are
pruned oldest first (by when they were fetched and stored: a blob is written once, so that is
also when it was last needed from the upstream); a pruned blob is fetched again, and verified
again, when a client next asks for it. Pins are never pruned.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from ..domain import keys
from ..storage import ObjectInfo, Storage

Progress = Callable[[int, int, str], None]


@dataclass
class UpstreamUsage:
    upstream: str
    pages: int = 0
    blobs: int = 0
    bytes: int = 0
    oldest: float | None = None  # stored time of the oldest blob, seconds since the epoch
    newest: float | None = None


@dataclass
class PruneReport:
    removed: list[str] = field(default_factory=list)
    freed: int = 0
    kept_bytes: int = 0


def _upstream_of(key: str) -> tuple[str, str] | None:
    """(upstream id, "projects" | "blobs") for a cache key; None for pins and anything else."""
    parts = key[len(keys.UPSTREAM) :].split("/", 2)
    if len(parts) == 3 and parts[1] in ("projects", "blobs") and parts[0] != "pins":
        return parts[0], parts[1]
    return None


class UpstreamCache:
    def __init__(self, storage: Storage) -> None:
        self._storage = storage

    async def _objects(self) -> list[tuple[str, str, ObjectInfo]]:
        found = []
        async for info in self._storage.list(keys.UPSTREAM):
            kind = _upstream_of(info.key)
            if kind is not None:
                found.append((kind[0], kind[1], info))
        return found

    async def usage(self) -> list[UpstreamUsage]:
        by_upstream: dict[str, UpstreamUsage] = {}
        for upstream, kind, info in await self._objects():
            usage = by_upstream.setdefault(upstream, UpstreamUsage(upstream))
            if kind == "projects":
                usage.pages += 1
                continue
            usage.blobs += 1
            usage.bytes += info.size
            usage.oldest = info.modified if usage.oldest is None else min(usage.oldest, info.modified)
            usage.newest = info.modified if usage.newest is None else max(usage.newest, info.modified)
        return [by_upstream[name] for name in sorted(by_upstream)]

    async def prune(
        self,
        *,
        now: float,
        older_than: float | None = None,
        max_bytes: int | None = None,
        pages: bool = False,
        progress: Progress | None = None,
    ) -> PruneReport:
        """Remove blobs stored more than ``older_than`` seconds ago, then the oldest until the
        rest fit in ``max_bytes``; with ``pages``, the cached pages too (they are refetched)."""
        objects = await self._objects()
        blobs = sorted((info for _, kind, info in objects if kind == "blobs"), key=lambda i: i.modified)
        doomed: list[ObjectInfo] = []
        total = sum(i.size for i in blobs)
        for info in blobs:
            too_old = older_than is not None and now - info.modified > older_than
            too_big = max_bytes is not None and total > max_bytes
            if too_old or too_big:
                doomed.append(info)
                total -= info.size
        if pages:
            doomed += [info for _, kind, info in objects if kind == "projects"]
        report = PruneReport(kept_bytes=total)
        for n, info in enumerate(doomed, 1):
            await self._storage.delete(info.key)
            report.removed.append(info.key)
            report.freed += info.size if info.key.count("/blobs/") else 0
            if progress:
                progress(n, len(doomed), info.key)
        return report
