"""``registry-index fsck``: listed files against the store, orphans, and the rebuilt index."""

from __future__ import annotations

import argparse

from ..fsck import fsck
from ..registry import Registry
from .common import ProgressLine, Subparsers, admin


def register(sub: Subparsers, common: argparse.ArgumentParser) -> None:
    fsck_p = sub.add_parser("fsck", parents=[common], help="check listed files against the store")
    fsck_p.add_argument("--repair", action="store_true", help="remove old orphans, rebuild the index")
    fsck_p.add_argument("--no-hashes", action="store_true", help="check existence and size only")
    fsck_p.add_argument(
        "--min-orphan-age",
        type=float,
        default=3600.0,
        help="seconds an orphan must be old before --repair removes it (uploads in flight are young)",
    )
    fsck_p.set_defaults(handler=admin(_fsck))


async def _fsck(registry: Registry, args: argparse.Namespace) -> int:
    with ProgressLine("projects") as progress:
        report = await fsck(
            registry.storage,
            repair=args.repair,
            verify_hashes=not args.no_hashes,
            min_orphan_age=args.min_orphan_age,
            progress=progress,
        )
    removed = set(report.removed)  # a lookup per orphan: a list would make this quadratic
    for problem in report.problems:
        print(f"PROBLEM {problem}")
    for orphan in report.orphans:
        state = "removed" if orphan in removed else "kept (young, or no --repair)"
        print(f"ORPHAN  {orphan} {state}")
    print(
        f"checked {report.checked_files} files: {len(report.problems)} problems, "
        f"{len(report.orphans)} orphans, {len(report.removed)} removed"
    )
    fixed_problems = args.repair and all(p.startswith("index:") for p in report.problems)
    return 0 if not report.problems or fixed_problems else 1
