"""The `advisories` and `scan` commands."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from pathlib import Path

from ..domain.model import Project
from ..registry import Registry
from ..security.advisories import import_advisories
from ..security.osv import AdvisoryError
from ..security.scan import gates, scan

Progress = Callable[[int, int, str], None]


async def advisories_command(registry: Registry, args: argparse.Namespace, progress: Progress) -> int:
    if args.action == "status":
        print(f"{await registry.advisories.count()} advisories loaded")
        return 0
    try:
        report = await import_advisories(registry.storage, Path(args.path), progress)
    except AdvisoryError as exc:
        print(f"error: {exc}")
        return 1
    for skipped in report.skipped:
        print(f"SKIPPED {skipped}")
    if report.unchanged:
        print(f"{report.total} advisories: the set is unchanged")
    else:
        print(
            f"imported {report.total} advisories: {len(report.added)} added, "
            f"{len(report.changed)} changed, {len(report.removed)} removed, {len(report.skipped)} files skipped"
        )
    return 0


async def scan_command(registry: Registry, args: argparse.Namespace, progress: Progress) -> int:
    names = [
        i.key.removeprefix("projects/").removesuffix(".json")
        async for i in registry.storage.list("projects/")
    ]
    everything: dict[str, Project] = {}
    for name in names:
        project, _ = await registry.meta.project(name)
        if project is not None:
            everything[name] = project
    wanted = [everything[n] for n in sorted(everything)]
    if args.projects:
        wanted = [await registry.project(p) for p in args.projects]
    report = await scan(wanted, registry.advisories, everything.get, progress)
    failing = [f for f in report.findings if gates(f, args.fail_on)]
    if args.format == "json":
        print(json.dumps(report.to_dict() | {"failing": len(failing), "fail_on": args.fail_on}, indent=2))
    else:
        for f in report.findings:
            fixed = f" (fixed in {', '.join(f.fixed_in)})" if f.fixed_in else ""
            if f.kind == "affected":
                print(f"{f.project} {f.version}: {f.advisory} [{f.severity}]{fixed}")
            else:
                print(
                    f"{f.project} {f.version}: requires {f.requirement}, which the index can only meet "
                    f"with affected versions: {f.advisory} [{f.severity}]{fixed}"
                )
        print(
            f"scanned {report.scanned_versions} versions: {len(report.findings)} findings, "
            f"{len(failing)} at or above --fail-on {args.fail_on}"
        )
    return 1 if failing else 0
