"""The registry-index command: serve, and the admin commands that work beside a running server.

One module per command group; each ``register(sub, common)`` adds its parsers together with
their handlers (see ``common``). ``GROUPS`` is the order of the commands in ``--help``.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Protocol

from ..errors import RegistryError
from ..settings import SettingsError
from ..storage import StorageError
from . import (
    audit,
    fsck,
    imports,
    keys,
    projects,
    publishers,
    resolve,
    security,
    serve,
    tokens,
    upstream,
    users,
    verify,
)
from .common import Handler, Subparsers, storage_options


class Group(Protocol):
    def register(self, sub: Subparsers, common: argparse.ArgumentParser) -> None: ...


GROUPS: tuple[Group, ...] = (
    serve,  # serve
    users,  # user add|list|remove
    tokens,  # token create|list|revoke
    publishers,  # publisher add|list|remove
    projects,  # yank, unyank, status, reserve, unreserve, delete, maintainer add|remove
    fsck,  # fsck
    audit,  # audit [verify]
    security,  # advisories import|status, scan
    verify,  # verify
    resolve,  # deps
    imports,  # import
    keys,  # rekey, encryption-key generate
    upstream,  # pin, unpin, cache [show|prune]
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="registry-index", description="A self-hosted Python package index.")
    common = storage_options()
    sub = parser.add_subparsers(dest="command", required=True)
    for group in GROUPS:
        group.register(sub, common)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        handler: Handler = args.handler
        return handler(args)
    except (RegistryError, SettingsError, StorageError, ValueError) as exc:
        message = exc.message if isinstance(exc, RegistryError) else str(exc)
        print(f"error: {message}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
