"""The storage contract, run against every backend: the guarantees the rest relies on."""

from __future__ import annotations

import asyncio
import multiprocessing
import os
from collections.abc import AsyncIterator
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from registry_index.encryption import EncryptedStorage, Keyring, Selector
from registry_index.storage import (
    LocalStorage,
    MemoryStorage,
    ObjectConflict,
    ObjectNotFound,
    Storage,
)
from registry_index.storage.s3 import S3Storage
from registry_index.testing import S3Server
from tests.conftest import new_bucket

# The encrypted params run every contract test through EncryptedStorage (everything sealed,
# with a small chunk size so the tests' objects span many chunks).
_RING = Keyring([("contract-old", b"\x01" * 32), ("contract", b"\x02" * 32)])


@pytest.fixture(
    params=["memory", "local", "s3-moto", "s3-seaweedfs", "encrypted-local", "encrypted-s3-seaweedfs"]
)
async def storage(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Storage]:
    store: Storage
    if request.param == "encrypted-local":
        store = EncryptedStorage(
            LocalStorage(tmp_path / "s"), _RING, Selector(everything=True), chunk_size=4096
        )
    elif request.param == "encrypted-s3-seaweedfs":
        s3: S3Server = request.getfixturevalue("seaweedfs")
        inner = S3Storage(new_bucket(s3), "pre", client=s3.client(), part_size=5 * 1024 * 1024)
        store = EncryptedStorage(inner, _RING, Selector(everything=True), chunk_size=64 * 1024)
    elif request.param == "memory":
        store = MemoryStorage()
    elif request.param == "local":
        store = LocalStorage(tmp_path / "s")
    elif request.param == "s3-moto":
        with mock_aws():
            client = boto3.client("s3", region_name="us-east-1")
            client.create_bucket(Bucket="contract")
            # A small part size exercises multipart uploads with small test files. moto checks
            # If-Match without a lock, so racing threads can both win there: one worker keeps
            # its answers those of a real store (SeaweedFS below proves the real atomicity).
            store = S3Storage("contract", "pre/fix", client=client, part_size=5 * 1024 * 1024, max_workers=1)
            yield store
            await store.close()
            return
    else:
        s3 = request.getfixturevalue("seaweedfs")
        store = S3Storage(new_bucket(s3), "pre", client=s3.client(), part_size=5 * 1024 * 1024)
    yield store
    await store.close()


async def _read_all(storage: Storage, key: str, start: int = 0, end: int | None = None) -> bytes:
    return b"".join([chunk async for chunk in storage.stream(key, start, end)])


async def test_round_trip_and_head(storage: Storage) -> None:
    etag = await storage.put("a/b.json", b"hello")
    blob = await storage.get("a/b.json")
    assert blob.data == b"hello" and blob.etag == etag
    info = await storage.head("a/b.json")
    assert info.size == 5 and info.etag == etag


async def test_missing_key(storage: Storage) -> None:
    with pytest.raises(ObjectNotFound):
        await storage.get("nope")
    with pytest.raises(ObjectNotFound):
        await storage.head("nope")
    with pytest.raises(ObjectNotFound):
        await _read_all(storage, "nope")
    await storage.delete("nope")  # deleting a missing key is fine


async def test_create_only_refuses_existing(storage: Storage) -> None:
    await storage.put("k", b"one", create_only=True)
    with pytest.raises(ObjectConflict):
        await storage.put("k", b"two", create_only=True)
    assert (await storage.get("k")).data == b"one"


async def test_compare_and_swap(storage: Storage) -> None:
    first = await storage.put("side.json", b"v1")
    second = await storage.put("side.json", b"v2", if_match=first)
    assert second != first
    with pytest.raises(ObjectConflict):
        await storage.put("side.json", b"v3", if_match=first)  # stale ETag loses
    assert (await storage.get("side.json")).data == b"v2"
    with pytest.raises(ObjectConflict):
        await storage.put("absent.json", b"x", if_match=first)


async def test_conditional_get(storage: Storage) -> None:
    etag = await storage.put("c", b"v1")
    assert await storage.get_if_changed("c", etag) is None
    new = await storage.put("c", b"v2")
    changed = await storage.get_if_changed("c", etag)
    assert changed is not None and changed.data == b"v2" and changed.etag == new


async def test_list_by_prefix(storage: Storage) -> None:
    for key in ("files/a/1", "files/a/2", "files/b/1", "projects/a.json"):
        await storage.put(key, key.encode())
    keys = [info.key async for info in storage.list("files/a/")]
    assert keys == ["files/a/1", "files/a/2"]
    assert [i.key async for i in storage.list("projects/")] == ["projects/a.json"]
    assert len([i async for i in storage.list("")]) == 4


async def test_delete(storage: Storage) -> None:
    await storage.put("files/x/y", b"1")
    await storage.delete("files/x/y")
    with pytest.raises(ObjectNotFound):
        await storage.head("files/x/y")
    assert [i async for i in storage.list("files/")] == []


async def test_large_streamed_object_and_ranges(storage: Storage, tmp_path: Path) -> None:
    data = os.urandom(6 * 1024 * 1024 + 123)  # over one S3 part, several stream chunks
    src = tmp_path / "big.bin"
    src.write_bytes(data)
    info = await storage.put_file("files/big.bin", src, create_only=True)
    assert info.size == len(data)
    assert await _read_all(storage, "files/big.bin") == data
    assert await _read_all(storage, "files/big.bin", 10, 20) == data[10:20]
    assert await _read_all(storage, "files/big.bin", len(data) - 5) == data[-5:]
    with pytest.raises(ObjectConflict):
        await storage.put_file("files/big.bin", src, create_only=True)


async def test_concurrent_cas_loses_no_update(storage: Storage) -> None:
    await storage.put("counter", b"0")

    async def increment() -> None:
        while True:
            blob = await storage.get("counter")
            try:
                await storage.put("counter", str(int(blob.data) + 1).encode(), if_match=blob.etag)
                return
            except ObjectConflict:
                await asyncio.sleep(0)

    await asyncio.gather(*(increment() for _ in range(50)))
    assert (await storage.get("counter")).data == b"50"


@pytest.mark.parametrize("key", ["", "/abs", "a/../b", ".tmp/x", "a//b"])
def test_local_rejects_unsafe_keys(tmp_path: Path, key: str) -> None:
    with pytest.raises(ValueError):
        LocalStorage(tmp_path)._path(key)


def _increment_many(root: str, n: int) -> None:
    async def run() -> None:
        store = LocalStorage(root)
        for _ in range(n):
            while True:
                blob = await store.get("counter")
                try:
                    await store.put("counter", str(int(blob.data) + 1).encode(), if_match=blob.etag)
                    break
                except ObjectConflict:
                    continue

    asyncio.run(run())


def _create_once(root: str, results: multiprocessing.Queue[bool]) -> None:
    async def run() -> bool:
        try:
            await LocalStorage(root).put("once", b"x", create_only=True)
            return True
        except ObjectConflict:
            return False

    results.put(asyncio.run(run()))


async def test_local_cas_is_safe_across_processes(tmp_path: Path) -> None:
    root = tmp_path / "shared"
    await LocalStorage(root).put("counter", b"0")
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_increment_many, args=(str(root), 40)) for _ in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    assert (await LocalStorage(root).get("counter")).data == b"160"


def test_local_create_only_is_exclusive_across_processes(tmp_path: Path) -> None:
    root = str(tmp_path / "shared")
    LocalStorage(root)
    ctx = multiprocessing.get_context("spawn")
    results: multiprocessing.Queue[bool] = ctx.Queue()
    procs = [ctx.Process(target=_create_once, args=(root, results)) for _ in range(6)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
    winners = [results.get(timeout=5) for _ in procs]
    assert winners.count(True) == 1


async def test_s3_missing_bucket_is_a_clear_storage_error() -> None:
    from registry_index.storage import StorageError

    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        store = S3Storage("no-such-bucket", client=client)
        with pytest.raises(StorageError, match="does not exist") as info:
            await store.check()
        assert not isinstance(info.value, ObjectNotFound)
        with pytest.raises(StorageError, match="bucket does not exist"):
            await store.put("k", b"x", create_only=True)
