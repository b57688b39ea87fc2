"""The upstream proxy's admin commands: ``pin``, ``unpin``, ``cache [show|prune]``."""

from __future__ import annotations

import argparse
import time
from datetime import UTC, datetime

from ..registry import Registry
from ..settings import SettingsError, parse_size
from .common import Subparsers, actor, admin, progress


def register(sub: Subparsers, common: argparse.ArgumentParser) -> None:
    pin = sub.add_parser("pin", parents=[common], help="serve a project from one named upstream only")
    pin.add_argument("project")
    pin.add_argument("upstream", help="the upstream's id, as `serve --upstream` derives it (e.g. pypi-org)")
    pin.set_defaults(handler=admin(_pin))
    unpin = sub.add_parser("unpin", parents=[common], help="remove a project's upstream pin")
    unpin.add_argument("project")
    unpin.set_defaults(handler=admin(_unpin))
    cache = sub.add_parser("cache", parents=[common], help="show or prune the upstream cache")
    actions = cache.add_subparsers(dest="action")
    actions.add_parser(
        "show", parents=[common], help="pages, files and bytes kept per upstream (the default)"
    )
    prune = actions.add_parser("prune", parents=[common], help="remove cached upstream files, oldest first")
    prune.add_argument("--older-than", type=float, metavar="DAYS", help="files stored more than DAYS ago")
    prune.add_argument("--max-size", metavar="SIZE", help="then the oldest until the rest fit, e.g. 20G")
    prune.add_argument("--pages", action="store_true", help="also drop cached pages (refetched on demand)")
    cache.set_defaults(handler=admin(_cache), action=None)


async def _pin(registry: Registry, args: argparse.Namespace) -> int:
    name = await registry.pin(args.project, args.upstream, actor=actor())
    print(f"pinned {name} to upstream {args.upstream}")
    return 0


async def _unpin(registry: Registry, args: argparse.Namespace) -> int:
    name = await registry.unpin(args.project, actor=actor())
    print(f"unpinned {name}")
    return 0


def _when(stamp: float | None) -> str:
    return "-" if stamp is None else datetime.fromtimestamp(stamp, UTC).strftime("%Y-%m-%d %H:%M")


async def _cache(registry: Registry, args: argparse.Namespace) -> int:
    if args.action == "prune":
        if args.older_than is None and args.max_size is None and not args.pages:
            print("error: say what to prune: --older-than DAYS, --max-size SIZE and/or --pages")
            return 2
        try:
            max_bytes = None if args.max_size is None else parse_size(args.max_size)
        except ValueError:
            raise SettingsError(
                f"--max-size: expected a size such as 500M or 20G, got {args.max_size!r}"
            ) from None
        report = await registry.upstream_cache.prune(
            now=time.time(),
            older_than=None if args.older_than is None else args.older_than * 86400,
            max_bytes=max_bytes,
            pages=args.pages,
            progress=progress,
        )
        print(
            f"removed {len(report.removed)} objects, freed {report.freed} bytes; {report.kept_bytes} bytes of files kept"
        )
        return 0
    usage = await registry.upstream_cache.usage()
    if not usage:
        print("the upstream cache is empty")
    for u in usage:
        print(
            f"{u.upstream}: {u.pages} pages, {u.blobs} files, {u.bytes} bytes "
            f"(files stored {_when(u.oldest)} to {_when(u.newest)} UTC)"
        )
    return 0
