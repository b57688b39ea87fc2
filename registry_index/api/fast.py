"""Warm /simple/ hits answered below the framework, from pages already rendered.

pip and uv ask for a project page on every install, so this is the request an index serves
most. Profiling showed a warm hit spent more time building Starlette's Request, Headers and
Response objects and matching routes than serving the page. When the sidecar is fresh in this
process's cache there is nothing to await and nothing that can fail, so such a hit is answered
here from prebuilt header lists; everything else (a query string, a name to redirect, a stale or
missing sidecar, private mode) goes on to the routes, which give the same bytes.

``WarmPages`` is not a middleware of its own: the outermost layer (the access log) asks it
first, so a warm hit passes one ASGI layer, with no wrapped ``send``.
"""

from __future__ import annotations

import functools

from starlette.types import Scope

from ..names import normalize
from ..simple.negotiate import negotiate
from ..simple.pages import Answer, Wire
from .context import AppContext

_PREFIX = "/simple/"


class WarmPages:
    """``warm(scope)``: the prebuilt answer to a GET or HEAD of a warm /simple/ page, or None.

    ``ctx`` is set by the app when its context is ready (until then every request goes to the
    routes): looking it up on ``app.state`` took a microsecond a request.
    """

    def __init__(self) -> None:
        self._ctx: AppContext | None = None
        # Moves on every sidecar this process writes: answers kept by the server for
        # byte-identical requests (server/repeats.py) are then not reused.
        self.epoch = 0

    @property
    def ctx(self) -> AppContext | None:
        return self._ctx

    @ctx.setter
    def ctx(self, ctx: AppContext | None) -> None:
        self._ctx = ctx
        if ctx is not None:
            ctx.registry.projects.watch(self._changed)

    def _changed(self, normalized: str, project: object) -> None:
        self.epoch += 1

    def __call__(self, scope: Scope) -> Wire | None:
        if scope["method"] not in ("GET", "HEAD") or scope["query_string"]:
            return None
        path: str = scope["path"]
        root: str = scope.get("root_path", "")
        if root and path.startswith(root):
            path = path[len(root) :]
        if not path.startswith(_PREFIX):
            return None
        ctx = self.ctx
        if ctx is None or ctx.settings.private:
            return None
        name = path[len(_PREFIX) :]
        page: Answer
        if not name:
            seen_index = ctx.registry.projects.index_if_fresh()
            if seen_index is None:
                return None
            accept, encoding, if_none_match = _request_headers(scope)
            page = ctx.pages.index(seen_index[0], seen_index[1], negotiate(accept), root)
        else:
            if not name.endswith("/"):
                return None
            name = name[:-1]
            if not name or "/" in name or not _normalized(name):
                return None
            seen = ctx.registry.projects.project_if_fresh(name)
            if seen is None:
                return None
            accept, encoding, if_none_match = _request_headers(scope)
            if seen[0] is None or seen[1] is None:  # not hosted: a relayed page, if fresh in memory
                proxy = ctx.registry.proxy
                relayed = proxy.page_if_fresh(name) if proxy is not None else None
                if relayed is None:
                    return None
                fmt = negotiate(accept)
                page = ctx.pages.relayed(relayed.upstream.name, relayed.project, relayed.version, fmt, root)
            else:
                page = ctx.pages.project(seen[0], seen[1], negotiate(accept), root)
        return page.respond(encoding, if_none_match)


@functools.lru_cache(maxsize=8192)  # the same few thousand names, every install
def _normalized(name: str) -> bool:
    return normalize(name) == name


def _request_headers(scope: Scope) -> tuple[str | None, str | None, str | None]:
    accept = encoding = if_none_match = None
    for key, value in scope["headers"]:
        if key == b"accept":
            accept = value.decode("latin-1")
        elif key == b"accept-encoding":
            encoding = value.decode("latin-1")
        elif key == b"if-none-match":
            if_none_match = value.decode("latin-1")
    return accept, encoding, if_none_match
