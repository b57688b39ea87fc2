"""Which optional features (storage/capabilities.py) each built-in backend declares."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from registry_index.encryption import EncryptedStorage, Keyring, Selector
from registry_index.storage import LocalStorage, MemoryStorage, PresignUnavailable, Storage
from registry_index.storage.capabilities import (
    SupportsHealthCheck,
    SupportsPresign,
    SupportsServerSideEncryption,
    SupportsStaleUploadCleanup,
    declared_conditional_writes,
)
from registry_index.storage.s3 import S3Storage

FEATURES = (SupportsPresign, SupportsHealthCheck, SupportsStaleUploadCleanup, SupportsServerSideEncryption)


def features(store: object) -> set[str]:
    return {f.__name__ for f in FEATURES if isinstance(store, f)}


@pytest.fixture
def s3() -> Any:
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket="caps")
        yield S3Storage("caps", client=client)


def test_memory_and_local_enforce_conditions_themselves(tmp_path: Path) -> None:
    assert features(MemoryStorage()) == set() and declared_conditional_writes(MemoryStorage()) == "process"
    local = LocalStorage(tmp_path)
    assert features(local) == set() and declared_conditional_writes(local) == "host"


def test_s3_offers_every_feature_and_leaves_conditions_to_the_server(s3: S3Storage) -> None:
    assert features(s3) == {f.__name__ for f in FEATURES}
    assert declared_conditional_writes(s3) is None  # the start-up probe decides


def wrap(inner: Storage) -> EncryptedStorage:
    return EncryptedStorage(inner, Keyring(), Selector())


async def test_the_encryption_wrapper_answers_for_its_inner_store(s3: S3Storage, tmp_path: Path) -> None:
    over_memory = wrap(MemoryStorage())
    assert {SupportsPresign.__name__, SupportsHealthCheck.__name__} <= features(over_memory)
    assert declared_conditional_writes(over_memory) == "process"
    assert declared_conditional_writes(wrap(LocalStorage(tmp_path))) == "host"
    await over_memory.check()  # nothing to check beyond the protocol
    assert await over_memory.abort_stale_uploads(0) == 0
    with pytest.raises(PresignUnavailable):
        await over_memory.presigned_url("files/a/b/c.whl", 60)

    over_s3 = wrap(s3)
    assert declared_conditional_writes(over_s3) is None
    await over_s3.put("files/a/b/c.whl", b"plain")
    assert (await over_s3.presigned_url("files/a/b/c.whl", 60)).startswith("https://")
    await over_s3.check()
