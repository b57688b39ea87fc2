"""``registry-index serve``: check the store and its encryption, then run uvicorn."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import sys
import tempfile
from collections.abc import Iterator

from ..encryption import check_settings as check_encryption_settings
from ..encryption import open_store, startup_problem
from ..metrics import MULTIPROC_ENV
from ..running import announced
from ..settings import PREFIX, Settings
from ..storage.schemes import local_path, storage_scheme
from ..upstream.config import parse_upstreams_env
from .common import Subparsers, settings_from_args


def register(sub: Subparsers, common: argparse.ArgumentParser) -> None:
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
    serve.add_argument("--cache-size", help=Settings.HELP["cache_size"])
    serve.add_argument("--metrics-token", help=Settings.HELP["metrics_token"])
    serve.add_argument("--index-snapshot-every", type=int, help=Settings.HELP["index_snapshot_every"])
    serve.add_argument(
        "--access-log", action=argparse.BooleanOptionalAction, default=None, help=Settings.HELP["access_log"]
    )
    serve.add_argument(
        "--upstream", dest="upstreams", action="append", metavar="URL", help=Settings.HELP["upstreams"]
    )
    serve.add_argument("--upstream-ttl", type=float, help=Settings.HELP["upstream_ttl"])
    serve.add_argument("--upstream-negative-ttl", type=float, help=Settings.HELP["upstream_negative_ttl"])
    serve.add_argument("--upstream-timeout", type=float, help=Settings.HELP["upstream_timeout"])
    serve.add_argument(
        "--trusted-publishing",
        action=argparse.BooleanOptionalAction,
        default=None,
        help=Settings.HELP["trusted_publishing"],
    )
    serve.add_argument("--oidc-audience", help=Settings.HELP["oidc_audience"])
    serve.add_argument("--oidc-token-lifetime", type=int, help=Settings.HELP["oidc_token_lifetime"])
    serve.add_argument("--oidc-key-files", help=Settings.HELP["oidc_key_files"])
    serve.add_argument("--tls-certfile", help=Settings.HELP["tls_certfile"])
    serve.add_argument("--tls-keyfile", help=Settings.HELP["tls_keyfile"])
    serve.set_defaults(handler=_serve)


async def _encryption_problem(settings: Settings) -> str | None:
    if storage_scheme(settings.storage) == "memory":
        return None
    store = open_store(settings)
    try:
        return await startup_problem(store)
    finally:
        await store.close()


def _serve(args: argparse.Namespace) -> int:
    settings = settings_from_args(args)
    check_encryption_settings(settings)  # a missing key ring is an error now, not in a worker
    parse_upstreams_env(settings.upstreams)  # so is a bad --upstream (with a password in it, say)
    problem = asyncio.run(_encryption_problem(settings))  # workers check again at start-up
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        return 1
    # Worker processes rebuild the settings from the environment.
    for name in Settings.HELP:
        os.environ[PREFIX + name.upper()] = str(getattr(settings, name))
    if (path := local_path(settings.storage)) is not None:
        path.mkdir(parents=True, exist_ok=True)
    scheme = "https" if settings.tls_certfile else "http"
    with (
        announced(f"{scheme}://{settings.host}:{settings.port}", settings.storage),
        _shared_metrics(settings),
    ):
        _run_uvicorn(settings)
    return 0


@contextlib.contextmanager
def _shared_metrics(settings: Settings) -> Iterator[None]:
    """Workers keep their metrics in one directory, so that a scrape of any adds up all."""
    if settings.workers <= 1 or os.environ.get(MULTIPROC_ENV):
        yield
        return
    with tempfile.TemporaryDirectory(prefix="registry-index-metrics-") as folder:
        os.environ[MULTIPROC_ENV] = folder  # read by each worker's prometheus-client at import
        try:
            yield
        finally:
            del os.environ[MULTIPROC_ENV]


def _run_uvicorn(settings: Settings) -> None:
    import uvicorn

    from ..server.protocol import ReasonPhraseProtocol

    uvicorn.run(
        "registry_index.app:app_from_env",
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=settings.workers,
        log_level=settings.log_level,
        access_log=False,  # the app writes its own, batched (server/access_log.py)
        # uvicorn's proxy-header layer runs per request; with no proxy trusted it does nothing.
        proxy_headers=bool(settings.forwarded_allow_ips),
        forwarded_allow_ips=settings.forwarded_allow_ips,
        server_header=False,
        http=ReasonPhraseProtocol,  # refusals carry their message in the reason phrase
        ssl_certfile=settings.tls_certfile or None,
        ssl_keyfile=settings.tls_keyfile or None,
    )
