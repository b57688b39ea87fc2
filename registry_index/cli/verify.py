"""``registry-index verify [PROJECT]``: re-validate stored files with today's rules."""

from __future__ import annotations

import argparse

from ..registry import Registry
from .common import Subparsers, admin, progress


def register(sub: Subparsers, common: argparse.ArgumentParser) -> None:
    verify = sub.add_parser("verify", parents=[common], help="re-validate stored files with today's rules")
    verify.add_argument("project", nargs="?")
    verify.set_defaults(handler=admin(_verify))


async def _verify(registry: Registry, args: argparse.Namespace) -> int:
    results = await registry.verify(args.project, progress=progress)
    bad = {name: problems for name, problems in results.items() if problems}
    for name, problems in bad.items():
        print(f"INVALID {name}")
        for problem in problems:
            print(f"  - {problem}")
    print(f"verified {len(results)} files: {len(bad)} invalid")
    return 1 if bad else 0
