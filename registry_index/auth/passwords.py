"""Password hashing with argon2 (a maintained library), and a cache of verified credentials.

argon2 is deliberately slow and memory-hard; running it on every request would make a
200-file twine upload pay it 200 times. A successful check is remembered as an HMAC of the
credentials under a per-process random key, bound to the user record's ETag, for a few
minutes, so the next request with the same credentials costs one HMAC.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time

from anyio import to_thread
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

# OWASP's recommended argon2id parameters (19 MiB, 2 passes, 1 lane) rather than the library's
# 64 MiB profile: each first check of a credential costs that memory, and a 64 MiB spike per
# login dwarfs what a streamed upload needs. Hashes carry their parameters, so older ones verify.
_hasher = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)


def hash_password(password: str) -> str:
    return _hasher.hash(password)


_DUMMY_HASH: list[str] = []  # made on first use: importing this module stays cheap


async def spend_password_work(password: str) -> None:
    """Verify against a hash no password matches: the cost of checking an unknown user."""
    if not _DUMMY_HASH:
        _DUMMY_HASH.append(hash_password(secrets.token_urlsafe(16)))
    await to_thread.run_sync(_verify_sync, _DUMMY_HASH[0], password)


def _verify_sync(stored: str, password: str) -> bool:
    try:
        return _hasher.verify(stored, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


class VerifiedCache:
    def __init__(self, ttl: float = 300.0, max_entries: int = 10_000) -> None:
        self._key = secrets.token_bytes(32)
        self._ttl = ttl
        self._max = max_entries
        self._seen: dict[bytes, tuple[str, float]] = {}

    def _digest(self, user: str, password: str) -> bytes:
        return hmac.new(self._key, f"{user}\0{password}".encode(), hashlib.sha256).digest()

    async def verify(self, user: str, record_etag: str, stored_hash: str, password: str) -> bool:
        digest = self._digest(user, password)
        hit = self._seen.get(digest)
        now = time.monotonic()
        if hit is not None and hit[0] == record_etag and hit[1] > now:
            return True
        ok = await to_thread.run_sync(_verify_sync, stored_hash, password)
        if ok:
            if len(self._seen) >= self._max:
                self._seen.clear()
            self._seen[digest] = (record_etag, now + self._ttl)
        return ok
