"""``registry-index audit [verify]``: show the audit log, or check its hash chain."""

from __future__ import annotations

import argparse

from ..audit.log import AuditQuery
from ..names import normalize
from ..registry import Registry
from .common import Subparsers, admin


def register(sub: Subparsers, common: argparse.ArgumentParser) -> None:
    audit = sub.add_parser("audit", parents=[common], help="show the audit log, or verify its chain")
    audit.add_argument("action", nargs="?", choices=["verify"], help="check the hash chain")
    audit.add_argument("--project")
    audit.add_argument("--actor")
    audit.add_argument("--action", dest="action_filter", help="e.g. project:file:upload or project")
    audit.add_argument("--since", help="ISO date or time (UTC), e.g. 2026-11-01")
    audit.set_defaults(handler=admin(_audit))


async def _audit(registry: Registry, args: argparse.Namespace) -> int:
    if args.action == "verify":
        problems = await registry.audit.verify()
        for problem in problems:
            print(f"TAMPERED {problem}")
        count = len([e async for e in registry.audit.events()])
        print(f"audit log: {count} events, {'intact' if not problems else f'{len(problems)} problems'}")
        return 1 if problems else 0
    query = AuditQuery(
        project=normalize(args.project) if args.project else None,
        actor=args.actor,
        action=args.action_filter,
        since=args.since,
    )
    async for event in registry.audit.events(query):
        where = "/".join(x for x in (event.project, event.version, event.filename) if x)
        print(
            f"{event.seq:>6} {event.time} {event.actor:<14} {event.action:<22} {event.outcome:<8} "
            f"{where} {event.client} {event.detail}".rstrip()
        )
    return 0
