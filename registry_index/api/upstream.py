"""Files relayed from an upstream, by this index's own URLs: verified before they are kept.

They are served like hosted files (the same headers, byte ranges where the size is known),
so a client cannot tell a relayed wheel from a hosted one but by its URL.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from ..errors import NotFound
from .context import context
from .files import IMMUTABLE, attachment, byte_range, media_type


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
    media = "application/octet-stream" if file.metadata else media_type(filename)
    span = None
    if file.size is not None:
        headers["Accept-Ranges"] = "bytes"
        headers["Content-Length"] = str(file.size)
        try:
            span = byte_range(request.headers.get("range"), file.size)
        except ValueError:
            headers["Content-Range"] = f"bytes */{file.size}"
            return Response(status_code=416, headers=headers)
    if request.method == "HEAD":
        status = 200 if span is None else 206
        return Response(status_code=status, headers=_ranged(headers, span, file.size), media_type=media)
    opened = await proxy.open_file(file, span)
    status = 200 if opened.span is None else 206
    return StreamingResponse(
        opened.body, status_code=status, headers=_ranged(headers, opened.span, file.size), media_type=media
    )


def _ranged(headers: dict[str, str], span: tuple[int, int] | None, size: int | None) -> dict[str, str]:
    if span is None or size is None:
        return headers
    start, end = span
    return {**headers, "Content-Range": f"bytes {start}-{end - 1}/{size}", "Content-Length": str(end - start)}


routes = [Route("/upstream/{upstream}/{project}/{filename}", upstream_file, methods=["GET", "HEAD"])]
