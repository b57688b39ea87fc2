"""Encryption at rest (docs/encryption.md), one module per concept.

- ``format``: the header and byte layout of a sealed object;
- ``keyring``: the named keys, and making new ones;
- ``cipher``: AES-256-GCM over an object's chunks;
- ``selector``: which objects new writes seal (the only module that knows the key layout);
- ``storage``: ``EncryptedStorage``, the Storage wrapper that seals and opens bodies;
- ``rekey``: rewriting a live store with the newest key;
- ``config``: all of the above from Settings, and the start-up check.

The module ``rekey`` and the method ``EncryptedStorage.rekey`` share the name; the function
that does the work is ``rekey.rekey_store``.
"""

from __future__ import annotations

from .cipher import ChunkCipher, ChunkSealer, MissingKeyError, open_bytes, seal_bytes
from .config import ENV_KEYS, check_settings, load_keyring, open_store, startup_problem
from .format import CHUNK_SIZE, MAGIC, Header, parse_header
from .keyring import Keyring, KeyringError, generate_key_line
from .rekey import RekeyReport, describe_key_ids
from .selector import Selector
from .storage import EncryptedStorage

__all__ = [
    "CHUNK_SIZE",
    "ENV_KEYS",
    "MAGIC",
    "ChunkCipher",
    "ChunkSealer",
    "EncryptedStorage",
    "Header",
    "Keyring",
    "KeyringError",
    "MissingKeyError",
    "RekeyReport",
    "Selector",
    "check_settings",
    "describe_key_ids",
    "generate_key_line",
    "load_keyring",
    "open_bytes",
    "open_store",
    "parse_header",
    "seal_bytes",
    "startup_problem",
]
