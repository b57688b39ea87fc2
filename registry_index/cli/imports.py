"""``registry-index import DIRECTORY``: bulk-import a folder of wheels and sdists.

The folder is walked twice, never held: once to count (the progress total, from names
alone), then in sorted order, a window of paths at a time, to publish.
"""

from __future__ import annotations

import argparse
import itertools
import os
import sys
from collections.abc import Iterator
from pathlib import Path

from anyio import to_thread

from ..auth.accounts import User
from ..errors import RegistryError
from ..names import InvalidFilename
from ..registry import Registry
from .common import ProgressLine, Subparsers, admin

# Not a valid user name, so no account can ever be mistaken for it; projects it creates have
# no owner until an admin adds one.
SYSTEM_USER = User("(import)", "", True, "")
_SUFFIXES = (".whl", ".tar.gz", ".zip")
WINDOW = 256  # paths read ahead of the publishing


def register(sub: Subparsers, common: argparse.ArgumentParser) -> None:
    imp = sub.add_parser("import", parents=[common], help="bulk-import a folder of wheels and sdists")
    imp.add_argument("directory")
    imp.add_argument("--owner", help="user who owns newly created projects")
    imp.set_defaults(handler=admin(_import))


def _walk(folder: Path) -> Iterator[Path]:
    """Distribution files under ``folder`` in sorted path order, one folder listed at a time.

    Entries sorted by name and visited depth first give ``sorted(rglob(...))``'s order
    (paths compare part by part); like rglob, symlinked folders are not entered.
    """
    with os.scandir(folder) as it:
        entries = sorted(it, key=lambda e: e.name)
    for entry in entries:
        if entry.is_dir(follow_symlinks=False):
            yield from _walk(Path(entry.path))
        elif entry.name.endswith(_SUFFIXES) and entry.is_file():
            yield Path(entry.path)


def _count(root: Path) -> int:
    return sum(1 for _ in _walk(root))


async def _owner(registry: Registry, name: str | None) -> User | None:
    if not name:
        return SYSTEM_USER
    found = await registry.accounts.get_user(name)
    if found is None:
        print(f"error: no user {name!r}; create it with 'registry-index user add'", file=sys.stderr)
        return None
    return User(found.name, "", True, found.created)


async def _import(registry: Registry, args: argparse.Namespace) -> int:
    root = Path(args.directory)
    if not await to_thread.run_sync(root.is_dir):
        print(f"error: {root} is not a directory", file=sys.stderr)
        return 2
    user = await _owner(registry, args.owner)
    if user is None:
        return 2
    total = await to_thread.run_sync(_count, root)
    added = skipped = n = 0
    failures: list[str] = []
    walk = _walk(root)
    # One update per file: each publish costs far more than drawing a line.
    with ProgressLine("files", interval=0.0) as progress:
        while window := await to_thread.run_sync(lambda: list(itertools.islice(walk, WINDOW))):
            for path in window:
                try:
                    result = await registry.publish_path(path, user)
                    added += result.created
                    skipped += not result.created
                except (RegistryError, InvalidFilename) as exc:
                    failures.append(f"{path.name}: {exc}")
                n += 1
                progress(n, total, path.name)
    print(f"imported {added} files, {skipped} already present, {len(failures)} refused")
    for failure in failures:
        print(f"  refused {failure}", file=sys.stderr)
    return 1 if failures else 0
