"""A directory as an object store: atomic renames, and locks that hold across processes."""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import os
import shutil
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import aiofiles
from anyio import to_thread

from .base import Blob, ObjectConflict, ObjectInfo, ObjectNotFound, StorageError
from .capabilities import ConditionalReach
from .schemes import local_path

_CHUNK = 256 * 1024
_INTERNAL = (".tmp", ".locks")
_LIST_BATCH = 1000  # keys listed per worker-thread hop


def _etag(st: os.stat_result) -> str:
    # Every write is a rename of a fresh file, so a new inode/mtime pair means new content.
    return f"{st.st_ino:x}-{st.st_mtime_ns:x}-{st.st_size:x}"


class LocalStorage:
    # link() and a per-key flock: atomic between the processes of one host (docs/storage.md).
    conditional_writes: ConditionalReach = "host"

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root).resolve()
        self._tmp = self.root / ".tmp"
        self._locks = self.root / ".locks"
        try:
            self._tmp.mkdir(parents=True, exist_ok=True)
            self._locks.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StorageError(f"cannot use {self.root} as storage: {exc}") from exc

    def __repr__(self) -> str:
        return f"LocalStorage({str(self.root)!r})"

    def _path(self, key: str) -> Path:
        parts = key.split("/")
        if not key or key.startswith("/") or any(p in ("", ".", "..") for p in parts):
            raise ValueError(f"invalid storage key {key!r}")
        if parts[0] in _INTERNAL:
            raise ValueError(f"reserved storage key {key!r}")
        return self.root.joinpath(*parts)

    @contextlib.contextmanager
    def _key_lock(self, key: str) -> Iterator[None]:
        name = hashlib.sha256(key.encode()).hexdigest()[:32]
        fd = os.open(self._locks / name, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # closing releases the flock

    def _temp_file(self) -> tuple[int, str]:
        return tempfile.mkstemp(dir=self._tmp, prefix="w-")

    # -- reads -------------------------------------------------------------------------

    def _get_sync(self, key: str, unless_etag: str | None) -> Blob | None:
        path = self._path(key)
        try:
            with open(path, "rb") as fh:
                etag = _etag(os.fstat(fh.fileno()))
                if unless_etag is not None and etag == unless_etag:
                    return None
                return Blob(fh.read(), etag)
        except (FileNotFoundError, NotADirectoryError):
            raise ObjectNotFound(key) from None
        except OSError as exc:
            if exc.errno == errno.ENAMETOOLONG:
                raise ObjectNotFound(key) from None  # no such object can exist here
            raise StorageError(f"reading {key!r}: {exc}") from exc

    async def get(self, key: str) -> Blob:
        blob = await to_thread.run_sync(self._get_sync, key, None)
        assert blob is not None
        return blob

    async def get_if_changed(self, key: str, etag: str) -> Blob | None:
        return await to_thread.run_sync(self._get_sync, key, etag)

    def _head_sync(self, key: str) -> ObjectInfo:
        try:
            st = self._path(key).stat()
        except (FileNotFoundError, NotADirectoryError):
            raise ObjectNotFound(key) from None
        except OSError as exc:
            if exc.errno == errno.ENAMETOOLONG:
                raise ObjectNotFound(key) from None
            raise StorageError(f"stat {key!r}: {exc}") from exc
        return ObjectInfo(key, st.st_size, _etag(st), st.st_mtime)

    async def head(self, key: str) -> ObjectInfo:
        return await to_thread.run_sync(self._head_sync, key)

    async def stream(self, key: str, start: int = 0, end: int | None = None) -> AsyncIterator[bytes]:
        try:
            fh = await aiofiles.open(self._path(key), "rb")
        except (FileNotFoundError, NotADirectoryError):
            raise ObjectNotFound(key) from None
        try:
            await fh.seek(start)
            remaining = None if end is None else max(0, end - start)
            while remaining is None or remaining > 0:
                size = _CHUNK if remaining is None else min(_CHUNK, remaining)
                chunk = await fh.read(size)
                if not chunk:
                    break
                if remaining is not None:
                    remaining -= len(chunk)
                yield chunk
        finally:
            await fh.close()

    # -- writes ------------------------------------------------------------------------

    def _install(self, tmp: str, key: str, create_only: bool, if_match: str | None) -> str:
        dest = self._path(key)
        dest.parent.mkdir(parents=True, exist_ok=True)
        try:
            # The ETag is taken from the new file itself, before it is in place: a stat of
            # the key afterwards could see another process's write and hand this writer that
            # one's ETag (then its next compare-and-swap would pass against content it never
            # read, and a reader holding that ETag would never see the change).
            etag = _etag(os.stat(tmp))
            if create_only:
                # link() refuses an existing name atomically, across processes.
                try:
                    os.link(tmp, dest)
                except FileExistsError:
                    raise ObjectConflict(key) from None
            else:
                with self._key_lock(key):
                    if if_match is not None:
                        try:
                            current = _etag(dest.stat())
                        except FileNotFoundError:
                            raise ObjectConflict(key) from None
                        if current != if_match:
                            raise ObjectConflict(key)
                    os.replace(tmp, dest)
                    tmp = ""
            return etag
        finally:
            if tmp:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(tmp)

    def _put_sync(self, key: str, data: bytes, create_only: bool, if_match: str | None) -> str:
        self._path(key)  # validate before writing anything
        fd, tmp = self._temp_file()
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
        except OSError as exc:
            os.unlink(tmp)
            raise StorageError(f"writing {key!r}: {exc}") from exc
        return self._install(tmp, key, create_only, if_match)

    async def put(
        self, key: str, data: bytes, *, create_only: bool = False, if_match: str | None = None
    ) -> str:
        return await to_thread.run_sync(self._put_sync, key, data, create_only, if_match)

    def _put_file_sync(self, key: str, path: Path, create_only: bool) -> ObjectInfo:
        self._path(key)
        fd, tmp = self._temp_file()
        try:
            with os.fdopen(fd, "wb") as out, open(path, "rb") as src:
                shutil.copyfileobj(src, out, _CHUNK)
                out.flush()
                os.fsync(out.fileno())
        except OSError as exc:
            os.unlink(tmp)
            raise StorageError(f"writing {key!r}: {exc}") from exc
        etag = self._install(tmp, key, create_only, None)
        return ObjectInfo(key, path.stat().st_size, etag)

    async def put_file(self, key: str, path: Path, *, create_only: bool = False) -> ObjectInfo:
        return await to_thread.run_sync(self._put_file_sync, key, path, create_only)

    def _delete_sync(self, key: str) -> None:
        path = self._path(key)
        with self._key_lock(key), contextlib.suppress(FileNotFoundError):
            path.unlink()
        # Tidy empty folders up to the root so listings stay cheap.
        parent = path.parent
        while parent != self.root:
            try:
                parent.rmdir()
            except OSError:
                break
            parent = parent.parent

    async def delete(self, key: str) -> None:
        await to_thread.run_sync(self._delete_sync, key)

    def _walk(self, prefix: str) -> Iterator[ObjectInfo]:
        """Keys under ``prefix`` in ascending order, one directory listing held per level.

        Each directory's entries are sorted by the key text they lead to (a file by its name,
        a folder by its name and "/"), which is the order of the full keys: so the walk needs
        no global sort, and 10 million files are never in memory at once (the widest folder
        is, ``files/`` at one entry per project).
        """
        base = prefix.rsplit("/", 1)[0] if "/" in prefix else ""
        start = self.root / base if base else self.root
        rel = base + "/" if base else ""

        def wanted(key_prefix: str) -> bool:  # could anything under this folder match?
            return key_prefix.startswith(prefix) or prefix.startswith(key_prefix)

        def walk(folder: Path, rel: str) -> Iterator[ObjectInfo]:
            try:
                with os.scandir(folder) as it:
                    entries = [
                        (e.name + "/" if e.is_dir(follow_symlinks=False) else e.name, e.name) for e in it
                    ]
            except (FileNotFoundError, NotADirectoryError):
                return
            entries.sort()
            for sort_key, name in entries:
                if not rel and name in _INTERNAL:
                    continue
                if sort_key.endswith("/"):
                    if wanted(rel + sort_key):
                        yield from walk(folder / name, rel + sort_key)
                    continue
                key = rel + name
                if not key.startswith(prefix):
                    continue
                try:
                    st = os.stat(folder / name)
                except FileNotFoundError:
                    continue
                yield ObjectInfo(key, st.st_size, _etag(st), st.st_mtime)

        return walk(start, rel)

    async def list(self, prefix: str) -> AsyncIterator[ObjectInfo]:
        walk = self._walk(prefix)

        def batch() -> list[ObjectInfo]:
            return [info for _, info in zip(range(_LIST_BATCH), walk, strict=False)]

        while chunk := await to_thread.run_sync(batch):
            for info in chunk:
                yield info

    async def close(self) -> None:
        return None


def open_url(url: str, **options: Any) -> LocalStorage:
    """The ``file`` entry point: a bare path or ``file:///PATH``; takes no options."""
    path = local_path(url)
    if path is None:
        raise ValueError(f"--storage {url}: not a directory path or file: URL")
    return LocalStorage(path)
