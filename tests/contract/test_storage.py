"""The storage contract (registry_index/storage/contract.py), run against every backend.

Below it, what only one backend promises: the local store's safety across processes and
its refusal of unsafe keys, S3's message for a missing bucket.
"""

from __future__ import annotations

import asyncio
import multiprocessing
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
    contract,
)
from registry_index.storage.s3 import S3Storage
from tests.conftest import new_bucket
from tests.support.s3 import S3Server

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


@pytest.mark.parametrize("check", contract.CHECKS)
async def test_contract(storage: Storage, tmp_path: Path, check: str) -> None:
    await contract.CHECKS[check](storage, tmp_path)


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


class IgnoresCreateOnly(MemoryStorage):
    """A store that forwards conditions to a server that ignores If-None-Match."""

    async def put(
        self, key: str, data: bytes, *, create_only: bool = False, if_match: str | None = None
    ) -> str:
        return await super().put(key, data, if_match=if_match)


async def test_the_contract_runner_names_what_a_backend_breaks(tmp_path: Path) -> None:
    async def empty_store() -> Storage:
        return IgnoresCreateOnly()

    failures = await contract.run(empty_store, tmp_path)
    assert [f.split(":")[0] for f in failures] == [
        "create_only_refuses_existing",
        "large_streamed_object_and_ranges",  # its second put_file is create-only too
        "start_up_probe_passes",
    ]
    assert "a second create-only put did not raise ObjectConflict" in failures[0]
