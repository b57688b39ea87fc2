"""``registry-index token create|list|revoke``: API tokens and their scopes."""

from __future__ import annotations

import argparse

from ..auth.scope import Access, expired, parse_expiry
from ..registry import Registry
from .common import Subparsers, actor, admin


def register(sub: Subparsers, common: argparse.ArgumentParser) -> None:
    token = sub.add_parser("token", help="manage API tokens").add_subparsers(dest="action", required=True)
    create = token.add_parser("create", parents=[common], help="create a token (printed once, last line)")
    create.add_argument("name")
    create.add_argument("--description")
    create.add_argument(
        "--project",
        action="append",
        metavar="PROJECT",
        help="may upload only to this project (repeat for several)",
    )
    only = create.add_mutually_exclusive_group()
    only.add_argument("--upload-only", action="store_true", help="may upload, but not read a private index")
    only.add_argument("--read-only", action="store_true", help="may read a private index, but not upload")
    create.add_argument("--expires", metavar="30d|12h|DATE", help="expire after a duration or at a UTC date")
    create.set_defaults(handler=admin(_create))
    list_ = token.add_parser("list", parents=[common], help="list tokens")
    list_.add_argument("name", nargs="?")
    list_.set_defaults(handler=admin(_list))
    revoke = token.add_parser("revoke", parents=[common], help="revoke a token by id")
    revoke.add_argument("token_id")
    revoke.set_defaults(handler=admin(_revoke))


async def _create(registry: Registry, args: argparse.Namespace) -> int:
    access: Access = "upload" if args.upload_only else "read" if args.read_only else "all"
    expires = parse_expiry(args.expires) if args.expires else ""
    secret, token = await registry.create_token(
        args.name,
        args.description or "",
        access=access,
        projects=args.project or (),
        expires=expires,
        actor=actor(),
    )
    scope = token.scope.describe()
    until = f", expires {token.expires}" if token.expires else ""
    print(f"token {token.id} for {token.user} ({scope}{until}); it is shown once, store it now:")
    print(secret)
    return 0


async def _list(registry: Registry, args: argparse.Namespace) -> int:
    for token in await registry.accounts.list_tokens(args.name):
        scope = token.scope.describe()
        state = f"expires {token.expires}" if token.expires else "never expires"
        if token.expires and expired(token.expires):
            state = f"expired {token.expires}"
        print(f"{token.id}\t{token.user}\t{token.created}\t{token.description}\t{scope}\t{state}")
    return 0


async def _revoke(registry: Registry, args: argparse.Namespace) -> int:
    token = await registry.revoke_token(args.token_id, actor=actor())
    print(f"revoked token {token.id} of {token.user}")
    return 0
