"""Storage backends behind one protocol; ``open_storage`` picks one from ``--storage``.

The optional features a backend may add are in ``capabilities``; the behaviour every
backend must show, as checks a third-party backend's tests can run, is in ``contract``.
"""

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
from .schemes import StorageSchemeError, local_path, open_storage, storage_scheme

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
    "StorageSchemeError",
    "local_path",
    "open_storage",
    "storage_scheme",
]
