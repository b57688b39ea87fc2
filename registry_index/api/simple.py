"""/simple/ and /simple/<project>/: load the sidecar, render (cached), negotiate, revalidate."""

from __future__ import annotations

from collections.abc import Awaitable

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from ..errors import NotFound
from ..names import normalize
from ..services.write_behind import landed
from ..simple.negotiate import negotiate
from ..simple.pages import Answer, Wire
from .context import context
from .urls import redirect


class WireResponse(Response):
    """Sends a page's prebuilt status, headers and body as they are.

    ``after`` is a relayed page's store write still in flight: the last byte waits for it,
    so no client holds the whole page before the store does, and another instance asked
    next finds it there instead of asking the upstream again.
    """

    def __init__(self, wire: Wire, after: Awaitable[object] | None = None) -> None:
        self.wire = wire
        self.after = after
        self.status_code = wire.status
        self.body = wire.body
        self.raw_headers = list(wire.headers)  # a copy: the page's list is shared
        self.background = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.after is None:
            await self.wire.send(scope, send)
            return
        await send({"type": "http.response.start", "status": self.wire.status, "headers": self.wire.headers})
        body = b"" if scope["method"] == "HEAD" else self.wire.body
        if len(body) > 1:
            await send({"type": "http.response.body", "body": body[:-1], "more_body": True})
            body = body[-1:]
        await landed(self.after)
        await send({"type": "http.response.body", "body": body})


def _respond(request: Request, page: Answer) -> Response:
    headers = request.headers
    return WireResponse(page.respond(headers.get("accept-encoding"), headers.get("if-none-match")))


async def simple_index(request: Request) -> Response:
    ctx = context(request)
    await ctx.require_reader(request)
    fmt = negotiate(request.headers.get("accept"), request.query_params.get("format"))
    index, etag = await ctx.registry.index()
    return _respond(request, ctx.pages.index(index, etag, fmt, request.scope.get("root_path", "")))


async def simple_project(request: Request) -> Response:
    ctx = context(request)
    await ctx.require_reader(request)
    name: str = request.path_params["project"]
    normalized = normalize(name)
    if name != normalized:
        return redirect(request, request.url.path.replace(f"/{name}/", f"/{normalized}/"))
    project, etag = await ctx.registry.project_with_etag(normalized)
    fmt = negotiate(request.headers.get("accept"), request.query_params.get("format"))
    root = request.scope.get("root_path", "")
    if project is None or etag is None:
        # Not hosted here (no files, reservation or owner): the only case an upstream is asked.
        relayed = await ctx.registry.relayed_page(normalized)
        if relayed is None:
            raise NotFound(f"No project {name[:200]!r} on this index.")
        page = ctx.pages.relayed(relayed.upstream.name, relayed.project, relayed.version, fmt, root)
        wire = page.respond(request.headers.get("accept-encoding"), request.headers.get("if-none-match"))
        if relayed.stale:  # the upstream could not be asked: say the page is as last seen
            stale = (b"x-registry-upstream", f"{relayed.upstream.name}; stale".encode())
            headers = [
                stale if key == b"x-registry-upstream" else (key, value) for key, value in wire.headers
            ]
            wire = Wire(wire.status, headers, wire.body)
        return WireResponse(wire, relayed.stored)
    return _respond(request, ctx.pages.project(project, etag, fmt, root))


async def doubled_slash(request: Request) -> Response:
    """pipenv asks for /simple//<project>/ first: send it where it meant to go."""
    root = request.scope.get("root_path", "")
    return redirect(request, f"{root}/simple/{normalize(request.path_params['project'])}/")


routes = [
    Route("/simple/", simple_index, methods=["GET", "HEAD"]),
    Route("/simple/{project}/", simple_project, methods=["GET", "HEAD"]),
    Route("/simple//{project}/", doubled_slash, methods=["GET", "HEAD"]),
    # hatch assumes a devpi-style index and reads <upload URL>+simple/<project>/ to skip
    # files that are already there (without following redirects).
    Route("/legacy/+simple/{project}/", simple_project, methods=["GET", "HEAD"]),
]
