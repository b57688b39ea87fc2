"""The registry-index command: serve, and the admin commands that work beside a running server."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import os
import sys
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import TextIO

from anyio import to_thread

from .app import registry_from_settings
from .audit.log import AuditQuery
from .auth.accounts import User
from .auth.scope import Access, expired, parse_expiry
from .encryption import EncryptedStorage, describe_key_ids, generate_key_line, open_store, startup_problem
from .encryption import check_settings as check_encryption_settings
from .errors import RegistryError
from .fsck import fsck
from .names import InvalidFilename, normalize
from .registry import Registry
from .resolve.cli import add_parser as add_deps_parser
from .resolve.cli import deps_command
from .running import announced, discovered_storage
from .security.cli import advisories_command, scan_command
from .security.scan import LEVELS
from .settings import PREFIX, Settings, SettingsError
from .storage import StorageError

# Not a valid user name, so no account can ever be mistaken for it; projects it creates have
# no owner until an admin adds one.
SYSTEM_USER = User("(import)", "", True, "")


def _settings(args: argparse.Namespace) -> Settings:
    flags = {k: getattr(args, k, None) for k in ("storage", *Settings.HELP)}
    return Settings.from_env().with_overrides(**flags)


def progress(done: int, total: int, label: str, stream: TextIO = sys.stderr) -> None:
    width = 30
    filled = int(width * done / total) if total else width
    bar = "#" * filled + "-" * (width - filled)
    end = "\n" if done == total else ""
    stream.write(f"\r[{bar}] {done}/{total} {label[:50]:<50}{end}")
    stream.flush()


def _find_dists(root: Path) -> list[Path] | None:
    if not root.is_dir():
        return None
    suffixes = (".whl", ".tar.gz", ".zip")
    return sorted(p for p in root.rglob("*") if p.is_file() and p.name.endswith(suffixes))


async def _import(registry: Registry, args: argparse.Namespace) -> int:
    root = Path(args.directory)
    files = await to_thread.run_sync(_find_dists, root)
    if files is None:
        print(f"error: {root} is not a directory", file=sys.stderr)
        return 2
    user = SYSTEM_USER
    if args.owner:
        found = await registry.accounts.get_user(args.owner)
        if found is None:
            print(
                f"error: no user {args.owner!r}; create it with 'registry-index user add'",
                file=sys.stderr,
            )
            return 2
        user = User(found.name, "", True, found.created)
    added = skipped = 0
    failures: list[str] = []
    async with registry.batched_listing():
        for n, path in enumerate(files, 1):
            try:
                result = await registry.publish_path(path, user)
                added += result.created
                skipped += not result.created
            except (RegistryError, InvalidFilename) as exc:
                failures.append(f"{path.name}: {exc}")
            progress(n, len(files), path.name)
    print(f"imported {added} files, {skipped} already present, {len(failures)} refused")
    for failure in failures:
        print(f"  refused {failure}", file=sys.stderr)
    return 1 if failures else 0


def _os_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # a UID without a passwd entry, as in many containers
        return f"uid-{os.getuid()}"


def _read_password(args: argparse.Namespace) -> str:
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\n")
    first = getpass.getpass("Password: ")
    if getpass.getpass("Repeat: ") != first:
        raise RegistryError("The passwords differ.")
    return first


def _admin_settings(args: argparse.Namespace) -> Settings:
    """The settings of an admin command; without a store named, that of the running server."""
    settings = _settings(args)
    if getattr(args, "storage", None) is None and PREFIX + "STORAGE" not in os.environ:
        server = discovered_storage()  # AmbiguousStore (a ValueError) names the choices
        if server is not None:
            print(f"using the store of the server at {server.url}: {server.storage}", file=sys.stderr)
            settings = replace(settings, storage=server.storage)
    return settings


async def _admin(args: argparse.Namespace) -> int:
    settings = _admin_settings(args)
    registry = registry_from_settings(replace(settings, freshness=0))
    try:
        return await _dispatch(registry, args)
    finally:
        await registry.close()


async def _dispatch(registry: Registry, args: argparse.Namespace) -> int:
    cmd = args.command
    acc = registry.accounts
    actor = f"cli:{_os_user()}"
    if cmd == "user":
        if args.action == "add":
            user = await registry.add_user(args.name, _read_password(args), admin=args.admin, actor=actor)
            print(f"added user {user.name}{' (admin)' if user.admin else ''}")
        elif args.action == "list":
            for user in await acc.list_users():
                print(f"{user.name}\t{'admin' if user.admin else 'user'}\t{user.created}")
        elif args.action == "remove":
            touched = await registry.remove_user(args.name, actor=actor)
            print(f"removed user {args.name}, its tokens, and its roles on {len(touched)} projects")
    elif cmd == "token":
        if args.action == "create":
            access: Access = "upload" if args.upload_only else "read" if args.read_only else "all"
            expires = parse_expiry(args.expires) if args.expires else ""
            secret, token = await registry.create_token(
                args.name,
                args.description or "",
                access=access,
                projects=args.project or (),
                expires=expires,
                actor=actor,
            )
            scope = token.scope.describe()
            until = f", expires {token.expires}" if token.expires else ""
            print(f"token {token.id} for {token.user} ({scope}{until}); it is shown once, store it now:")
            print(secret)
        elif args.action == "list":
            for token in await acc.list_tokens(args.name):
                scope = token.scope.describe()
                state = f"expires {token.expires}" if token.expires else "never expires"
                if token.expires and expired(token.expires):
                    state = f"expired {token.expires}"
                print(f"{token.id}\t{token.user}\t{token.created}\t{token.description}\t{scope}\t{state}")
        elif args.action == "revoke":
            token = await registry.revoke_token(args.token_id, actor=actor)
            print(f"revoked token {token.id} of {token.user}")
    elif cmd in ("yank", "unyank"):
        await registry.set_yank(args.project, args.version, cmd == "yank", args.reason or "", actor=actor)
        print(f"{cmd}ed {args.project} {args.version}")
    elif cmd == "status":
        project = await registry.set_status(args.project, args.status, args.reason or "", actor=actor)
        print(f"{project.name} is now {project.status}")
    elif cmd == "delete":
        removed = await registry.delete(args.project, args.version, args.filename, actor=actor)
        print(f"deleted {len(removed)} files: {', '.join(removed) or '-'}")
    elif cmd == "maintainer":
        project = await registry.set_maintainer(
            args.project, args.user, args.action == "add", owner=args.owner, actor=actor
        )
        print(
            f"{project.name}: owners {', '.join(project.owners) or '-'}; "
            f"maintainers {', '.join(project.maintainers) or '-'}"
        )
    elif cmd == "import":
        return await _import(registry, args)
    elif cmd == "fsck":
        return await _fsck(registry, args)
    elif cmd == "audit":
        return await _audit(registry, args)
    elif cmd == "advisories":
        return await advisories_command(registry, args, progress)
    elif cmd == "scan":
        return await scan_command(registry, args, progress)
    elif cmd == "deps":
        return await deps_command(registry, args)
    elif cmd == "rekey":
        return await _rekey(registry)
    elif cmd == "verify":
        results = await registry.verify(args.project, progress=progress)
        bad = {name: problems for name, problems in results.items() if problems}
        for name, problems in bad.items():
            print(f"INVALID {name}")
            for problem in problems:
                print(f"  - {problem}")
        print(f"verified {len(results)} files: {len(bad)} invalid")
        return 1 if bad else 0
    return 0


async def _audit(registry: Registry, args: argparse.Namespace) -> int:
    if args.action == "verify":
        problems = await registry.audit.verify()
        for problem in problems:
            print(f"TAMPERED {problem}")
        count = len([e async for e in registry.audit.events()])
        print(f"audit log: {count} events, {'intact' if not problems else f'{len(problems)} problems'}")
        return 1 if problems else 0
    query = AuditQuery(
        project=normalize(args.project) if args.project else None,
        actor=args.actor,
        action=args.action_filter,
        since=args.since,
    )
    async for event in registry.audit.events(query):
        where = "/".join(x for x in (event.project, event.version, event.filename) if x)
        print(
            f"{event.seq:>6} {event.time} {event.actor:<14} {event.action:<22} {event.outcome:<8} "
            f"{where} {event.client} {event.detail}".rstrip()
        )
    return 0


async def _fsck(registry: Registry, args: argparse.Namespace) -> int:
    report = await fsck(
        registry.storage,
        repair=args.repair,
        verify_hashes=not args.no_hashes,
        min_orphan_age=args.min_orphan_age,
        progress=progress,
    )
    for problem in report.problems:
        print(f"PROBLEM {problem}")
    for orphan in report.orphans:
        state = "removed" if orphan in report.removed else "kept (young, or no --repair)"
        print(f"ORPHAN  {orphan} {state}")
    print(
        f"checked {report.checked_files} files: {len(report.problems)} problems, "
        f"{len(report.orphans)} orphans, {len(report.removed)} removed"
    )
    fixed_problems = args.repair and all(p.startswith("index:") for p in report.problems)
    return 0 if not report.problems or fixed_problems else 1


async def _rekey(registry: Registry) -> int:
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


async def _encryption_problem(settings: Settings) -> str | None:
    if settings.storage == "memory:":
        return None
    store = open_store(settings)
    try:
        return await startup_problem(store)
    finally:
        await store.close()


def _encryption_key(args: argparse.Namespace) -> int:
    print(generate_key_line(args.id))
    return 0


def _serve(args: argparse.Namespace) -> int:
    settings = _settings(args)
    check_encryption_settings(settings)  # a missing key ring is an error now, not in a worker
    problem = asyncio.run(_encryption_problem(settings))  # workers check again at start-up
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        return 1
    # Worker processes rebuild the settings from the environment.
    for name in Settings.HELP:
        os.environ[PREFIX + name.upper()] = str(getattr(settings, name))
    if not settings.storage.startswith(("memory:", "s3://")):
        Path(settings.storage).mkdir(parents=True, exist_ok=True)
    with announced(f"http://{settings.host}:{settings.port}", settings.storage):
        _run_uvicorn(settings)
    return 0


def _run_uvicorn(settings: Settings) -> None:
    import uvicorn

    from .server.protocol import ReasonPhraseProtocol

    uvicorn.run(
        "registry_index.app:app_from_env",
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=settings.workers,
        log_level=settings.log_level,
        proxy_headers=True,
        forwarded_allow_ips=settings.forwarded_allow_ips,
        server_header=False,
        http=ReasonPhraseProtocol,  # refusals carry their message in the reason phrase
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="registry-index", description="A self-hosted Python package index.")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--storage",
        help=Settings.HELP["storage"]
        + f" (env {PREFIX}STORAGE; default ./var, and for admin commands the running server's store)",
    )
    common.add_argument("--encrypt", metavar="all|PROJECT,...", help=Settings.HELP["encrypt"])
    common.add_argument(
        "--encryption-keys",
        dest="encryption_keys_file",
        metavar="FILE",
        help=Settings.HELP["encryption_keys_file"],
    )
    common.add_argument("--s3-sse", choices=["sse-s3", "sse-kms", "sse-c"], help=Settings.HELP["s3_sse"])
    common.add_argument("--s3-sse-kms-key-id", help=Settings.HELP["s3_sse_kms_key_id"])
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", parents=[common], help="run the HTTP server")
    serve.add_argument("--host", help=Settings.HELP["host"])
    serve.add_argument("--port", type=int, help=Settings.HELP["port"])
    serve.add_argument("--workers", type=int, help=Settings.HELP["workers"])
    serve.add_argument("--private", action="store_const", const=True, help=Settings.HELP["private"])
    serve.add_argument("--max-upload-size", help=Settings.HELP["max_upload_size"])
    serve.add_argument("--freshness", type=float, help=Settings.HELP["freshness"])
    serve.add_argument("--stale-if-error", type=float, help=Settings.HELP["stale_if_error"])
    serve.add_argument(
        "--single-writer", action="store_const", const=True, help=Settings.HELP["single_writer"]
    )
    serve.add_argument("--download", choices=["proxy", "redirect"], help=Settings.HELP["download"])
    serve.add_argument("--presign-expiry", type=int, help=Settings.HELP["presign_expiry"])
    serve.add_argument("--search-refresh", type=float, help=Settings.HELP["search_refresh"])
    serve.add_argument("--vuln-policy", choices=["off", "warn", "refuse"], help=Settings.HELP["vuln_policy"])
    serve.add_argument("--vuln-policy-projects", help=Settings.HELP["vuln_policy_projects"])
    serve.add_argument("--s3-public-endpoint", help=Settings.HELP["s3_public_endpoint"])
    serve.add_argument("--forwarded-allow-ips", help=Settings.HELP["forwarded_allow_ips"])
    serve.add_argument("--public-url", help=Settings.HELP["public_url"])
    serve.add_argument("--archive-max-members", type=int, help=Settings.HELP["archive_max_members"])
    serve.add_argument("--archive-max-size", help=Settings.HELP["archive_max_size"])
    serve.add_argument("--archive-max-ratio", type=float, help=Settings.HELP["archive_max_ratio"])
    serve.add_argument("--log-level", help=Settings.HELP["log_level"])

    user = sub.add_parser("user", help="manage users").add_subparsers(dest="action", required=True)
    add = user.add_parser("add", parents=[common], help="add a user")
    add.add_argument("name")
    add.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    add.add_argument("--admin", action="store_true", help="may upload to and administer any project")
    user.add_parser("list", parents=[common], help="list users")
    user.add_parser("remove", parents=[common], help="remove a user and its tokens").add_argument("name")

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
    token.add_parser("list", parents=[common], help="list tokens").add_argument("name", nargs="?")
    token.add_parser("revoke", parents=[common], help="revoke a token by id").add_argument("token_id")

    for verb in ("yank", "unyank"):
        p = sub.add_parser(verb, parents=[common], help=f"{verb} every file of a release (PEP 592)")
        p.add_argument("project")
        p.add_argument("version")
        if verb == "yank":
            p.add_argument("--reason")
        else:
            p.set_defaults(reason="")
    status = sub.add_parser("status", parents=[common], help="set a project's PEP 792 status")
    status.add_argument("project")
    status.add_argument("status", choices=["active", "archived", "quarantined", "deprecated"])
    status.add_argument("--reason")
    delete = sub.add_parser("delete", parents=[common], help="delete a project, release or file")
    delete.add_argument("project")
    delete.add_argument("version", nargs="?")
    delete.add_argument("filename", nargs="?")
    maint = sub.add_parser("maintainer", help="let users upload to a project").add_subparsers(
        dest="action", required=True
    )
    for verb in ("add", "remove"):
        p = maint.add_parser(verb, parents=[common], help=f"{verb} a maintainer (or --owner)")
        p.add_argument("project")
        p.add_argument("user")
        p.add_argument("--owner", action="store_true", help="as an owner rather than a maintainer")
    fsck_p = sub.add_parser("fsck", parents=[common], help="check listed files against the store")
    fsck_p.add_argument("--repair", action="store_true", help="remove old orphans, rebuild the index")
    fsck_p.add_argument("--no-hashes", action="store_true", help="check existence and size only")
    fsck_p.add_argument(
        "--min-orphan-age",
        type=float,
        default=3600.0,
        help="seconds an orphan must be old before --repair removes it (uploads in flight are young)",
    )
    audit = sub.add_parser("audit", parents=[common], help="show the audit log, or verify its chain")
    audit.add_argument("action", nargs="?", choices=["verify"], help="check the hash chain")
    audit.add_argument("--project")
    audit.add_argument("--actor")
    audit.add_argument("--action", dest="action_filter", help="e.g. project:file:upload or project")
    audit.add_argument("--since", help="ISO date or time (UTC), e.g. 2026-11-01")
    adv = sub.add_parser("advisories", help="the OSV advisory set").add_subparsers(
        dest="action", required=True
    )
    adv_import = adv.add_parser(
        "import", parents=[common], help="replace the set from a folder or zip of OSV records"
    )
    adv_import.add_argument("path")
    adv.add_parser("status", parents=[common], help="how many advisories are loaded")
    scan_p = sub.add_parser("scan", parents=[common], help="report stored versions that advisories affect")
    scan_p.add_argument("projects", nargs="*")
    scan_p.add_argument("--format", choices=["text", "json"], default="text")
    scan_p.add_argument(
        "--fail-on",
        choices=list(LEVELS),
        default="any",
        help="exit 1 when a finding is at or above this severity (unknown counts as any)",
    )
    verify = sub.add_parser("verify", parents=[common], help="re-validate stored files with today's rules")
    verify.add_argument("project", nargs="?")
    add_deps_parser(sub, common)
    imp = sub.add_parser("import", parents=[common], help="bulk-import a folder of wheels and sdists")
    imp.add_argument("directory")
    imp.add_argument("--owner", help="user who owns newly created projects")
    sub.add_parser(
        "rekey",
        parents=[common],
        help="re-encrypt every encrypted object with the newest key (safe while serving)",
    )
    enc_key = sub.add_parser("encryption-key", help="encryption keys").add_subparsers(
        dest="action", required=True
    )
    gen = enc_key.add_parser("generate", help="print a new key ring line, ID:BASE64KEY")
    gen.add_argument("--id", help="the key's id (default: k<date>-<random>)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "encryption-key":
            return _encryption_key(args)
        if args.command == "serve":
            return _serve(args)
        return asyncio.run(_admin(args))
    except (RegistryError, SettingsError, StorageError, ValueError) as exc:
        message = exc.message if isinstance(exc, RegistryError) else str(exc)
        print(f"error: {message}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
