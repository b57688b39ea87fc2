"""POST /legacy/ (and /legacy and /): the upload API twine and uv publish speak. Never redirects."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ..context import context, origin_of
from ..registry import Upload
from .form import parse_upload


async def upload(request: Request) -> Response:
    ctx = context(request)
    user = await ctx.require_writer(request)
    form = await parse_upload(
        request.headers.get("content-type"), request.stream(), ctx.settings.max_upload_size
    )
    try:
        result = await ctx.registry.publish(
            user, Upload(form.filename, form.path, form.size, form.digests, form.fields), origin_of(request)
        )
    finally:
        form.cleanup()
    message = "" if result.created else f"{result.filename} already exists with the same content.\n"
    message += "".join(f"{w}\n" for w in result.warnings)
    return Response(message, status_code=200, media_type="text/plain")


routes = [
    Route("/legacy/", upload, methods=["POST"]),
    Route("/legacy", upload, methods=["POST"]),
    Route("/", upload, methods=["POST"]),
]
