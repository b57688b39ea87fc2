"""The `advisories` and `scan` commands."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from ..registry import Registry
from ..security.osv import AdvisoryError
from ..security.scan import LEVELS, gates
from .common import ProgressLine, Subparsers, admin


def register(sub: Subparsers, common: argparse.ArgumentParser) -> None:
    adv = sub.add_parser("advisories", help="the OSV advisory set").add_subparsers(
        dest="action", required=True
    )
    adv_import = adv.add_parser(
        "import", parents=[common], help="replace the set from a folder or zip of OSV records"
    )
    adv_import.add_argument("path")
    adv_import.set_defaults(handler=admin(advisories_import))
    adv_status = adv.add_parser("status", parents=[common], help="how many advisories are loaded")
    adv_status.set_defaults(handler=admin(advisories_status))
    scan_p = sub.add_parser("scan", parents=[common], help="report stored versions that advisories affect")
    scan_p.add_argument("projects", nargs="*")
    scan_p.add_argument("--format", choices=["text", "json"], default="text")
    scan_p.add_argument(
        "--fail-on",
        choices=list(LEVELS),
        default="any",
        help="exit 1 when a finding is at or above this severity (unknown counts as any)",
    )
    scan_p.set_defaults(handler=admin(scan_command))


async def advisories_status(registry: Registry, args: argparse.Namespace) -> int:
    print(f"{await registry.security.advisory_count()} advisories loaded")
    return 0


async def advisories_import(registry: Registry, args: argparse.Namespace) -> int:
    try:
        with ProgressLine("records") as progress:
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


async def scan_command(registry: Registry, args: argparse.Namespace) -> int:
    with ProgressLine("projects") as progress:
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
