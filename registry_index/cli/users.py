"""``registry-index user add|list|remove``."""

from __future__ import annotations

import argparse
import getpass
import sys

from ..errors import RegistryError
from ..registry import Registry
from .common import Subparsers, actor, admin


def register(sub: Subparsers, common: argparse.ArgumentParser) -> None:
    user = sub.add_parser("user", help="manage users").add_subparsers(dest="action", required=True)
    add = user.add_parser("add", parents=[common], help="add a user")
    add.add_argument("name")
    add.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    add.add_argument("--admin", action="store_true", help="may upload to and administer any project")
    add.set_defaults(handler=admin(_add))
    user.add_parser("list", parents=[common], help="list users").set_defaults(handler=admin(_list))
    remove = user.add_parser("remove", parents=[common], help="remove a user and its tokens")
    remove.add_argument("name")
    remove.set_defaults(handler=admin(_remove))


def _read_password(args: argparse.Namespace) -> str:
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\n")
    first = getpass.getpass("Password: ")
    if getpass.getpass("Repeat: ") != first:
        raise RegistryError("The passwords differ.")
    return first


async def _add(registry: Registry, args: argparse.Namespace) -> int:
    user = await registry.add_user(args.name, _read_password(args), admin=args.admin, actor=actor())
    print(f"added user {user.name}{' (admin)' if user.admin else ''}")
    return 0


async def _list(registry: Registry, args: argparse.Namespace) -> int:
    for user in await registry.accounts.list_users():
        print(f"{user.name}\t{'admin' if user.admin else 'user'}\t{user.created}")
    return 0


async def _remove(registry: Registry, args: argparse.Namespace) -> int:
    touched = await registry.remove_user(args.name, actor=actor())
    print(f"removed user {args.name}, its tokens, and its roles on {len(touched)} projects")
    return 0
