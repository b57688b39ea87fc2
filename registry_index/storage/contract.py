"""The storage contract as plain async checks: what every backend must do, runnable by any.

The rest of the index relies on exactly these behaviours (docs/storage.md, "What a backend
must guarantee"). registry-index runs them on its own backends (tests/contract), and a
third-party backend's test suite runs the same ones, with pytest::

    import pytest
    from registry_index.storage import contract

    @pytest.mark.parametrize("name", contract.CHECKS)
    async def test_storage_contract(name: str, tmp_path) -> None:
        store = MyStore(...)  # empty
        try:
            await contract.CHECKS[name](store, tmp_path)
        finally:
            await store.close()

or without it: ``failures = await contract.run(open_empty_store, scratch_dir)``.

Each check takes an empty store and a scratch directory for local files, and raises
ContractViolation (an AssertionError) saying what the store did wrong. Nothing here
imports pytest.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

from .base import ObjectConflict, ObjectNotFound, Storage
from .probe import conditional_write_problems

Check = Callable[[Storage, Path], Awaitable[None]]

__all__ = ["CHECKS", "Check", "ContractViolation", "run"]


class ContractViolation(AssertionError):
    """The store broke the contract; the message says how."""


def _expect(condition: bool, message: str) -> None:
    if not condition:
        raise ContractViolation(message)


@contextlib.contextmanager
def _raises(kind: type[BaseException], what: str) -> Iterator[None]:
    try:
        yield
    except kind:
        return
    raise ContractViolation(f"{what} did not raise {kind.__name__}")


async def _read_all(store: Storage, key: str, start: int = 0, end: int | None = None) -> bytes:
    return b"".join([chunk async for chunk in store.stream(key, start, end)])


async def round_trip_and_head(store: Storage, scratch: Path) -> None:
    etag = await store.put("a/b.json", b"hello")
    blob = await store.get("a/b.json")
    _expect(blob.data == b"hello", f"get returned {blob.data!r} after put of b'hello'")
    _expect(blob.etag == etag, f"get's ETag {blob.etag!r} is not put's {etag!r}")
    info = await store.head("a/b.json")
    _expect(info.size == 5 and info.etag == etag, f"head says {info}, put wrote 5 bytes as {etag!r}")


async def missing_key(store: Storage, scratch: Path) -> None:
    with _raises(ObjectNotFound, "get of a missing key"):
        await store.get("nope")
    with _raises(ObjectNotFound, "head of a missing key"):
        await store.head("nope")
    with _raises(ObjectNotFound, "stream of a missing key"):
        await _read_all(store, "nope")
    await store.delete("nope")  # deleting a missing key is fine


async def create_only_refuses_existing(store: Storage, scratch: Path) -> None:
    await store.put("k", b"one", create_only=True)
    with _raises(ObjectConflict, "a second create-only put"):
        await store.put("k", b"two", create_only=True)
    _expect((await store.get("k")).data == b"one", "a refused create-only put changed the object")


async def compare_and_swap(store: Storage, scratch: Path) -> None:
    first = await store.put("side.json", b"v1")
    second = await store.put("side.json", b"v2", if_match=first)
    _expect(second != first, "a replaced object kept its ETag")
    with _raises(ObjectConflict, "put with a stale if_match"):
        await store.put("side.json", b"v3", if_match=first)
    _expect((await store.get("side.json")).data == b"v2", "a refused if_match put changed the object")
    with _raises(ObjectConflict, "put with if_match on a missing key"):
        await store.put("absent.json", b"x", if_match=first)


async def conditional_get(store: Storage, scratch: Path) -> None:
    etag = await store.put("c", b"v1")
    _expect(await store.get_if_changed("c", etag) is None, "get_if_changed returned an unchanged object")
    new = await store.put("c", b"v2")
    changed = await store.get_if_changed("c", etag)
    _expect(
        changed is not None and changed.data == b"v2" and changed.etag == new,
        f"get_if_changed after a change returned {changed!r}",
    )


async def list_by_prefix(store: Storage, scratch: Path) -> None:
    for key in ("files/a/1", "files/a/2", "files/b/1", "projects/a.json"):
        await store.put(key, key.encode())
    keys = [info.key async for info in store.list("files/a/")]
    _expect(keys == ["files/a/1", "files/a/2"], f"list('files/a/') gave {keys}, sorted by key")
    keys = [info.key async for info in store.list("projects/")]
    _expect(keys == ["projects/a.json"], f"list('projects/') gave {keys}")
    count = len([info async for info in store.list("")])
    _expect(count == 4, f"list('') gave {count} objects of 4 (was the store empty?)")


async def delete(store: Storage, scratch: Path) -> None:
    await store.put("files/x/y", b"1")
    await store.delete("files/x/y")
    with _raises(ObjectNotFound, "head after delete"):
        await store.head("files/x/y")
    left = [info.key async for info in store.list("files/")]
    _expect(left == [], f"list after delete still gave {left}")


async def large_streamed_object_and_ranges(store: Storage, scratch: Path) -> None:
    data = os.urandom(6 * 1024 * 1024 + 123)  # over one S3 part, several stream chunks
    src = scratch / "big.bin"
    src.write_bytes(data)
    info = await store.put_file("files/big.bin", src, create_only=True)
    _expect(info.size == len(data), f"put_file reported {info.size} bytes of {len(data)}")
    _expect(await _read_all(store, "files/big.bin") == data, "streaming a large object changed its bytes")
    _expect(await _read_all(store, "files/big.bin", 10, 20) == data[10:20], "range [10, 20) is wrong")
    tail = await _read_all(store, "files/big.bin", len(data) - 5)
    _expect(tail == data[-5:], "an open-ended range at the end is wrong")
    with _raises(ObjectConflict, "a second create-only put_file"):
        await store.put_file("files/big.bin", src, create_only=True)


async def concurrent_cas_loses_no_update(store: Storage, scratch: Path) -> None:
    await store.put("counter", b"0")

    async def increment() -> None:
        while True:
            blob = await store.get("counter")
            try:
                await store.put("counter", str(int(blob.data) + 1).encode(), if_match=blob.etag)
                return
            except ObjectConflict:
                await asyncio.sleep(0)

    await asyncio.gather(*(increment() for _ in range(50)))
    final = (await store.get("counter")).data
    _expect(final == b"50", f"50 concurrent compare-and-swap increments left {final!r}")


async def start_up_probe_passes(store: Storage, scratch: Path) -> None:
    # What `serve` checks before it starts, unless --single-writer (storage/probe.py).
    problems = await conditional_write_problems(store)
    _expect(not problems, f"the start-up probe would refuse this store: {'; '.join(problems)}")


CHECKS: dict[str, Check] = {
    check.__name__: check
    for check in (
        round_trip_and_head,
        missing_key,
        create_only_refuses_existing,
        compare_and_swap,
        conditional_get,
        list_by_prefix,
        delete,
        large_streamed_object_and_ranges,
        concurrent_cas_loses_no_update,
        start_up_probe_passes,
    )
}


async def run(open_store: Callable[[], Awaitable[Storage]], scratch: Path) -> list[str]:
    """Run every check, each on a fresh store from ``open_store``; the failures, as text.

    ``open_store`` must return an empty store each time; ``scratch`` is a directory the
    checks may write local files in. An empty list means the backend meets the contract.
    """
    failures: list[str] = []
    for name, check in CHECKS.items():
        workdir = scratch / name
        workdir.mkdir(parents=True, exist_ok=True)
        store = await open_store()
        try:
            await check(store, workdir)
        except Exception as exc:  # a crash is a failure of the backend too, reported by name
            failures.append(f"{name}: {type(exc).__name__}: {exc}")
        finally:
            await store.close()
    return failures
