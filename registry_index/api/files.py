"""File downloads by stable app URLs: one sidecar lookup (``Downloads.find``), then a streamed body.

The sha256 in the URL is part of the object key, so the lookup is O(1) and a URL can
never point at different bytes.
"""

from __future__ import annotations

import re
from datetime import datetime
from email.utils import format_datetime
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response, StreamingResponse
from starlette.routing import Route

from .context import context

IMMUTABLE = "public, max-age=31536000, immutable"
_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


def attachment(filename: str) -> dict[str, str]:
    """Uploader-chosen bytes are saved, never rendered or sniffed by a browser (RFC 6266)."""
    plain = "".join(c if c.isascii() and c.isprintable() and c not in '"\\' else "_" for c in filename)
    return {
        "Content-Disposition": f"attachment; filename=\"{plain}\"; filename*=UTF-8''{quote(filename)}",
        "X-Content-Type-Options": "nosniff",
    }


def media_type(filename: str) -> str:
    if filename.endswith(".tar.gz"):
        return "application/gzip"
    if filename.endswith((".whl", ".zip")):
        return "application/zip"
    return "application/octet-stream"


def byte_range(header: str | None, size: int) -> tuple[int, int] | None:
    """A single satisfiable byte range as [start, end), or None for the whole file."""
    if not header:
        return None
    match = _RANGE.match(header.strip())
    if not match or (not match[1] and not match[2]):
        return None
    if not match[1]:  # suffix range: the last N bytes
        length = int(match[2])
        return (max(0, size - length), size)
    start = int(match[1])
    end = min(size, int(match[2]) + 1) if match[2] else size
    if start >= size or start >= end:
        raise ValueError("unsatisfiable")
    return (start, end)


async def download(request: Request) -> Response:
    ctx = context(request)
    await ctx.require_reader(request)
    filename: str = request.path_params["filename"]
    downloads = ctx.registry.downloads
    listed = await downloads.find(request.path_params["project"], request.path_params["sha256"], filename)
    entry = listed.entry
    if listed.metadata:
        return Response(
            await downloads.metadata(listed),
            media_type="application/octet-stream",
            headers={
                "ETag": f'"{entry.core_metadata_sha256}"',
                "Cache-Control": IMMUTABLE,
                **attachment(filename),
            },
        )
    headers = {
        "ETag": f'"{entry.sha256}"',
        "Cache-Control": IMMUTABLE,
        "Accept-Ranges": "bytes",
        "Last-Modified": _http_date(entry.upload_time),
        **attachment(filename),
    }
    if f'"{entry.sha256}"' in request.headers.get("if-none-match", ""):
        return Response(status_code=304, headers=headers)
    try:
        span = byte_range(request.headers.get("range"), entry.size)
    except ValueError:
        headers["Content-Range"] = f"bytes */{entry.size}"
        return Response(status_code=416, headers=headers)
    status = 200
    start, end = 0, entry.size
    if span is not None:
        start, end = span
        status = 206
        headers["Content-Range"] = f"bytes {start}-{end - 1}/{entry.size}"
    headers["Content-Length"] = str(end - start)
    media = media_type(filename)
    if ctx.settings.download == "redirect" and request.method == "GET":
        # The page lists this stable URL; only the redirect target is short-lived.
        url = await downloads.presigned_url(listed, ctx.settings.presign_expiry)
        if url is not None:
            return RedirectResponse(url, status_code=307, headers={"Cache-Control": "private, max-age=30"})
    if request.method == "HEAD":
        return Response(status_code=status, headers=headers, media_type=media)
    body = await downloads.open(listed, start, end)
    return StreamingResponse(body, status_code=status, headers=headers, media_type=media)


def _http_date(iso: str) -> str:
    return format_datetime(datetime.fromisoformat(iso.replace("Z", "+00:00")), usegmt=True)


routes = [
    Route("/files/{project}/{sha256}/{filename}", download, methods=["GET", "HEAD"]),
]
