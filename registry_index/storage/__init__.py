"""Storage backends behind one protocol; ``open_storage`` picks one from ``--storage``."""

from __future__ import annotations

from .base import Blob, ObjectConflict, ObjectInfo, ObjectNotFound, Storage, StorageError
from .local import LocalStorage
from .memory import MemoryStorage

__all__ = [
    "Blob",
    "LocalStorage",
    "MemoryStorage",
    "ObjectConflict",
    "ObjectInfo",
    "ObjectNotFound",
    "Storage",
    "StorageError",
    "open_storage",
]


def open_storage(spec: str) -> Storage:
    """``s3://BUCKET[/PREFIX]``, ``memory:`` for a throwaway store, or a local directory."""
    if spec == "memory:":
        return MemoryStorage()
    if spec.startswith("s3://"):
        raise ValueError(f"--storage {spec}: the S3 backend is not in this build yet; use a local directory")
    return LocalStorage(spec)
