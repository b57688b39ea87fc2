"""Rekey: rewrite a live store so every object that should be sealed is, with the newest key.

Safe beside running servers: small objects are rewritten with If-Match, so a concurrent
change wins and is looked at again; large ones are write-once artifacts (see
``_rewrite_large``).
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import anyio
from anyio import to_thread

from ..storage import ObjectConflict, ObjectInfo, ObjectNotFound, StorageError
from ..storage.capabilities import SupportsServerSideEncryption
from ..storage.probe import PROBE_PREFIX
from .cipher import ChunkSealer, open_bytes_async, seal_bytes_async

if TYPE_CHECKING:  # storage.py imports this module for EncryptedStorage.rekey
    from .storage import EncryptedStorage

SMALL_OBJECT = 8 * 1024 * 1024  # rewritten in memory, with If-Match; larger ones through a file


@dataclass
class RekeyReport:
    examined: int = 0
    rewritten: int = 0
    unchanged: int = 0
    gone: int = 0
    failed: list[str] = field(default_factory=list)
    key_ids: Counter[str] = field(default_factory=Counter)  # after the run; "plain" for plaintext


async def rekey_store(
    store: EncryptedStorage,
    progress: Callable[[int, int, str], None] | None = None,
    *,
    concurrency: int = 8,
    prefix: str = "",
) -> RekeyReport:
    """Seal every object that should be sealed with the newest key, beside running servers.

    Sealed objects under an older key are re-sealed; plaintext objects the selector now
    covers are sealed; sealed objects it no longer covers stay sealed (never decrypted
    back). If the inner store can say its own server-side encryption of an object is out
    of date (S3 with --s3-sse), such objects are rewritten too.
    """
    newest_id, _ = store.keyring.newest
    infos = [info async for info in store.inner.list(prefix) if not info.key.startswith(PROBE_PREFIX)]
    report = RekeyReport(examined=len(infos))
    done = 0
    limiter = anyio.Semaphore(concurrency)

    async def one(info: ObjectInfo) -> None:
        nonlocal done
        async with limiter:
            try:
                outcome, key_id = await _rekey_one(store, info, newest_id)
            except StorageError as exc:
                report.failed.append(f"{info.key}: {exc}")
                outcome, key_id = "failed", ""
            if outcome == "rewritten":
                report.rewritten += 1
            elif outcome == "unchanged":
                report.unchanged += 1
            elif outcome == "gone":
                report.gone += 1
            if key_id:
                report.key_ids[key_id] += 1
            done += 1
            if progress is not None:
                progress(done, len(infos), info.key)

    async with anyio.create_task_group() as tg:
        for info in infos:
            tg.start_soon(one, info)
    if progress is not None and not infos:
        progress(0, 0, "")
    return report


async def _rekey_one(store: EncryptedStorage, info: ObjectInfo, newest_id: str) -> tuple[str, str]:
    key = info.key
    inner = store.inner
    for _ in range(5):
        try:
            header = await store.peek(key)
            sealed = header is not None
            target = sealed or store.encrypts(key)
            client_stale = (header is not None and header.key_id != newest_id) or (target and not sealed)
            server_stale = isinstance(inner, SupportsServerSideEncryption) and not (
                await inner.encryption_is_current(key)
            )
            if not client_stale and not server_stale:
                return "unchanged", header.key_id if header is not None else "plain"
            if info.size <= SMALL_OBJECT:
                blob = await store.inner.get(key)
                data = blob.data
                if client_stale:
                    plain = await open_bytes_async(data, key, store.keyring)
                    data = (
                        await seal_bytes_async(plain, key, store.keyring, store.chunk_size)
                        if target
                        else plain
                    )
                # If-Match: a sidecar, the index, a user or a token changed by a running
                # server since we read it is not overwritten; we look at it again instead.
                await store.inner.put(key, data, if_match=blob.etag)
            else:
                await _rewrite_large(store, key, client_stale and target)
            return "rewritten", newest_id if target else "plain"
        except ObjectConflict:
            continue
        except ObjectNotFound:
            return "gone", ""
    raise StorageError(f"{key!r} kept changing while rekey rewrote it; run rekey again")


async def _rewrite_large(store: EncryptedStorage, key: str, reseal: bool) -> None:
    # Only artifacts are this large, and artifacts are write-once: their key holds the
    # sha256 of their content, so no writer ever changes their bytes and rewriting one in
    # place under the same key cannot lose an update (put_file has no If-Match). The one
    # change possible meanwhile is a delete; the ETag is checked again just before the
    # write to keep that window small, and an object resurrected in it is an orphan that
    # fsck reports and removes. Readers in flight are safe: a local rename leaves open
    # files intact, an S3 GET reads one version, and a ranged read that straddles the
    # rewrite fails its first chunk's authentication and reads again.
    before = await store.inner.head(key)
    fd, tmp = tempfile.mkstemp(dir=store.tmp_dir, prefix="ri-rekey-")
    try:
        with os.fdopen(fd, "wb") as out:
            if reseal:
                plain_size = (await store.head(key)).size
                key_id, master = store.keyring.newest
                sealer = ChunkSealer(master, key_id, key, plain_size, store.chunk_size)
                await to_thread.run_sync(out.write, sealer.start())
                async for piece in store.stream(key):
                    await to_thread.run_sync(out.write, sealer.feed(piece))
                await to_thread.run_sync(out.write, sealer.finish())
            else:
                async for chunk in store.inner.stream(key):
                    await to_thread.run_sync(out.write, chunk)
            await to_thread.run_sync(out.flush)
        if (await store.inner.head(key)).etag != before.etag:
            raise ObjectConflict(key)
        await store.inner.put_file(key, Path(tmp))
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)


def describe_key_ids(counts: Counter[str]) -> str:
    return ", ".join(f"{key_id}: {n}" for key_id, n in sorted(counts.items())) or "no objects"
