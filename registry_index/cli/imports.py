"""``registry-index import DIRECTORY``: bulk-import a folder of wheels and sdists."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from anyio import to_thread

from ..auth.accounts import User
from ..errors import RegistryError
from ..names import InvalidFilename
from ..registry import Registry
from .common import Subparsers, admin, progress

# Not a valid user name, so no account can ever be mistaken for it; projects it creates have
# no owner until an admin adds one.
SYSTEM_USER = User("(import)", "", True, "")


def register(sub: Subparsers, common: argparse.ArgumentParser) -> None:
    imp = sub.add_parser("import", parents=[common], help="bulk-import a folder of wheels and sdists")
    imp.add_argument("directory")
    imp.add_argument("--owner", help="user who owns newly created projects")
    imp.set_defaults(handler=admin(_import))


def _find_dists(root: Path) -> list[Path] | None:
    if not root.is_dir():
        return None
    suffixes = (".whl", ".tar.gz", ".zip")
    return sorted(p for p in root.rglob("*") if p.is_file() and p.name.endswith(suffixes))


async def _import(registry: Registry, args: argparse.Namespace) -> int:
    root = Path(args.directory)
    files = await to_thread.run_sync(_find_dists, root)
    if files is None:
        print(f"error: {root} is not a directory", file=sys.stderr)
        return 2
    user = SYSTEM_USER
    if args.owner:
        found = await registry.accounts.get_user(args.owner)
        if found is None:
            print(
                f"error: no user {args.owner!r}; create it with 'registry-index user add'",
                file=sys.stderr,
            )
            return 2
        user = User(found.name, "", True, found.created)
    added = skipped = 0
    failures: list[str] = []
    for n, path in enumerate(files, 1):
        try:
            result = await registry.publish_path(path, user)
            added += result.created
            skipped += not result.created
        except (RegistryError, InvalidFilename) as exc:
            failures.append(f"{path.name}: {exc}")
        progress(n, len(files), path.name)
    print(f"imported {added} files, {skipped} already present, {len(failures)} refused")
    for failure in failures:
        print(f"  refused {failure}", file=sys.stderr)
    return 1 if failures else 0
