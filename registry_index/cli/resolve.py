"""``registry-index deps NAME[==VERSION]``: print a release's dependency tree."""

from __future__ import annotations

import argparse
import json

from packaging.requirements import Requirement

from ..registry import Registry
from ..resolve.environment import PLATFORMS, Environment
from ..resolve.source import parse_requirement
from ..resolve.tree import DependencyTree, TreeNode
from .common import Subparsers, admin


def register(sub: Subparsers, common: argparse.ArgumentParser) -> None:
    deps = sub.add_parser(
        "deps", parents=[common], help="print a release's dependency tree as this index resolves it"
    )
    deps.add_argument("requirement", metavar="NAME[==VERSION]", help="default: what pip would install")
    deps.add_argument("--python", help="target Python, e.g. 3.11 (default: this interpreter)")
    deps.add_argument("--platform", choices=PLATFORMS, help="target platform (default: this machine's)")
    deps.add_argument("--arch", help="x86_64 or aarch64 (default: x86_64, or this machine's)")
    deps.add_argument("--json", action="store_true", help="print the API's JSON document instead")
    deps.set_defaults(handler=admin(deps_command))


def _name_and_version(text: str) -> tuple[str, str | None]:
    req: Requirement = parse_requirement(text)
    specs = list(req.specifier)
    if req.extras or req.url or req.marker:
        raise ValueError(f"Give NAME or NAME==VERSION, not {text!r}.")
    if not specs:
        return req.name, None
    if len(specs) == 1 and specs[0].operator in ("==", "===") and "*" not in specs[0].version:
        return req.name, specs[0].version
    raise ValueError(f"Give NAME or NAME==VERSION, not {text!r}.")


def format_tree(tree: DependencyTree) -> str:
    env = tree.environment
    lines = [f"{tree.project} {tree.version}  [{env.describe()}]"]
    if tree.installable:
        lines.append(f"  (this release itself does not install here: {tree.installable})")
    if not tree.nodes:
        lines.append("  (no dependencies for this environment)")

    def walk(node: TreeNode, depth: int) -> None:
        pad = "  " * depth
        if node.unsatisfiable is not None:
            lines.append(f"{pad}{node.requirement}: UNSATISFIABLE ({node.unsatisfiable})")
            return
        mark = " (*)" if node.repeated else ""
        if node.advisories:
            fix = f", fixed in {node.first_fixed}" if node.first_fixed else ", no fixed version"
            mark += f"  VULNERABLE: {', '.join(node.advisories)}{fix}"
        lines.append(f"{pad}{node.requirement}: {node.version}{mark}")
        for child in node.dependencies:
            walk(child, depth + 1)

    for node in tree.nodes:
        walk(node, 1)
    if any(n.repeated for n in _all(tree.nodes)):
        lines.append("(*) shown in full above")
    for warning in tree.warnings:
        lines.append(f"warning: {warning}")
    return "\n".join(lines)


def _all(nodes: list[TreeNode]) -> list[TreeNode]:
    out: list[TreeNode] = []
    for node in nodes:
        out.append(node)
        out += _all(node.dependencies)
    return out


async def deps_command(registry: Registry, args: argparse.Namespace) -> int:
    """Prints the tree; exits 1 when a requirement cannot be satisfied."""
    name, version = _name_and_version(args.requirement)
    env = Environment.from_params(args.python, args.platform, args.arch)
    tree = await registry.dependency_tree(name, version, env)
    print(json.dumps(tree.to_json(), indent=2) if args.json else format_tree(tree))
    return 1 if tree.unsatisfiable or any(n.unsatisfiable for n in tree.nodes) else 0
