"""Project administration: ``yank``, ``unyank``, ``status``, ``reserve``, ``unreserve``, ``delete``,
``maintainer add|remove``."""

from __future__ import annotations

import argparse

from ..registry import Registry
from .common import Subparsers, actor, admin


def register(sub: Subparsers, common: argparse.ArgumentParser) -> None:
    for verb in ("yank", "unyank"):
        p = sub.add_parser(verb, parents=[common], help=f"{verb} every file of a release (PEP 592)")
        p.add_argument("project")
        p.add_argument("version")
        if verb == "yank":
            p.add_argument("--reason")
        else:
            p.set_defaults(reason="")
        p.set_defaults(handler=admin(_yank))
    status = sub.add_parser("status", parents=[common], help="set a project's PEP 792 status")
    status.add_argument("project")
    status.add_argument("status", choices=["active", "archived", "quarantined", "deprecated"])
    status.add_argument("--reason")
    status.set_defaults(handler=admin(_status))
    reserve = sub.add_parser(
        "reserve", parents=[common], help="host a name here before it has files (never looked up upstream)"
    )
    reserve.add_argument("project")
    reserve.set_defaults(handler=admin(_reserve))
    unreserve = sub.add_parser(
        "unreserve", parents=[common], help="take a reservation back (a name with no files is freed)"
    )
    unreserve.add_argument("project")
    unreserve.set_defaults(handler=admin(_unreserve))
    delete = sub.add_parser("delete", parents=[common], help="delete a project, release or file")
    delete.add_argument("project")
    delete.add_argument("version", nargs="?")
    delete.add_argument("filename", nargs="?")
    delete.set_defaults(handler=admin(_delete))
    maint = sub.add_parser("maintainer", help="let users upload to a project").add_subparsers(
        dest="action", required=True
    )
    for verb in ("add", "remove"):
        p = maint.add_parser(verb, parents=[common], help=f"{verb} a maintainer (or --owner)")
        p.add_argument("project")
        p.add_argument("user")
        p.add_argument("--owner", action="store_true", help="as an owner rather than a maintainer")
        p.set_defaults(handler=admin(_maintainer))


async def _yank(registry: Registry, args: argparse.Namespace) -> int:
    """``yank`` and ``unyank``: which one is the command's name."""
    cmd = args.command
    await registry.set_yank(args.project, args.version, cmd == "yank", args.reason or "", actor=actor())
    print(f"{cmd}ed {args.project} {args.version}")
    return 0


async def _status(registry: Registry, args: argparse.Namespace) -> int:
    project = await registry.set_status(args.project, args.status, args.reason or "", actor=actor())
    print(f"{project.name} is now {project.status}")
    return 0


async def _reserve(registry: Registry, args: argparse.Namespace) -> int:
    before, _ = await registry.project_with_etag(args.project)
    project = await registry.reserve(args.project, actor=actor())
    if before is not None and before.reserved:
        print(f"{project.name} was already reserved; nothing changed")
    elif before is None:
        print(f"reserved {project.name}: hosted here with no files, never looked up upstream")
    else:
        print(f"reserved {project.name}: hosted here ({len(project.files)} files), never looked up upstream")
    return 0


async def _unreserve(registry: Registry, args: argparse.Namespace) -> int:
    before, _ = await registry.project_with_etag(args.project)
    project = await registry.unreserve(args.project, actor=actor())
    if project is None:
        print(f"unreserved {args.project}: it had no files, owners or maintainers, so the name is free")
    elif before is not None and not before.reserved:
        print(f"{project.name} was not reserved; nothing changed")
    else:
        print(
            f"unreserved {project.name}: still hosted here ({len(project.files)} files, owners or maintainers)"
        )
    return 0


async def _delete(registry: Registry, args: argparse.Namespace) -> int:
    removed = await registry.delete(args.project, args.version, args.filename, actor=actor())
    print(f"deleted {len(removed)} files: {', '.join(removed) or '-'}")
    return 0


async def _maintainer(registry: Registry, args: argparse.Namespace) -> int:
    project = await registry.set_maintainer(
        args.project, args.user, args.action == "add", owner=args.owner, actor=actor()
    )
    print(
        f"{project.name}: owners {', '.join(project.owners) or '-'}; "
        f"maintainers {', '.join(project.maintainers) or '-'}"
    )
    return 0
