"""``registry-index publisher add|list|remove``: trusted publishers of projects (trusted publishing)."""

from __future__ import annotations

import argparse

from ..registry import Registry
from ..trusted.publishers import KINDS
from .common import Subparsers, actor, admin

# flag → claim rule, by kind (trusted/publishers.py says what each must match)
_FLAGS = {
    "repository": "github: OWNER/NAME of the repository whose workflow publishes",
    "repository_owner_id": "github: the owner's numeric id (survives renames; optional)",
    "workflow": "github: the workflow file under .github/workflows/, e.g. release.yml",
    "project_path": "gitlab: GROUP/PROJECT whose pipeline publishes",
    "ci_file": "gitlab: the CI file's path in the repository, e.g. .gitlab-ci.yml",
    "environment": "github/gitlab: the deployment environment the job must run in (optional)",
    "ref": "github/gitlab: the git ref the job must run for, e.g. refs/tags/v* (optional; * and ? match)",
    "email": "google: the service account's email",
    "sub": "google: the token's subject (optional)",
}


def register(sub: Subparsers, common: argparse.ArgumentParser) -> None:
    group = sub.add_parser("publisher", help="manage trusted publishers (CI uploads without stored secrets)")
    actions = group.add_subparsers(dest="action", required=True)
    add = actions.add_parser("add", parents=[common], help="trust a CI identity to publish a project")
    add.add_argument("project")
    add.add_argument("--kind", choices=KINDS, required=True)
    add.add_argument(
        "--issuer",
        help="the OIDC issuer URL (default: GitHub.com, gitlab.com or Google; set it for GitHub "
        "Enterprise Server, self-managed GitLab and generic issuers)",
    )
    for name, text in _FLAGS.items():
        add.add_argument("--" + name.replace("_", "-"), dest=name, help=text)
    add.add_argument(
        "--claim",
        action="append",
        metavar="NAME=VALUE",
        help="generic: a claim the token must carry with this value (* and ? match; repeat for several)",
    )
    add.add_argument(
        "--pending",
        action="store_true",
        help="the project does not exist yet: the publisher's first exchange creates it",
    )
    add.add_argument("--owner", help="pending: the user who owns the project it creates")
    add.set_defaults(handler=admin(_add))
    list_ = actions.add_parser("list", parents=[common], help="list trusted publishers")
    list_.add_argument("project", nargs="?")
    list_.set_defaults(handler=admin(_list))
    remove = actions.add_parser("remove", parents=[common], help="remove a trusted publisher by id")
    remove.add_argument("publisher_id")
    remove.set_defaults(handler=admin(_remove))


async def _add(registry: Registry, args: argparse.Namespace) -> int:
    claims = {name: getattr(args, name) for name in _FLAGS if getattr(args, name)}
    for rule in args.claim or ():
        name, sep, value = rule.partition("=")
        if not sep or not name:
            print(f"error: --claim {rule!r} is not NAME=VALUE")
            return 2
        claims[name.strip()] = value
    publisher = await registry.trusted.add(
        args.kind,
        args.project,
        claims,
        issuer=args.issuer or "",
        pending=args.pending,
        owner=args.owner or "",
        actor=actor(),
    )
    print(f"added publisher {publisher.id} for {publisher.project}: {publisher.describe()}")
    return 0


async def _list(registry: Registry, args: argparse.Namespace) -> int:
    held = await (registry.trusted.of_project(args.project) if args.project else registry.trusted.all())
    for p in held:
        print(f"{p.id}\t{p.project}\t{p.describe()}\tadded {p.added} by {p.added_by}")
    return 0


async def _remove(registry: Registry, args: argparse.Namespace) -> int:
    found = await registry.trusted.remove(args.publisher_id, actor=actor())
    print(f"removed publisher {found.id} of {found.project}")
    return 0
