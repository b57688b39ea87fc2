"""A release's dependency tree: each requirement and the version it resolves to (pure)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from packaging.requirements import Requirement
from packaging.utils import (
    canonicalize_name,
)

from .catalog import Catalog, Dependency, identifier
from .environment import Environment
from .resolver import resolve
from .source import Resolution, Source, Unsatisfiable

# -- dependency trees ----------------------------------------------------------------------


class UnknownRelease(LookupError):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass
class TreeNode:
    requirement: str  # as declared, marker included
    name: str
    extras: tuple[str, ...] = ()
    version: str | None = None  # None: unsatisfiable
    dependencies: list[TreeNode] = field(default_factory=list)
    unsatisfiable: str | None = None
    repeated: bool = False  # shown in full where it first appears
    advisories: list[str] = field(default_factory=list)  # known advisories affecting the chosen version
    first_fixed: str | None = None  # the first version that fixes all of them, when one exists

    def to_json(self) -> dict[str, Any]:
        doc: dict[str, Any] = {"requirement": self.requirement, "name": self.name, "version": self.version}
        if self.advisories:
            doc["vulnerable"] = {"advisories": self.advisories, "first_fixed": self.first_fixed}
        if self.extras:
            doc["extras"] = list(self.extras)
        if self.unsatisfiable is not None:
            doc["unsatisfiable"] = self.unsatisfiable
        if self.repeated:
            doc["repeated"] = True
        doc["dependencies"] = [d.to_json() for d in self.dependencies]
        return doc


@dataclass
class DependencyTree:
    project: str
    version: str
    requires_dist: list[str]
    environment: Environment
    nodes: list[TreeNode]
    unsatisfiable: list[Unsatisfiable]
    pins: dict[str, str]
    installable: str | None = None  # why the release itself does not install on the target
    warnings: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "project": self.project,
            "version": self.version,
            "requires_dist": self.requires_dist,
            "environment": self.environment.to_json(),
            "tree": [n.to_json() for n in self.nodes],
            "unsatisfiable": [u.to_json() for u in self.unsatisfiable],
            "pins": dict(sorted(self.pins.items())),
        }
        if self.installable is not None:
            doc["not_installable"] = self.installable
        if self.warnings:
            doc["warnings"] = self.warnings
        return doc


def dependency_tree(source: Source, env: Environment, name: str, version: str) -> DependencyTree:
    """The declared requirements of one release and, for ``env``, the version each resolves to.

    The versions come from one resolution of the release itself. When that fails, each direct
    requirement is added in turn and those that cannot join the others are marked
    unsatisfiable, with the reason; the rest still get versions.
    """
    catalog = Catalog(source, env)
    key = canonicalize_name(name)
    if catalog.releases(key) is None:
        raise UnknownRelease(f"No project {name!r} on this index.")
    try:
        root = catalog.release(key, version)
    except ValueError:
        root = None
    if root is None:
        raise UnknownRelease(f"Project {name!r} has no version {version!r}.")
    declared = catalog.requirements(root)
    deps = catalog.dependencies(root)
    problem = catalog.exclusion(root)
    pin = Requirement(f"{root.name}=={root.version}")

    def attempt(chosen: list[Dependency]) -> Resolution:
        reqs = [d.requirement for d in chosen]
        if problem is None:  # resolve the release itself, its dependencies replaced by ``chosen``
            return resolve(catalog, [pin], env, overrides={id(root): reqs})
        return resolve(catalog, reqs, env)

    failed: dict[int, str] = {}
    final = attempt(deps)
    unsatisfiable = list(final.unsatisfiable)
    if not final.ok:
        accepted: list[Dependency] = []
        final = attempt([])
        for n, dep in enumerate(deps):
            trial = attempt([*accepted, dep])
            if trial.ok:
                accepted.append(dep)
                final = trial
            else:
                failed[n] = "; ".join(str(u) for u in trial.unsatisfiable)
    tree = DependencyTree(
        project=root.name,
        version=root.label,
        requires_dist=list(root.requires_dist),
        environment=env,
        nodes=[],
        unsatisfiable=unsatisfiable,
        pins=final.pins,
        installable=problem,
        warnings=final.warnings,
    )
    if isinstance(declared, str):
        tree.installable = declared
    seen: set[str] = {identifier(root.name)}
    for n, dep in enumerate(deps):
        tree.nodes.append(_node(catalog, dep, final, seen, failed.get(n)))
    return tree


def _node(
    catalog: Catalog, dep: Dependency, resolution: Resolution, seen: set[str], failure: str | None
) -> TreeNode:
    req = dep.requirement
    name = canonicalize_name(req.name)
    extras = frozenset(canonicalize_name(e) for e in req.extras)
    node = TreeNode(dep.declared, name, tuple(sorted(extras)))
    version = resolution.pins.get(name)
    if failure is not None or version is None:
        node.unsatisfiable = failure or "not resolved"
        return node
    node.version = version
    key = identifier(name, extras)
    if key in seen:
        node.repeated = True
        return node
    seen.add(key)
    release = catalog.release(name, version)
    if release is None:  # pragma: no cover - pins always come from the catalog
        return node
    valid, _ = catalog.valid_extras(release, extras)
    for child in catalog.dependencies(release, valid):
        node.dependencies.append(_node(catalog, child, resolution, seen, None))
    return node
