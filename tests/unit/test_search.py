"""Search ranking and filters over documents built from real sidecar shapes."""

from __future__ import annotations

import asyncio
from typing import Any

from packaging.version import Version

from registry_index.domain.model import Project, Release, to_json
from registry_index.search.index import REFRESH_BUDGET, MemorySearchIndex, next_refresh_delay
from registry_index.search.rank import Query, document, search
from registry_index.storage import MemoryStorage
from registry_index.testing import placeholder_entry


def project(name: str, summary: str = "", version: str = "1.0", **meta: Any) -> Project:
    entry = placeholder_entry(f"{name}-{version}.tar.gz", version)
    rp = meta.pop("requires_python", None)
    release = Release(version, summary=summary, requires_python=rp, metadata=meta)
    from registry_index.names import canonical_version, normalize

    return Project(name, normalize(name), "x", releases={canonical_version(version): release}, files=(entry,))


DOCS = [
    d
    for d in (
        document(project("requests", "HTTP for Humans", keywords=["http", "client"], author="Kenneth")),
        document(project("requests-toolbelt", "Utilities for requests", keywords=["http"])),
        document(
            project(
                "httpx",
                "A next generation HTTP client",
                requires_python=">=3.8",
                classifiers=["Programming Language :: Python :: 3 :: Only"],
            )
        ),
        document(project("my-requests-helper", "helper")),
        document(
            project("urllib3", "HTTP library with thread-safe connection pooling", requires_python=">=3.12")
        ),
        document(project("unrelated", "Nothing to see", author_email="bob@example.com")),
    )
    if d is not None
]


def names(query: Query) -> list[str]:
    return [d.normalized for d in search(DOCS, query)]


def test_ranking_exact_then_prefix_then_contains_then_text() -> None:
    assert names(Query(q="Requests")) == ["requests", "requests-toolbelt", "my-requests-helper"]
    assert names(Query(q="http")) == ["httpx", "requests", "requests-toolbelt", "urllib3"]


def test_filters_combine() -> None:
    assert names(Query(q="http", keyword="client")) == ["requests"]
    assert names(Query(classifier="Programming Language :: Python :: 3")) == ["httpx"]
    assert names(Query(author="bob@")) == ["unrelated"]
    assert "urllib3" not in names(Query(requires_python=Version("3.11")))
    assert "urllib3" in names(Query(requires_python=Version("3.12")))
    assert names(Query(q="http", requires_python=Version("3.7"))) == ["requests", "requests-toolbelt"]


def test_empty_query_lists_everything_by_name() -> None:
    assert names(Query()) == sorted(d.normalized for d in DOCS)


def test_quarantined_and_empty_projects_are_not_searchable() -> None:
    from dataclasses import replace

    assert document(replace(project("q"), status="quarantined")) is None
    assert document(Project("e", "e", "x")) is None


async def test_refresh_of_a_large_store_lets_the_event_loop_run() -> None:
    storage = MemoryStorage()
    for n in range(5000):
        await storage.put(f"projects/p{n}.json", to_json(Project(f"p{n}", f"p{n}", "2026-01-01T00:00:00Z")))
    index = MemorySearchIndex(storage)
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0)

    task = asyncio.create_task(ticker())
    await asyncio.sleep(0)
    before = ticks
    await index.refresh()
    task.cancel()
    assert index.ready
    assert ticks - before >= 5  # other tasks ran while the 5,000 keys were listed


def test_refresh_backs_off_when_listing_is_slow() -> None:
    assert next_refresh_delay(5.0, 0.01) == 5.0
    assert next_refresh_delay(5.0, 1.5) == 1.5 * REFRESH_BUDGET


async def test_later_refreshes_follow_the_feed_and_read_only_what_changed(tmp_path: Any) -> None:
    from registry_index.registry import Registry
    from registry_index.testing import WheelSpec, build_wheel

    class Counting(MemoryStorage):
        reads: list[str] = []
        lists = 0

        async def get(self, key: str) -> Any:
            self.reads.append(key)
            return await super().get(key)

        async def list(self, prefix: str) -> Any:  # type: ignore[override]
            type(self).lists += 1
            async for info in super().list(prefix):
                yield info

    storage = Counting()
    writer, reader = Registry(storage), Registry(storage)
    alice = await writer.accounts.add_user("alice", "alice-password")
    await writer.publish_path(build_wheel(tmp_path, WheelSpec("first", "1.0")), alice)
    await reader.searching.refresh()  # the first refresh lists the sidecars
    assert [d.normalized for d in reader.search("first")] == ["first"]
    lists_after_first = Counting.lists
    await writer.publish_path(build_wheel(tmp_path, WheelSpec("second", "1.0")), alice)
    Counting.reads = []
    await reader.searching.refresh()
    assert [d.normalized for d in reader.search("second")] == ["second"]
    assert Counting.lists == lists_after_first  # no listing of the store
    assert "projects/second.json" in Counting.reads and "projects/first.json" not in Counting.reads
    Counting.reads = []
    await reader.searching.refresh()
    assert len(Counting.reads) == 1  # nothing new: one probe of the feed
    await writer.delete("second")
    await reader.searching.refresh()
    assert reader.search("second") == []


def test_the_indexed_search_finds_what_scoring_every_document_finds() -> None:
    import random

    rnd = random.Random(7)
    words = ["http", "client", "async", "json", "db", "orm", "cli", "tool", "py", "web"]
    index = MemorySearchIndex(MemoryStorage())
    projects = []
    for n in range(400):
        name = f"{rnd.choice(words)}-{rnd.choice(words)}{n}"
        summary = " ".join(rnd.sample(words, 3))
        p = project(name, summary, keywords=rnd.sample(words, 2))
        projects.append(p)
        index.update(p)
    index.remove(projects[0].normalized)
    index.update(project(projects[1].name, "renamed summary entirely"))
    docs = list(index._docs.values())
    for q in [
        "http",
        "client-",
        "HTTP Client",
        "db orm",
        "py",
        "nothing-like-it",
        "json5",
        "-",
        "web tool cli",
    ]:
        assert [d.normalized for d in index.search(Query(q=q))] == [
            d.normalized for d in search(docs, Query(q=q))
        ], q
    assert projects[0].normalized not in {d.normalized for d in index.search(Query(q=projects[0].name))}
    assert [d.normalized for d in index.search(Query(q="renamed entirely"))] == [projects[1].normalized]


def test_filters_and_sizes_follow_updates_and_removals() -> None:
    index = MemorySearchIndex(MemoryStorage())
    a = project("alpha-client", "talks http", author="Ann", requires_python=">=3.12")
    b = project("beta", "an http client", author="Bob")
    for p in (a, b):
        index.update(p)
    everything = [d.normalized for d in search(list(index._docs.values()), Query(q="client"))]
    assert [d.normalized for d in index.search(Query(q="client"))] == everything == ["alpha-client", "beta"]
    assert [d.normalized for d in index.search(Query(q="http", author="bob"))] == ["beta"]
    assert [d.normalized for d in index.search(Query(requires_python=Version("3.11")))] == ["beta"]
    assert index.files == 2 and index.bytes == sum(f.size for p in (a, b) for f in p.files)
    index.update(Project(a.name, a.normalized, "x", status="quarantined", releases=a.releases, files=a.files))
    assert [d.normalized for d in index.search(Query(q="client"))] == ["beta"]
    assert index.files == 2  # a quarantined project's files still count in /metrics
    index.remove("alpha-client")
    index.remove("beta")
    assert index.search(Query(q="http")) == [] and index.files == 0 and index.bytes == 0
    assert index._by_word == {}  # nothing left behind in the postings
    index.update(b)
    assert [d.normalized for d in index.search(Query(q="an http"))] == ["beta"]


def test_the_index_keeps_a_few_hundred_bytes_per_project() -> None:
    # What keeps a 700,000-project instance under 1 GiB: no word set per document, and a
    # posting held as a plain string while one project has the word.
    import tracemalloc

    projects = [project(f"pkg{n:06d}-client", f"pkg{n:06d} does things", version="1.0") for n in range(5000)]
    index = MemorySearchIndex(MemoryStorage())
    tracemalloc.start()
    try:
        before = tracemalloc.take_snapshot()
        for p in projects:
            index.update(p)
        after = tracemalloc.take_snapshot()
    finally:
        tracemalloc.stop()
    per_project = sum(s.size_diff for s in after.compare_to(before, "filename")) / len(projects)
    assert per_project < 700, per_project


def test_freed_heap_pages_can_be_handed_back_on_glibc() -> None:
    import platform

    from registry_index.search.trim import release_free_memory

    if platform.libc_ver()[0] == "glibc":
        assert release_free_memory() is True
    else:
        assert release_free_memory() in (True, False)  # musl/macOS: nothing to ask, no error
