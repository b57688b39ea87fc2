"""Start-up check that a store honours the two conditional writes correctness rests on."""

from __future__ import annotations

import contextlib
import secrets

from .base import ObjectConflict, Storage

PROBE_PREFIX = "_probe/"  # scratch objects of this check; rekey skips them


async def conditional_write_problems(storage: Storage) -> list[str]:
    """What the store failed to refuse; empty when both create-only and If-Match hold."""
    key = f"{PROBE_PREFIX}{secrets.token_hex(8)}"
    problems: list[str] = []
    try:
        etag = await storage.put(key, b"1", create_only=True)
        try:
            await storage.put(key, b"2", create_only=True)
            problems.append("a create-only write (If-None-Match: *) replaced an existing object")
        except ObjectConflict:
            pass
        current = (await storage.get(key)).etag
        stale = etag if current != etag else '"0000000000000000"'
        try:
            await storage.put(key, b"3", if_match=stale if stale != current else '"stale-etag"')
            problems.append("a compare-and-swap write (If-Match) with a stale ETag succeeded")
        except ObjectConflict:
            pass
    finally:
        with contextlib.suppress(Exception):
            await storage.delete(key)
    return problems
