"""Big projects' segments in the store (``domain/segments.py``): written before the sidecar
that names them, read once per process and kept, since a segment never changes."""

from __future__ import annotations

import asyncio
import contextlib
from collections import OrderedDict
from collections.abc import Sequence

from ..storage import ObjectConflict, ObjectNotFound, Storage
from . import keys
from .model import Project, Sealed, SidecarError
from .segments import decode_segment, missing, resolved, seal

_CONCURRENT_READS = 16


class SegmentStore:
    """Reads and writes segments; keeps the last ``budget`` bytes of them read or written."""

    def __init__(self, storage: Storage, budget: int = 64 * 1024**2) -> None:
        self.storage = storage
        self.budget = budget
        self._kept: OrderedDict[tuple[str, str], Sealed] = OrderedDict()
        self._weight = 0
        self.writes = 0  # segments written by this process (what a test of upload cost counts)

    async def resolve(self, project: Project) -> Project:
        """The whole project from a sidecar that names segments (itself when it names none)."""
        wanted = missing(project)
        if not wanted:
            return project
        found: dict[str, Sealed] = {}
        todo = []
        for segment in wanted:
            kept = self._kept.get((project.normalized, segment.digest))
            if kept is not None:
                self._kept.move_to_end((project.normalized, segment.digest))
                found[segment.digest] = kept
            else:
                todo.append(segment.digest)
        gate = asyncio.Semaphore(_CONCURRENT_READS)

        async def read(digest: str) -> Sealed:
            async with gate:
                try:
                    blob = await self.storage.get(keys.segment(project.normalized, digest))
                except ObjectNotFound:
                    raise SidecarError(
                        f"project {project.normalized!r}: segment {digest} is missing from the store"
                    ) from None
                return decode_segment(digest, blob.data)

        for segment in await asyncio.gather(*(read(d) for d in dict.fromkeys(todo))):
            found[segment.digest] = segment
            self._keep(project.normalized, segment)
        return resolved(project, found)

    async def prepare(self, project: Project) -> Project:
        """The project sealed, with any new segment written (create-only) before its sidecar."""
        sealed, new = seal(project)
        await self.write(project.normalized, [(segment, data) for segment, data in new])
        return sealed

    async def write(self, normalized: str, new: Sequence[tuple[Sealed, bytes]]) -> None:
        for segment, data in new:
            try:
                await self.storage.put(keys.segment(normalized, segment.digest), data, create_only=True)
                self.writes += 1
            except ObjectConflict:
                pass  # the same digest: the same bytes, written by an earlier or racing write
            self._keep(normalized, segment)

    async def delete_all(self, normalized: str) -> None:
        """Every segment of a project (it is being deleted)."""
        doomed = [info.key async for info in self.storage.list(keys.segments(normalized))]
        for key in doomed:
            with contextlib.suppress(ObjectNotFound):
                await self.storage.delete(key)
        for k in [k for k in self._kept if k[0] == normalized]:
            self._weight -= self._kept.pop(k).size

    def _keep(self, normalized: str, segment: Sealed) -> None:
        key = (normalized, segment.digest)
        if key in self._kept:
            self._kept.move_to_end(key)
            return
        self._kept[key] = segment
        self._weight += segment.size
        while self._weight > self.budget and len(self._kept) > 1:
            _, old = self._kept.popitem(last=False)
            self._weight -= old.size
