"""Files relayed from an upstream, by this index's own URLs: verified before they are kept."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from ..errors import NotFound
from .context import context
from .files import IMMUTABLE, attachment


async def upstream_file(request: Request) -> Response:
    ctx = context(request)
    await ctx.require_reader(request)
    filename: str = request.path_params["filename"]
    found = await ctx.registry.relayed_file(
        request.path_params["upstream"], request.path_params["project"], filename
    )
    if found is None:
        raise NotFound(f"No file {filename!r} here.")
    proxy, file = found
    headers = {"ETag": f'"{file.sha256}"', "Cache-Control": IMMUTABLE, **attachment(filename)}
    if f'"{file.sha256}"' in request.headers.get("if-none-match", ""):
        return Response(status_code=304, headers=headers)
    if not file.metadata and file.entry.size is not None:
        headers["Content-Length"] = str(file.entry.size)
    media = "application/octet-stream"
    if request.method == "HEAD":
        return Response(status_code=200, headers=headers, media_type=media)
    body = await proxy.open_file(file)
    return StreamingResponse(body, headers=headers, media_type=media)


routes = [Route("/upstream/{upstream}/{project}/{filename}", upstream_file, methods=["GET", "HEAD"])]
