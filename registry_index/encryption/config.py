"""Encryption at rest from the settings: the key ring, what to encrypt, S3 SSE, the wrapped store.

See docs/encryption.md. The key ring comes from ``--encryption-keys FILE`` (or
``REGISTRY_INDEX_ENCRYPTION_KEYS_FILE``) or from ``REGISTRY_INDEX_ENCRYPTION_KEYS`` holding
the entries themselves; it is never a Settings field, so it never shows in a settings repr.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from ..settings import PREFIX, Settings, SettingsError
from ..storage import Storage, open_storage, storage_scheme
from ..storage.measured import MeasuredStorage
from .keyring import Keyring, KeyringError
from .selector import Selector
from .storage import EncryptedStorage

ENV_KEYS = PREFIX + "ENCRYPTION_KEYS"
SSE_C_PURPOSE = b"registry-index s3 sse-c v1"
_HOW = (
    "give a key ring with --encryption-keys FILE or REGISTRY_INDEX_ENCRYPTION_KEYS "
    "(make a key with 'registry-index encryption-key generate')"
)


def load_keyring(settings: Settings, environ: Mapping[str, str] | None = None) -> Keyring:
    environ = os.environ if environ is None else environ
    path, value = settings.encryption_keys_file, environ.get(ENV_KEYS, "")
    if path and value.strip():
        raise SettingsError(f"the key ring is given twice: --encryption-keys {path} and {ENV_KEYS}; keep one")
    try:
        if path:
            try:
                text = Path(path).read_text(encoding="utf-8")
            except OSError as exc:
                raise SettingsError(f"--encryption-keys: cannot read {path}: {exc.strerror or exc}") from None
            return Keyring.parse(text, f"--encryption-keys {path}")
        return Keyring.parse(value, ENV_KEYS)
    except KeyringError as exc:
        raise SettingsError(str(exc)) from None


def check_settings(settings: Settings, environ: Mapping[str, str] | None = None) -> tuple[Keyring, Selector]:
    """The key ring and selector, or a SettingsError saying what is missing."""
    keyring = load_keyring(settings, environ)
    try:
        selector = Selector.parse(settings.encrypt)
    except ValueError as exc:
        raise SettingsError(str(exc)) from None
    if selector and not len(keyring):
        raise SettingsError(f"--encrypt {settings.encrypt} needs keys: {_HOW}")
    if settings.s3_sse and storage_scheme(settings.storage) != "s3":
        raise SettingsError(f"--s3-sse {settings.s3_sse} needs an s3:// store, not {settings.storage}")
    if settings.s3_sse == "sse-c" and not len(keyring):
        raise SettingsError(f"--s3-sse sse-c needs keys: {_HOW}")
    if settings.s3_sse_kms_key_id and settings.s3_sse != "sse-kms":
        raise SettingsError("--s3-sse-kms-key-id needs --s3-sse sse-kms")
    return keyring, selector


def open_store(settings: Settings, environ: Mapping[str, str] | None = None) -> EncryptedStorage:
    """The configured store, always behind EncryptedStorage.

    Even with nothing to encrypt the wrapper stays: it recognises sealed objects, so a
    server started without its keys fails (503, or at start-up) rather than serve ciphertext.
    """
    keyring, selector = check_settings(settings, environ)
    inner = open_storage(
        settings.storage,
        s3_public_endpoint=settings.s3_public_endpoint,
        s3_sse=settings.s3_sse,
        s3_sse_kms_key_id=settings.s3_sse_kms_key_id,
        s3_sse_c_keys=keyring.derive(SSE_C_PURPOSE) if settings.s3_sse == "sse-c" else (),
    )
    return EncryptedStorage(MeasuredStorage(inner), keyring, selector)


async def startup_problem(storage: Storage) -> str | None:
    """Why the app must not start with this store and key ring, or None."""
    if not isinstance(storage, EncryptedStorage):
        return None
    problem = await storage.key_problem()
    if problem is None:
        return None
    return (
        f"Refusing to start: {problem}. Start with the key ring that holds that key "
        "(--encryption-keys FILE or REGISTRY_INDEX_ENCRYPTION_KEYS): a different key under the "
        "same id cannot open what the old one sealed, and without the key the packages are unreadable."
    )
