"""A local store's ETags name the content the writer put, even when processes race on a key.

A writer once took its ETag from a stat of the key after the rename, outside the key's lock:
a racing process's write could land in between, so the writer kept that one's ETag beside its
own content. Its next compare-and-swap then passed against content it never read (a lost
update), and a reader revalidating with that ETag was told nothing had changed, for good.
"""

from __future__ import annotations

import multiprocessing
from pathlib import Path

from registry_index.storage.local import LocalStorage

KEY = "projects/raced.json"
WRITES = 400


def _write_and_read(root: str, writer: int, out: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    store = LocalStorage(root)
    seen: list[tuple[str, bytes]] = []
    for n in range(WRITES):
        data = b"%d-%06d" % (writer, n)  # every version has the same size
        seen.append((store._put_sync(KEY, data, False, None), data))
        blob = store._get_sync(KEY, None)
        assert blob is not None
        seen.append((blob.etag, blob.data))
    out.put(seen)


def test_an_etag_never_names_two_contents(tmp_path: Path) -> None:
    queue: multiprocessing.Queue = multiprocessing.Queue()  # type: ignore[type-arg]
    procs = [
        multiprocessing.Process(target=_write_and_read, args=(str(tmp_path), w, queue)) for w in range(4)
    ]
    for proc in procs:
        proc.start()
    contents: dict[str, set[bytes]] = {}
    for _ in procs:
        for etag, data in queue.get(timeout=120):
            contents.setdefault(etag, set()).add(data)
    for proc in procs:
        proc.join(timeout=30)
        assert proc.exitcode == 0
    shared = {etag: sorted(found) for etag, found in contents.items() if len(found) > 1}
    assert not shared, f"{len(shared)} ETags name more than one content, e.g. {next(iter(shared.items()))}"
    assert len(contents) >= 4 * WRITES  # every write had an ETag of its own


def test_a_compare_and_swap_with_a_raced_etag_is_refused(tmp_path: Path) -> None:
    store = LocalStorage(tmp_path)
    first = store._put_sync(KEY, b"one", False, None)
    second = store._put_sync(KEY, b"two", False, first)
    assert second != first
    blob = store._get_sync(KEY, None)
    assert blob is not None and (blob.etag, blob.data) == (second, b"two")
    assert store._get_sync(KEY, second) is None  # unchanged since `second`
