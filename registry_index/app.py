"""The app factory: routes, the exception table, and the lifespan that opens the store."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Scope

from . import __version__
from .api.audit import routes as audit_routes
from .api.changes import routes as change_routes
from .api.context import AppContext, context
from .api.fast import WarmPages
from .api.files import routes as file_routes
from .api.jsonapi import routes as json_routes
from .api.metrics import routes as metrics_routes
from .api.oidc import routes as oidc_routes
from .api.resolve import routes as resolve_routes
from .api.responses import EXCEPTION_HANDLERS
from .api.search import routes as search_routes
from .api.security import routes as security_routes
from .api.simple import routes as simple_routes
from .api.upload import routes as upload_routes
from .api.upstream import routes as upstream_routes
from .api.urls import slash_redirects
from .encryption import open_store, startup_problem
from .names import normalize
from .registry import Registry
from .security.policy import VulnPolicy
from .server.access_log import AccessLog, Prepared
from .services.proxy import Proxy
from .settings import Settings
from .storage import Storage, StorageError
from .storage.probe import conditional_write_problems
from .trusted.jwks import DiscoveredKeys, key_files
from .upstream.client import HttpUpstreams
from .upstream.config import parse_upstreams_env
from .validation import ArchiveLimits, StrictValidator
from .web.routes import routes as web_routes

log = logging.getLogger("registry_index")


async def healthz(request: Request) -> Response:
    return JSONResponse({"status": "ok", "version": __version__})


async def readyz(request: Request) -> Response:
    """Ready when the store answers; a load balancer takes the instance out otherwise."""
    ctx = context(request)
    try:
        await ctx.registry.check_store()
    except StorageError as exc:
        return JSONResponse({"status": "unavailable", "reason": str(exc)}, status_code=503)
    return JSONResponse({"status": "ready"})


def registry_from_settings(settings: Settings) -> Registry:
    limits = ArchiveLimits(
        max_members=settings.archive_max_members,
        max_total_size=settings.archive_max_size,
        max_ratio=settings.archive_max_ratio,
    )
    store = open_store(settings)  # the store behind EncryptedStorage (docs/encryption.md)
    return Registry(
        store,
        freshness=settings.freshness,
        stale_if_error=settings.stale_if_error,
        validator=StrictValidator(limits),
        archive_limits=limits,
        vuln_policy=VulnPolicy(
            settings.vuln_policy,
            frozenset(normalize(p) for p in settings.vuln_policy_projects.split(",") if p.strip()),
        ),
        proxy=proxy_from_settings(settings, store),
        snapshot_every=settings.index_snapshot_every,
        cache_size=settings.cache_size,
        issuer_keys=DiscoveredKeys(key_files(settings.oidc_key_files)),
        oidc_audience=settings.oidc_audience,
        oidc_token_lifetime=settings.oidc_token_lifetime,
    )


def proxy_from_settings(settings: Settings, store: Storage) -> Proxy | None:
    """The upstream proxy of ``--upstream``; None (nothing ever asked elsewhere) without one."""
    upstreams = parse_upstreams_env(settings.upstreams)
    if not upstreams:
        return None
    return Proxy(
        store,
        upstreams,
        HttpUpstreams(upstreams, timeout=settings.upstream_timeout),
        ttl=settings.upstream_ttl,
        negative_ttl=settings.upstream_negative_ttl,
    )


class RegistryApp(Starlette):
    """Starlette with some middleware outside its own error layer.

    The access log and the /simple/ fast path wrap the whole stack: a warm page hit then
    skips ServerErrorMiddleware's per-message wrapper too (the fast path cannot raise), and
    the access log still sees the 500 that layer sends for an error below it.
    """

    def __init__(self, *args: Any, outer: Sequence[Middleware] = (), **kwargs: Any) -> None:
        self.outer = list(outer)
        self._instant: Callable[[Scope], Prepared | None] | None = None
        self._access: AccessLog | None = None
        super().__init__(*args, **kwargs)

    def build_middleware_stack(self) -> ASGIApp:
        app = super().build_middleware_stack()
        for cls, args, kwargs in reversed(self.outer):
            app = cls(app, *args, **kwargs)
        self._access = app if isinstance(app, AccessLog) else None
        self._instant = app.instant if isinstance(app, AccessLog) else None
        return app

    @property
    def instant_epoch(self) -> int | None:
        """Moves when this process writes a project; None: no answer may be reused."""
        return self._access.epoch if self._access is not None else None

    def instant_log(self, scope: Scope, ready: Prepared) -> None:
        """Log an answer the server wrote again for a byte-identical request."""
        if self._access is not None:
            self._access.log(scope, ready)

    def instant(self, scope: Scope) -> Prepared | None:
        """A warm /simple/ answer the server may write itself, logged (``server/protocol.py``);
        None until the stack is built (the lifespan's start) and for every other request."""
        return self._instant(scope) if self._instant is not None else None


def create_app(settings: Settings, *, registry: Registry | None = None) -> Starlette:
    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        reg = registry or registry_from_settings(settings)
        if registry is None and (key_problem := await startup_problem(reg.storage)):
            await reg.close()
            raise RuntimeError(key_problem)  # never serve ciphertext, nor 503 on every file
        if registry is None and not settings.single_writer:
            problems = await conditional_write_problems(reg.storage)
            if problems:
                await reg.close()
                raise RuntimeError(
                    f"The store {settings.storage} does not honour conditional writes: "
                    f"{'; '.join(problems)}. Several instances would lose each other's updates. "
                    "Use a store that does (AWS S3, MinIO, SeaweedFS, a local directory), or "
                    "start with --single-writer if this is the only process that writes."
                )
        ctx = app.state.ctx = warm.ctx = AppContext(settings, reg)
        refresher = asyncio.create_task(reg.searching.run(settings.search_refresh))
        try:
            yield
        finally:
            refresher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await refresher
            assert ctx.failures is not None
            await ctx.failures.flush()  # what was only counted gets its summary event
            if registry is None:
                await reg.close()

    routes = [
        # Routes match in order: what pip and uv hit on every install comes first.
        *simple_routes,
        *file_routes,
        *upstream_routes,
        *web_routes,  # GET / and the browsable pages; POST / stays the upload route
        Route("/healthz", healthz),
        Route("/readyz", readyz),
        *upload_routes,
        *oidc_routes,
        *audit_routes,
        *json_routes,
        *resolve_routes,
        *search_routes,
        *change_routes,
        *metrics_routes,
        *security_routes,
    ]
    warm = WarmPages()
    app = RegistryApp(
        routes=routes,
        outer=[
            # The request metrics too; warm /simple/ hits are answered here, before the framework.
            Middleware(AccessLog, lines=settings.access_log, fast=warm),
        ],
        exception_handlers=EXCEPTION_HANDLERS,
        lifespan=lifespan,
    )
    app.router.redirect_slashes = False
    app.router.default = slash_redirects(app.router)  # relative, never from the Host header
    if registry is not None:
        # Ready before the lifespan runs, so in-process test clients need no lifespan driver.
        app.state.ctx = warm.ctx = AppContext(settings, registry)
    return app


def app_from_env() -> Starlette:
    """uvicorn factory for worker processes: settings come from REGISTRY_INDEX_* variables."""
    return create_app(Settings.from_env())
