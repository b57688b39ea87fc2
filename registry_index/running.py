"""Running servers announce their store, so admin commands find it without ``--storage``.

``registry-index serve`` writes ``<state dir>/servers/<pid>.json`` (the state dir is
``$XDG_STATE_HOME/registry-index``, by default ``~/.local/state/registry-index``) and removes
it when it stops. An admin command given neither ``--storage`` nor
``REGISTRY_INDEX_STORAGE`` uses the store of the one live server it finds there, and says so
on stderr; with several servers on different stores it asks for ``--storage``. So
``make run STORAGE=/srv/pkgs`` and a plain ``registry-index user add alice`` agree.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from .storage.schemes import local_path


@dataclass(frozen=True, slots=True)
class Announcement:
    pid: int
    url: str
    storage: str


def state_dir() -> Path:
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "registry-index" / "servers"


def absolute_storage(storage: str) -> str:
    """A store as another working directory must name it."""
    path = local_path(storage)
    return storage if path is None else str(path.resolve())


@contextlib.contextmanager
def announced(url: str, storage: str) -> Iterator[None]:
    """Announce this process as a server on ``storage`` while the block runs (best effort)."""
    path = state_dir() / f"{os.getpid()}.json"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        doc = {"pid": os.getpid(), "url": url, "storage": absolute_storage(storage)}
        path.write_text(json.dumps(doc))
    except OSError:
        path = None  # type: ignore[assignment]  # a read-only home: admin commands need --storage
    try:
        yield
    finally:
        if path is not None:
            with contextlib.suppress(OSError):
                path.unlink()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process, alive
    return True


def live_servers() -> list[Announcement]:
    """Announcements of servers that are still running; stale files are removed."""
    found: list[Announcement] = []
    try:
        paths = sorted(state_dir().glob("*.json"))
    except OSError:
        return []
    for path in paths:
        try:
            doc = json.loads(path.read_text())
            entry = Announcement(int(doc["pid"]), str(doc["url"]), str(doc["storage"]))
        except (OSError, ValueError, KeyError, TypeError):
            continue
        if _alive(entry.pid):
            found.append(entry)
        else:
            with contextlib.suppress(OSError):
                path.unlink()
    return found


class AmbiguousStore(ValueError):
    pass


def discovered_storage() -> Announcement | None:
    """The one store that running servers use; None when no server runs."""
    servers = live_servers()
    stores = {s.storage for s in servers}
    if len(stores) > 1:
        listing = "; ".join(f"{s.url} on {s.storage}" for s in servers)
        raise AmbiguousStore(
            f"several servers are running on different stores ({listing}): choose one with --storage"
        )
    return servers[0] if servers else None
