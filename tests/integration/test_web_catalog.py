"""The web UI's project lists come from the search index's documents, not from the store.

They used to keep a summary per project, with ten file entries each, built by reading every
sidecar at the first view: at 700,000 projects the largest thing in memory, and a full read
of the store. Now a listing is the search documents themselves, and the home page reads
only the few projects whose recent uploads it shows.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from registry_index.domain import keys
from registry_index.registry import Registry
from registry_index.storage import MemoryStorage
from registry_index.testing import WheelSpec, build_wheel
from registry_index.web.catalog import RECENT, Catalog


class CountingStorage(MemoryStorage):
    def __init__(self) -> None:
        super().__init__()
        self.sidecar_reads = 0

    async def get(self, key: str) -> Any:
        self.sidecar_reads += key.startswith(keys.SIDECARS)
        return await super().get(key)

    async def get_if_changed(self, key: str, etag: str) -> Any:
        self.sidecar_reads += key.startswith(keys.SIDECARS)
        return await super().get_if_changed(key, etag)


async def test_a_listing_is_the_search_documents_and_reads_no_sidecar(tmp_path: Path) -> None:
    storage = CountingStorage()
    writer = Registry(storage)  # another instance, whose writes this one learns from the feed
    alice = await writer.accounts.add_user("alice", "password-1")
    for n in range(30):
        await writer.publish_path(build_wheel(tmp_path, WheelSpec(f"proj-{n:02d}", "1.0")), alice)
    await writer.publish_path(build_wheel(tmp_path, WheelSpec("proj-00", "1.1")), alice)
    await writer.set_status("proj-01", "archived", "done")
    await writer.set_status("proj-02", "quarantined", "malware?")

    reader = Registry(storage)
    await reader.searching.refresh()  # what the refresh loop does at start-up
    catalog = Catalog(reader)
    before = storage.sidecar_reads
    listing = catalog.listing()
    assert storage.sidecar_reads == before  # nothing read for the list itself
    names = [s.normalized for s in listing.projects]
    assert names == sorted(f"proj-{n:02d}" for n in range(30) if n != 2)  # quarantine: not shown
    assert listing.complete
    by_name = {s.normalized: s for s in listing.projects}
    assert by_name["proj-00"].version == "1.1" and by_name["proj-00"].releases == 2
    assert by_name["proj-00"].files == 2 and listing.files == 30
    assert (by_name["proj-01"].status, by_name["proj-01"].status_reason) == ("archived", "done")
    assert by_name["proj-05"].owners == ("alice",)
    assert by_name["proj-05"].owners is by_name["proj-06"].owners  # one tuple for all of them

    _, docs = reader.searching.documents()
    assert all(a is b for a, b in zip(listing.projects, docs, strict=True))  # no copy kept
    assert catalog.listing() is listing  # unchanged generation: the same snapshot

    recent = await catalog.recent_uploads(listing)
    assert len(recent) == RECENT
    assert recent[0][1].filename == "proj_00-1.1-py3-none-any.whl"
    times = [f.upload_time for _, f in recent]
    assert times == sorted(times, reverse=True)
    assert storage.sidecar_reads - before <= RECENT  # the latest projects only


async def test_this_instances_writes_show_at_once(tmp_path: Path) -> None:
    registry = Registry(MemoryStorage())
    await registry.searching.refresh()
    catalog = Catalog(registry)
    assert catalog.listing().projects == []
    bob = await registry.accounts.add_user("bob", "password-1")
    await registry.publish_path(build_wheel(tmp_path, WheelSpec("fresh", "0.1")), bob)
    shown = catalog.listing()
    assert [s.normalized for s in shown.projects] == ["fresh"]
    await registry.delete("fresh", "0.1")
    assert catalog.listing().projects == []
