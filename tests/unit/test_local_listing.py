"""The local store lists keys in ascending order without holding the whole listing."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from registry_index.storage.local import LocalStorage

NAMES = ["a", "a-b", "a.b", "a0", "ab", "b", "a-", "z", "a_b"]


async def test_listing_order_matches_a_full_sort_for_every_prefix(tmp_path: Path) -> None:
    store = LocalStorage(tmp_path)
    rnd = random.Random(3)
    written = set()
    for project in NAMES:
        await store.put(f"projects/{project}.json", b"{}")
        written.add(f"projects/{project}.json")
        for n in range(rnd.randint(0, 3)):
            key = f"files/{project}/{n:064x}/{project}-{n}.tar.gz"
            await store.put(key, b"x")
            await store.put(key + ".metadata", b"m")
            written.update((key, key + ".metadata"))
    await store.put("files/a.json", b"odd")  # a file beside project folders
    written.add("files/a.json")
    for prefix in [
        "",
        "files/",
        "projects/",
        "files/a",
        "files/a-",
        "files/a/",
        "projects/a",
        "nothing/",
        "fi",
    ]:
        listed = [info.key async for info in store.list(prefix)]
        assert listed == sorted(k for k in written if k.startswith(prefix)), prefix


async def test_a_listing_is_read_in_batches_as_it_goes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import registry_index.storage.local as local

    monkeypatch.setattr(local, "_LIST_BATCH", 10)
    store = LocalStorage(tmp_path)
    for n in range(35):
        await store.put(f"files/p{n:03d}/x", b"x")
    listing = store.list("files/")
    first = await anext(listing)
    assert first.key == "files/p000/x"
    # A folder is read when the walk reaches it: what was written into a later one since the
    # listing began is seen, so the walk never held the whole listing.
    await store.put("files/p030/y", b"y")
    rest = [info.key async for info in listing]
    assert len(rest) == 35 and "files/p030/y" in rest
