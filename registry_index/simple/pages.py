"""Rendered Simple API pages, cached per sidecar version: a warm hit reads nothing."""

from __future__ import annotations

import gzip
import hashlib
from collections import OrderedDict
from dataclasses import dataclass, field

from .. import metrics
from ..domain.model import Project, ProjectIndex
from ..upstream.page import UpstreamProject
from . import build, render
from .negotiate import V1_JSON, Format, accepts_gzip
from .relayed import build_relayed
from .root_page import RootPage, RootPages
from .wire import CACHE_CONTROL, PAGE_CSP, Answer, RawHeaders, Wire, content_headers, matches, validators

__all__ = ["CACHE_CONTROL", "PAGE_CSP", "Answer", "Page", "PageCache", "RawHeaders", "Wire"]

GZIP_MIN = 512  # smaller pages gain too little to pay for the header


@dataclass(slots=True)
class Page:
    body: bytes
    etag: str  # quoted, ready for the header
    media_type: str
    serial: int
    extra: RawHeaders = field(default_factory=list)  # e.g. which upstream a relayed page is from
    _gzipped: bytes | None = None
    _wire: dict[tuple[bool, bool], Wire] = field(default_factory=dict)

    def gzipped(self) -> bytes | None:
        """The body gzipped, computed once per page version; None when not worth it."""
        if len(self.body) < GZIP_MIN:
            return None
        if self._gzipped is None:
            self._gzipped = gzip.compress(self.body, compresslevel=6, mtime=0)
        return self._gzipped

    @property
    def gzip_etag(self) -> str:
        return self.etag[:-1] + '-gz"'

    def respond(self, accept_encoding: str | None, if_none_match: str | None) -> Wire:
        """The 200 or 304 for these request headers; header lists are built once per page."""
        gzip_wanted = accepts_gzip(accept_encoding) and self.gzipped() is not None
        etag = self.gzip_etag if gzip_wanted else self.etag
        not_modified = matches(etag, if_none_match)
        key = (gzip_wanted, not_modified)
        wire = self._wire.get(key)
        if wire is None:
            wire = self._wire[key] = self._build(gzip_wanted, not_modified, etag)
        return wire

    def _build(self, gzip_wanted: bool, not_modified: bool, etag: str) -> Wire:
        headers = validators(etag, self.serial, self.extra)
        if not_modified:
            return Wire(304, headers, b"")
        body = (self.gzipped() or self.body) if gzip_wanted else self.body
        return Wire(200, headers + content_headers(self.media_type, len(body), gzip_wanted), body)


class PageCache:
    """Rendered pages, least recently used first out, within ``budget`` bytes of bodies (a
    gzipped body counts once it is made) and ``max_entries`` pages."""

    def __init__(self, max_entries: int = 65536, budget: int = 128 * 1024**2) -> None:
        self._pages: OrderedDict[tuple[str, str, str, str], Page] = OrderedDict()
        self._max = max_entries
        self._budget = budget
        self._weight = 0
        self._root = RootPages()

    def _get(self, key: tuple[str, str, str, str]) -> Page | None:
        page = self._pages.get(key)
        if page is not None:
            self._pages.move_to_end(key)
            metrics.cache("pages", "hit")
        else:
            metrics.cache("pages", "miss")
        return page

    def _put(self, key: tuple[str, str, str, str], page: Page) -> Page:
        self._pages[key] = page
        # Counted as twice the body: its gzip form and header lists come with it on use.
        self._weight += 2 * len(page.body)
        while len(self._pages) > 1 and (len(self._pages) > self._max or self._weight > self._budget):
            _, old = self._pages.popitem(last=False)
            self._weight -= 2 * len(old.body)
            metrics.cache("pages", "evicted")
        return page

    @staticmethod
    def _etag(*parts: str) -> str:
        return '"' + hashlib.sha256("\0".join(parts).encode()).hexdigest()[:32] + '"'

    def project(self, project: Project, etag: str, fmt: Format, root: str) -> Page:
        key = (project.normalized, etag, fmt, root)
        page = self._get(key)
        if page is None:
            doc = build.build_project(project, root)
            body = render.project_json(doc) if fmt == V1_JSON else render.project_html(doc)
            page = self._put(key, Page(body, self._etag(*key), fmt, project.serial))
        return page

    def relayed(self, upstream: str, project: UpstreamProject, version: str, fmt: Format, root: str) -> Page:
        """An upstream's page, rendered like a hosted one, cached per version of its cache entry."""
        key = (f"{upstream}/{project.normalized}", version, fmt, root)
        page = self._get(key)
        if page is None:
            doc = build_relayed(upstream, project, root)
            body = render.project_json(doc) if fmt == V1_JSON else render.project_html(doc)
            origin = [(b"x-registry-upstream", upstream.encode())]
            page = self._put(key, Page(body, self._etag(*key), fmt, project.last_serial or 0, origin))
        return page

    def index(self, index: ProjectIndex, etag: str, fmt: Format, root: str) -> Page | RootPage:
        if index.segments is not None:
            return self._root.page(index.segments, fmt, root)
        key = ("/", etag, fmt, root)
        page = self._get(key)
        if page is None:
            doc = build.build_index(index)
            body = render.index_json(doc) if fmt == V1_JSON else render.index_html(doc, f"{root}/simple/")
            page = self._put(key, Page(body, self._etag(*key), fmt, index.serial))
        return page
