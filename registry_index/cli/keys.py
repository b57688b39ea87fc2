"""The encryption key ring: ``rekey`` re-encrypts the store, ``encryption-key generate`` makes a key."""

from __future__ import annotations

import argparse
import sys

from ..encryption import EncryptedStorage, describe_key_ids, generate_key_line
from ..registry import Registry
from .common import Subparsers, admin, progress


def register(sub: Subparsers, common: argparse.ArgumentParser) -> None:
    rekey = sub.add_parser(
        "rekey",
        parents=[common],
        help="re-encrypt every encrypted object with the newest key (safe while serving)",
    )
    rekey.set_defaults(handler=admin(_rekey))
    enc_key = sub.add_parser("encryption-key", help="encryption keys").add_subparsers(
        dest="action", required=True
    )
    gen = enc_key.add_parser("generate", help="print a new key ring line, ID:BASE64KEY")
    gen.add_argument("--id", help="the key's id (default: k<date>-<random>)")
    gen.set_defaults(handler=_encryption_key)


async def _rekey(registry: Registry, args: argparse.Namespace) -> int:
    storage = registry.storage
    if not isinstance(storage, EncryptedStorage) or not len(storage.keyring):
        print(
            "error: rekey needs the key ring (--encryption-keys FILE or REGISTRY_INDEX_ENCRYPTION_KEYS)",
            file=sys.stderr,
        )
        return 2
    newest, _ = storage.keyring.newest
    print(f"re-encrypting with key {newest!r}; encrypting {storage.selector.describe()}", file=sys.stderr)
    report = await storage.rekey(progress=progress)
    for failure in report.failed:
        print(f"FAILED  {failure}")
    print(
        f"examined {report.examined} objects: {report.rewritten} rewritten, {report.unchanged} unchanged, "
        f"{report.gone} deleted meanwhile, {len(report.failed)} failed; "
        f"keys now in use: {describe_key_ids(report.key_ids)}"
    )
    return 1 if report.failed else 0


def _encryption_key(args: argparse.Namespace) -> int:
    print(generate_key_line(args.id))
    return 0
