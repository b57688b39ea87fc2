"""The storage contract every backend meets; nothing above this layer sees a backend's errors."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable


class StorageError(Exception):
    """The store failed or could not be reached; callers answer 503 and retry later."""


class ObjectNotFound(StorageError, KeyError):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key

    def __str__(self) -> str:
        return f"no object at {self.key!r}"


class ObjectConflict(StorageError):
    """A conditional write lost: the key exists (create-only) or changed since read (CAS)."""

    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key

    def __str__(self) -> str:
        return f"conditional write to {self.key!r} lost"


class DecryptionError(StorageError):
    """An object is encrypted but cannot be opened: tampered, or a wrong or missing key.

    Raised by the encryption wrapper and by S3 with SSE-C, hence here and not in encryption.
    A StorageError, so the app answers 503 and never serves the bytes.
    """

    def __init__(self, key: str, reason: str) -> None:
        super().__init__(key, reason)
        self.key = key
        self.reason = reason

    def __str__(self) -> str:
        return f"cannot decrypt {self.key!r}: {self.reason}"


class PresignUnavailable(StorageError):
    """This object cannot be fetched from a presigned URL (it is encrypted); proxy it instead."""


@dataclass(frozen=True, slots=True)
class ObjectInfo:
    key: str
    size: int
    etag: str
    modified: float = 0.0  # seconds since the epoch; fsck leaves young orphans alone


@dataclass(frozen=True, slots=True)
class Blob:
    data: bytes
    etag: str


@runtime_checkable
class Storage(Protocol):
    """Async object storage with the two conditional writes correctness rests on.

    ``put`` with ``create_only`` never replaces an existing key; with ``if_match`` it replaces
    the key only while its ETag is still the given one. Both raise ObjectConflict otherwise.
    """

    async def get(self, key: str) -> Blob: ...

    async def get_if_changed(self, key: str, etag: str) -> Blob | None:
        """The object if its ETag is no longer ``etag``; None while unchanged."""
        ...

    async def head(self, key: str) -> ObjectInfo: ...

    async def put(
        self, key: str, data: bytes, *, create_only: bool = False, if_match: str | None = None
    ) -> str:
        """Write small bytes; returns the new ETag."""
        ...

    async def put_file(self, key: str, path: Path, *, create_only: bool = False) -> ObjectInfo:
        """Copy a local file into the store without reading it whole into memory."""
        ...

    def stream(self, key: str, start: int = 0, end: int | None = None) -> AsyncIterator[bytes]:
        """Yield the object's bytes [start, end) in chunks."""
        ...

    async def delete(self, key: str) -> None:
        """Remove the key; a missing key is not an error."""
        ...

    def list(self, prefix: str) -> AsyncIterator[ObjectInfo]: ...

    async def close(self) -> None: ...
