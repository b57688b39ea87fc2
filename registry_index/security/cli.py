"""The `advisories` and `scan` commands."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from pathlib import Path

from ..registry import Registry
from .osv import AdvisoryError
from .scan import gates

Progress = Callable[[int, int, str], None]


async def advisories_command(registry: Registry, args: argparse.Namespace, progress: Progress) -> int:
    if args.action == "status":
        print(f"{await registry.security.advisory_count()} advisories loaded")
        return 0
    try:
        report = await registry.security.import_advisories(Path(args.path), progress)
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
    report = await registry.security.scan(args.projects or (), progress)
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
