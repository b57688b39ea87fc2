"""Storage backends behind one protocol; ``open_storage`` picks one from ``--storage``."""

from __future__ import annotations

from .base import (
    Blob,
    DecryptionError,
    ObjectConflict,
    ObjectInfo,
    ObjectNotFound,
    PresignUnavailable,
    Storage,
    StorageError,
)
from .local import LocalStorage
from .memory import MemoryStorage

__all__ = [
    "Blob",
    "DecryptionError",
    "LocalStorage",
    "MemoryStorage",
    "ObjectConflict",
    "ObjectInfo",
    "ObjectNotFound",
    "PresignUnavailable",
    "Storage",
    "StorageError",
    "open_storage",
]


def open_storage(spec: str, *, s3_public_endpoint: str | None = None) -> Storage:
    """``s3://BUCKET[/PREFIX]``, ``memory:`` for a throwaway store, or a local directory."""
    if spec == "memory:":
        return MemoryStorage()
    if spec.startswith("s3://"):
        from .s3 import S3Storage  # boto3 is imported only when S3 is used

        return S3Storage.from_url(spec, public_endpoint=s3_public_endpoint or None)
    return LocalStorage(spec)
