"""``registry-index verify [PROJECT]``: re-validate stored files with today's rules."""

from __future__ import annotations

import argparse

from ..registry import Registry
from .common import ProgressLine, Subparsers, admin


def register(sub: Subparsers, common: argparse.ArgumentParser) -> None:
    verify = sub.add_parser("verify", parents=[common], help="re-validate stored files with today's rules")
    verify.add_argument("project", nargs="?")
    verify.set_defaults(handler=admin(_verify))


async def _verify(registry: Registry, args: argparse.Namespace) -> int:
    # Results stream from the walk; only the invalid ones are kept (printed after the
    # progress line, so the two never interleave on a terminal).
    checked = 0
    bad: list[tuple[str, list[str]]] = []
    with ProgressLine("files" if args.project else "projects") as progress:
        async for name, problems in registry.verification.verify_each(args.project, progress):
            checked += 1
            if problems:
                bad.append((name, problems))
    for name, problems in bad:
        print(f"INVALID {name}")
        for problem in problems:
            print(f"  - {problem}")
    print(f"verified {checked} files: {len(bad)} invalid")
    return 1 if bad else 0
