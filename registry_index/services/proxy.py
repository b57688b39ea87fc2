"""The upstream proxy: names not hosted here, relayed from the first upstream that has them.

Routing (which names may be asked upstream at all) is the caller's: ``Registry`` asks this
service only for names with no sidecar, i.e. never for a name that is hosted, reserved or
owned here (``upstream.routing``). What is kept of an upstream lives under its own prefix:
the page as the upstream sent it (``upstream/<u>/projects/<name>.json``, compare-and-swap,
shared by every instance) and files verified against the page's sha256 before they are
stored create-only (``upstream/<u>/blobs/<sha256>/<filename>``).
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field, replace
from typing import Protocol, TypeVar

import anyio

from ..domain import keys
from ..errors import BadGateway, NotFound, UpstreamUnavailable
from ..simple.relayed import core_metadata_sha256, relayable
from ..storage import Storage
from ..storage.cached import CachedObjects
from ..upstream.cache import CachedPage, CacheEntryError
from ..upstream.client import Fetched, UpstreamError
from ..upstream.config import Upstream
from ..upstream.page import UpstreamPageError, UpstreamProject, parse_project_page
from ..upstream.routing import Hosted, LocalState, Pinned, UnknownPin, route
from .pins import Pins
from .relay_files import Opened, RelayedFile, RelayedFiles, Span, Storing
from .write_behind import WriteBehind

log = logging.getLogger("registry_index")
T = TypeVar("T")
V = TypeVar("V")

_PARSED = 1024  # parsed upstream pages kept per process
PARSE_INLINE = 256 * 1024  # pages up to this size are parsed on the event loop


class UpstreamSource(Protocol):
    """How upstream indexes are asked (``upstream.client.HttpUpstreams``; a fake in tests)."""

    async def page(self, upstream: Upstream, project: str, etag: str | None) -> Fetched: ...

    def file(self, upstream: Upstream, url: str) -> AbstractAsyncContextManager[AsyncIterator[bytes]]: ...

    async def close(self) -> None: ...


@dataclass(frozen=True, slots=True)
class Relayed:
    """An upstream's page as this index relays it."""

    upstream: Upstream
    project: UpstreamProject
    version: str  # changes whenever what the page relays does: part of the rendered page's ETag
    stale: bool  # served from the cache because the upstream could not be asked
    # The store write of a page just fetched, still in flight: the answer does not wait for it
    # (the route does, once the response is out), and this process serves the page meanwhile.
    stored: Awaitable[object] | None = field(default=None, compare=False)


class Proxy:
    def __init__(
        self,
        storage: Storage,
        upstreams: tuple[Upstream, ...],
        source: UpstreamSource,
        *,
        ttl: float = 600.0,
        negative_ttl: float = 60.0,
        stale_if_error: float = 7 * 86400.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.upstreams = upstreams
        self._by_name = {u.name: u for u in upstreams}
        self._storage = storage
        self._source = source
        self._ttl, self._negative_ttl, self._stale_if_error = ttl, negative_ttl, stale_if_error
        self._clock = clock
        # Freshness is judged by the stored checked_at, so the whole fleet asks an upstream
        # about once per TTL; the store is revalidated every second like any sidecar.
        self._pages: CachedObjects[CachedPage] = CachedObjects(
            storage, CachedPage.from_json, CachedPage.to_json, 1.0, name="upstream_pages"
        )
        self._parsed: OrderedDict[tuple[str, str], UpstreamProject] = OrderedDict()  # by content
        self._warm: OrderedDict[tuple[str, str], Relayed] = OrderedDict()  # by store ETag: the fast path
        self._storing: WriteBehind[CachedPage] = WriteBehind("upstream page")
        self._ordered = tuple(sorted(upstreams, key=lambda u: u.priority))
        self._flights: dict[str, asyncio.Future[Relayed | None]] = {}
        fills: dict[str, asyncio.Future[Storing | None]] = {}
        self._files = RelayedFiles(storage, source, lambda key, work: self._single_flight(fills, key, work))
        self._pins = Pins(storage)

    async def close(self) -> None:
        await self._storing.close()  # let what was served be kept
        await self._files.close()
        await self._source.close()

    # -- pages ------------------------------------------------------------------------------

    async def page(self, normalized: str) -> Relayed | None:
        """The page of a name not hosted here: from its pinned upstream, else from the first
        upstream that has it (never merged across upstreams); None if none has it."""
        decision = route(LocalState(pin=await self._pins.get(normalized)), self.upstreams)
        if isinstance(decision, UnknownPin):
            raise NotFound(f"Project {normalized!r} is {decision.message}.")
        if isinstance(decision, Hosted):  # pragma: no cover - the state above is never hosted
            return None
        candidates = (decision.upstream,) if isinstance(decision, Pinned) else decision.upstreams
        for upstream in candidates:
            found = await self._single_flight(
                self._flights,
                f"{upstream.name}/{normalized}",
                functools.partial(self._page_of, upstream, normalized),
            )
            if found is not None:
                return found
        return None

    def page_if_fresh(self, normalized: str) -> Relayed | None:
        """``page`` answered from memory, or None when that needs the store or an upstream.

        The fast path calls this for every warm relayed page: it does only dictionary
        lookups, like the hosted path.
        """
        known, pin = self._pins.peek(normalized)
        if not known:
            return None
        candidates = self._ordered
        if pin is not None:
            decision = route(LocalState(pin=pin), self.upstreams)
            if not isinstance(decision, Pinned):
                return None  # an unknown pin: the route says so
            candidates = (decision.upstream,)
        now = self._clock()
        for upstream in candidates:
            key = keys.upstream_page(upstream.name, normalized)
            seen = self._pages.peek(key)
            if seen is None:
                return None
            page, etag = seen
            if page is None or etag is None or page.upstream_url != upstream.url:
                return None
            if page.presence == "missing":
                if now - page.checked_at < self._negative_ttl:
                    continue
                return None
            if now - page.checked_at >= self._ttl:
                return None
            return self._warm.get((key, etag))
        return None

    async def serves(self, normalized: str) -> bool:
        """Whether an upstream serves this name (the upload guard); 503 if none can be asked."""
        return await self.page(normalized) is not None

    async def _page_of(self, upstream: Upstream, name: str) -> Relayed | None:
        key = keys.upstream_page(upstream.name, name)
        storing = self._storing.get(key)
        if storing is not None and storing[0].upstream_url == upstream.url:
            return self._answer(upstream, name, storing[0], None, stale=False)
        try:
            cached, etag = await self._pages.read(key)
        except CacheEntryError:
            cached, etag = None, None
        if cached is not None and cached.upstream_url != upstream.url:
            cached = None  # the upstream moved: its serials and ETags mean nothing now
        now = self._clock()
        if cached is not None and etag is not None:
            ttl = self._ttl if cached.presence == "ok" else self._negative_ttl
            if now - cached.checked_at < ttl:
                return self._answer(upstream, name, cached, etag, stale=False)
        try:
            fetched = await self._source.page(
                upstream, name, cached.etag if cached is not None and cached.presence == "ok" else None
            )
            if fetched.status == 200:
                project = await self._parse(upstream, name, fetched.content_type, fetched.body, fetched.url)
        except (UpstreamError, UpstreamPageError) as exc:
            log.warning("upstream %s: %s", upstream.name, exc)
            if cached is not None and etag is not None and now - cached.checked_at < self._stale_if_error:
                return self._answer(upstream, name, cached, etag, stale=True)
            if isinstance(exc, UpstreamPageError):
                raise BadGateway(
                    f"The upstream {upstream.url} sent a page this index will not relay: {exc}"
                ) from None
            raise UpstreamUnavailable(
                f"The upstream {upstream.url} cannot be reached and has no cached page for {name!r}; retry shortly."
            ) from None
        if fetched.status == 404:
            new = CachedPage(upstream.url, "missing", now)
        elif fetched.status == 304:
            assert cached is not None
            new = cached.checked(now)
        else:
            serial = fetched.serial if fetched.serial is not None else project.last_serial
            if (
                cached is not None
                and cached.presence == "ok"
                and cached.last_serial is not None
                and (serial is not None and serial < cached.last_serial)
            ):
                # A CDN node behind the upstream served an older copy (PyPI does): keep ours,
                # and ask again at the next request rather than after a TTL.
                log.info(
                    "upstream %s sent %s at serial %s < %s; kept the cached page",
                    upstream.name,
                    name,
                    serial,
                    cached.last_serial,
                )
                assert etag is not None
                return self._answer(upstream, name, cached, etag, stale=False)
            new = CachedPage(
                upstream.url,
                "ok",
                now,
                fetched.etag,
                serial,
                fetched.content_type,
                fetched.body.decode("utf-8"),
                fetched.url,
            )
        # What was just parsed (or, for a 304, parsed before) is the page stored: not parsed again.
        return self._store(upstream, name, new, project if fetched.status == 200 else None)

    def _store(
        self, upstream: Upstream, name: str, page: CachedPage, parsed: UpstreamProject | None
    ) -> Relayed | None:
        """Answer with ``page`` now and keep it in the store meanwhile: the store write (a
        durable one, several ms on a local disk) is not on the cold page's path."""
        key = keys.upstream_page(upstream.name, name)
        relayed = self._answer(upstream, name, page, None, stale=False, parsed=parsed)

        def landed(stored: tuple[CachedPage, str]) -> None:
            if relayed is not None:  # the fast path finds it by the store's ETag from now on
                _remember(self._warm, (key, stored[1]), relayed)

        write = self._storing.start(key, page, self._pages.update(key, lambda _current: page), landed)
        return None if relayed is None else replace(relayed, stored=write)

    async def _parse(
        self, upstream: Upstream, name: str, content_type: str, body: bytes, url: str
    ) -> UpstreamProject:
        try:
            body.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise UpstreamPageError(f"the page is not UTF-8: {exc}") from None
        return await _parsed(body, content_type, url or f"{upstream.url}{name}/", name)

    def _answer(
        self,
        upstream: Upstream,
        name: str,
        page: CachedPage,
        etag: str | None,
        *,
        stale: bool,
        parsed: UpstreamProject | None = None,
    ) -> Relayed | None:
        """The relayed answer for a cached page (``etag``: the store's, None while unstored)."""
        if page.presence == "missing":
            return None
        key = keys.upstream_page(upstream.name, name)
        known = self._warm.get((key, etag)) if etag is not None else None
        if known is None:
            version = page.version()
            project = parsed or self._parsed.get((key, version))
            if project is None:
                base = page.page_url or f"{upstream.url}{name}/"
                project = parse_project_page(page.body.encode(), page.content_type, base, name)
            _remember(self._parsed, (key, version), project)
            known = Relayed(upstream, project, version, stale=False)
            if etag is not None:
                _remember(self._warm, (key, etag), known)
        return replace(known, stale=True) if stale else known

    # -- files ------------------------------------------------------------------------------

    async def find_file(self, upstream_name: str, normalized: str, filename: str) -> RelayedFile:
        """The relayed file a URL names, if this upstream is the one serving the project."""
        upstream = self._by_name.get(upstream_name)
        relayed = await self.page(normalized) if upstream is not None else None
        if relayed is None or relayed.upstream.name != upstream_name:
            raise NotFound(f"No file {filename!r} here.")
        metadata = filename.endswith(".metadata")
        wanted = filename.removesuffix(".metadata") if metadata else filename
        entry = next((f for f in relayed.project.files if f.filename == wanted and relayable(f)), None)
        if entry is None or (metadata and core_metadata_sha256(entry) is None):
            raise NotFound(f"No file {filename!r} here.")
        return RelayedFile(relayed.upstream, normalized, entry, metadata)

    async def open_file(self, file: RelayedFile, span: Span | None = None) -> Opened:
        """The verified bytes of a relayed file (see ``relay_files``)."""
        return await self._files.open(file, span)

    @staticmethod
    async def _single_flight(
        flights: dict[str, asyncio.Future[T]], key: str, work: Callable[[], Awaitable[T]]
    ) -> T:
        """One ``work`` per key at a time in this process; concurrent callers share its result.

        The work runs in its own task, so a caller that goes away does not cancel it for the
        others.
        """
        running = flights.get(key)
        if running is None:
            running = flights[key] = asyncio.ensure_future(work())
            running.add_done_callback(lambda _f: flights.pop(key, None))
        return await asyncio.shield(running)


def _remember(cache: OrderedDict[tuple[str, str], V], slot: tuple[str, str], value: V) -> None:
    """Keep ``value``, most recent last, within ``_PARSED`` entries."""
    cache[slot] = value
    cache.move_to_end(slot)
    if len(cache) > _PARSED:
        cache.popitem(last=False)


async def _parsed(body: bytes, content_type: str, url: str, name: str) -> UpstreamProject:
    """Parse a page; a big one in a worker thread, so the event loop keeps serving (an HTML
    page costs about a microsecond a byte at worst)."""
    if len(body) <= PARSE_INLINE:
        return parse_project_page(body, content_type, url, name)
    return await anyio.to_thread.run_sync(parse_project_page, body, content_type, url, name)
