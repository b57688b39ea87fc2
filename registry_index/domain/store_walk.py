"""The store walked one project at a time: its sidecar key beside the objects under its files.

fsck needs, for each project, its sidecar and what is stored under ``files/NAME/``, and no
other project's; so it holds one project at a time and its memory does not grow with the
store. Rather than a global set of keys, the two listings are merge-joined by project.

That rests on the Storage contract that ``list`` yields keys in ascending (code point)
order: S3's ListObjectsV2 returns a general-purpose bucket's keys in UTF-8 binary order,
LocalStorage and MemoryStorage sort theirs, and the encryption and metrics wrappers pass the
inner order through. Sorted keys put all of ``files/NAME/`` together, and order ``files/``
by ``NAME + "/"``. ``projects/NAME.json`` is ordered by ``NAME + "."``, which agrees with
``NAME + "/"`` for every normalized name: both characters sort after ``-`` and before digits
and letters, the only other characters a normalized name holds. A listing seen to go
backwards (an S3 directory bucket, or a backend that does not sort) stops the walk with
``ListingOutOfOrder`` rather than report false orphans.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from ..storage import ObjectInfo, Storage, StorageError
from . import keys


class ListingOutOfOrder(StorageError):
    def __init__(self, previous: str, key: str) -> None:
        super().__init__(previous, key)
        self.previous, self.key = previous, key

    def __str__(self) -> str:
        return (
            f"the store listed {self.key!r} after {self.previous!r}: this walk needs keys in "
            "ascending order (S3 general-purpose buckets, local directories and memory: do list "
            "them so); use a backend that lists in key order"
        )


@dataclass(slots=True)
class ProjectKeys:
    """One project's keys: ``sidecar`` None when only files are stored under its name."""

    name: str
    sidecar: str | None = None
    files: list[ObjectInfo] = field(default_factory=list)


def _order(name: str) -> str:
    return name + "/"


async def _ordered(storage: Storage, prefix: str) -> AsyncIterator[ObjectInfo]:
    previous = ""
    async for info in storage.list(prefix):
        if info.key <= previous:
            raise ListingOutOfOrder(previous, info.key)
        previous = info.key
        yield info


async def _sidecars(storage: Storage) -> AsyncIterator[ProjectKeys]:
    last = ""
    async for info in _ordered(storage, keys.SIDECARS):
        name = keys.sidecar_of(info.key)
        if name is None or _order(name) <= last:
            # Not a sidecar an upload writes (a stray key, or a name no normalization makes):
            # checked on its own, outside the join, so it cannot disturb the order.
            yield ProjectKeys(info.key, info.key)
            continue
        last = _order(name)
        yield ProjectKeys(name, info.key)


async def _file_groups(storage: Storage) -> AsyncIterator[ProjectKeys]:
    group: ProjectKeys | None = None
    async for info in _ordered(storage, keys.FILES):
        name = keys.project_of(info.key)
        if name is None:  # e.g. files/x with no project folder: nothing can list it
            yield ProjectKeys(info.key, None, [info])
            continue
        if group is not None and group.name != name:
            yield group
            group = None
        if group is None:
            group = ProjectKeys(name)
        group.files.append(info)
    if group is not None:
        yield group


def _joined(item: ProjectKeys) -> bool:
    # Strays and irregular sidecars come out under their key (with a slash); projects by name.
    return "/" not in item.name


async def projects(storage: Storage) -> AsyncIterator[ProjectKeys]:
    """Every project with a sidecar or files, in key order, each with its stored files."""
    sidecars, groups = _sidecars(storage), _file_groups(storage)
    side = await anext(sidecars, None)
    group = await anext(groups, None)
    while side is not None or group is not None:
        if side is not None and not _joined(side):
            yield side
            side = await anext(sidecars, None)
        elif group is not None and not _joined(group):
            yield group
            group = await anext(groups, None)
        elif group is None or (side is not None and _order(side.name) < _order(group.name)):
            assert side is not None
            yield side
            side = await anext(sidecars, None)
        elif side is None or _order(group.name) < _order(side.name):
            yield group
            group = await anext(groups, None)
        else:
            side.files = group.files
            yield side
            side, group = await anext(sidecars, None), await anext(groups, None)
