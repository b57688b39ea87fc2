"""Rendered Simple API pages, cached per sidecar version: a warm hit reads nothing."""

from __future__ import annotations

import gzip
import hashlib
from collections import OrderedDict
from dataclasses import dataclass

from ..metadata.sidecar import Project, ProjectIndex
from . import build, render
from .negotiate import V1_JSON, Format

GZIP_MIN = 512  # smaller pages gain too little to pay for the header


@dataclass(slots=True)
class Page:
    body: bytes
    etag: str  # quoted, ready for the header
    media_type: str
    serial: int
    _gzipped: bytes | None = None

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


class PageCache:
    def __init__(self, max_entries: int = 4096) -> None:
        self._pages: OrderedDict[tuple[str, str, str, str], Page] = OrderedDict()
        self._max = max_entries

    def _get(self, key: tuple[str, str, str, str]) -> Page | None:
        page = self._pages.get(key)
        if page is not None:
            self._pages.move_to_end(key)
        return page

    def _put(self, key: tuple[str, str, str, str], page: Page) -> Page:
        self._pages[key] = page
        if len(self._pages) > self._max:
            self._pages.popitem(last=False)
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

    def index(self, index: ProjectIndex, etag: str, fmt: Format, root: str) -> Page:
        key = ("/", etag, fmt, root)
        page = self._get(key)
        if page is None:
            doc = build.build_index(index)
            body = render.index_json(doc) if fmt == V1_JSON else render.index_html(doc, f"{root}/simple/")
            page = self._put(key, Page(body, self._etag(*key), fmt, 0))
        return page
