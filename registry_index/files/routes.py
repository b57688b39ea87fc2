"""File downloads by stable app URLs: one sidecar lookup, then a streamed body.

The sha256 in the URL is part of the object key, so the lookup is O(1) and a URL can
never point at different bytes.
"""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator
from datetime import datetime
from email.utils import format_datetime
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response, StreamingResponse
from starlette.routing import Route

from ..context import context
from ..domain import keys
from ..errors import NotFound
from ..storage import DecryptionError, ObjectNotFound, PresignUnavailable

log = logging.getLogger("registry_index")

IMMUTABLE = "public, max-age=31536000, immutable"
_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


def attachment(filename: str) -> dict[str, str]:
    """Uploader-chosen bytes are saved, never rendered or sniffed by a browser (RFC 6266)."""
    plain = "".join(c if c.isascii() and c.isprintable() and c not in '"\\' else "_" for c in filename)
    return {
        "Content-Disposition": f"attachment; filename=\"{plain}\"; filename*=UTF-8''{quote(filename)}",
        "X-Content-Type-Options": "nosniff",
    }


def _media_type(filename: str) -> str:
    if filename.endswith(".tar.gz"):
        return "application/gzip"
    if filename.endswith((".whl", ".zip")):
        return "application/zip"
    return "application/octet-stream"


def _range(header: str | None, size: int) -> tuple[int, int] | None:
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
    name: str = request.path_params["project"]
    digest: str = request.path_params["sha256"]
    filename: str = request.path_params["filename"]
    is_metadata = filename.endswith(".metadata")
    dist_name = filename.removesuffix(".metadata") if is_metadata else filename
    project, _ = await ctx.registry.project_with_etag(name)
    entry = project.file(dist_name) if project is not None else None
    if (
        project is None
        or entry is None
        or entry.sha256 != digest
        or project.status == "quarantined"
        or (is_metadata and entry.core_metadata_sha256 is None)
    ):
        raise NotFound(f"No file {filename!r} here.")
    key = keys.artifact(project.normalized, entry.sha256, entry.filename)
    if is_metadata:
        key = keys.core_metadata(key)
        try:
            blob = await ctx.registry.storage.get(key)
        except ObjectNotFound:
            log.error("listed metadata %s has no object; run registry-index fsck", key)
            raise NotFound(f"No file {filename!r} here.") from None
        except DecryptionError as exc:
            log.error("refusing to serve %s: %s", key, exc)
            raise  # a StorageError: 503, never the stored bytes
        return Response(
            blob.data,
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
        span = _range(request.headers.get("range"), entry.size)
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
    media = _media_type(filename)
    presign = getattr(ctx.registry.storage, "presigned_url", None)
    if ctx.settings.download == "redirect" and presign is not None and request.method == "GET":
        # The page lists this stable URL; only the redirect target is short-lived.
        try:
            url = await presign(key, ctx.settings.presign_expiry)
        except PresignUnavailable:
            url = None  # encrypted at rest (client-side or SSE-C): only this app can decrypt it
        if url is not None:
            return RedirectResponse(url, status_code=307, headers={"Cache-Control": "private, max-age=30"})
    if request.method == "HEAD":
        return Response(status_code=status, headers=headers, media_type=media)
    body = ctx.registry.storage.stream(key, start, end)
    try:
        # Open the object before the status line goes out, so a missing one is a clean 404.
        first = await anext(body)
    except StopAsyncIteration:
        first = b""
    except ObjectNotFound:
        log.error("listed file %s has no object; run registry-index fsck", key)
        raise NotFound(f"No file {filename!r} here.") from None
    except DecryptionError as exc:
        log.error("refusing to serve %s: %s", key, exc)
        raise  # a StorageError: 503, never the stored bytes
    return StreamingResponse(_chain(first, body, key), status_code=status, headers=headers, media_type=media)


async def _chain(first: bytes, rest: AsyncIterator[bytes], key: str = "") -> AsyncIterator[bytes]:
    yield first
    try:
        async for chunk in rest:
            yield chunk
    except DecryptionError as exc:
        # The status line is out: the connection is cut short, so the client sees a failed
        # download; no byte of the chunk that failed authentication was sent.
        log.error("stopped serving %s: %s", key, exc)
        raise


def _http_date(iso: str) -> str:
    return format_datetime(datetime.fromisoformat(iso.replace("Z", "+00:00")), usegmt=True)


routes = [
    Route("/files/{project}/{sha256}/{filename}", download, methods=["GET", "HEAD"]),
]
