"""/simple/ and /simple/<project>/: load the sidecar, render (cached), negotiate, revalidate."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from ..context import context
from ..errors import NotFound
from ..names import normalize
from .negotiate import negotiate
from .pages import Page

PAGE_CACHE_CONTROL = "max-age=0, must-revalidate, public"


def _respond(request: Request, page: Page) -> Response:
    headers = {
        "ETag": page.etag,
        "Vary": "Accept, Accept-Encoding",
        "Cache-Control": PAGE_CACHE_CONTROL,
        "Access-Control-Allow-Origin": "*",
        "X-PyPI-Last-Serial": str(page.serial),
    }
    body = page.body
    if "gzip" in request.headers.get("accept-encoding", "") and (packed := page.gzipped()) is not None:
        # A different representation needs its own strong validator.
        body, headers["ETag"], headers["Content-Encoding"] = packed, page.gzip_etag, "gzip"
    if headers["ETag"] in request.headers.get("if-none-match", ""):
        return Response(status_code=304, headers=headers)
    return Response(body, headers=headers, media_type=page.media_type)


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
        url = request.url.replace(path=request.url.path.replace(f"/{name}/", f"/{normalized}/"))
        return RedirectResponse(str(url), status_code=301)
    project, etag = await ctx.registry.project_with_etag(normalized)
    if project is None or etag is None:
        raise NotFound(f"No project {name!r} on this index.")
    fmt = negotiate(request.headers.get("accept"), request.query_params.get("format"))
    root = request.scope.get("root_path", "")
    return _respond(request, ctx.pages.project(project, etag, fmt, root))


routes = [
    Route("/simple/", simple_index, methods=["GET", "HEAD"]),
    Route("/simple/{project}/", simple_project, methods=["GET", "HEAD"]),
]
