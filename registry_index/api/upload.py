"""POST /legacy/ (and /legacy and /): the upload API twine and uv publish speak. Never redirects."""

from __future__ import annotations

from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from .. import metrics
from ..errors import Forbidden, RegistryError
from ..names import normalize
from ..upload.inspect import Upload
from .context import context, origin_of
from .form import parse_upload
from .urls import redirect


async def upload(request: Request) -> Response:
    try:
        return await _upload(request)
    except RegistryError as exc:
        metrics.upload_refused(type(exc).__name__)  # a class name: a bounded label
        raise


async def _upload(request: Request) -> Response:
    ctx = context(request)
    caller = await ctx.require_writer(request)
    if caller.scope.access == "read":
        raise Forbidden(caller.scope.upload_refusal(""))  # before taking in the body
    form = await parse_upload(
        request.headers.get("content-type"), request.stream(), ctx.settings.max_upload_size
    )
    try:
        result = await ctx.registry.publishing.publish(
            caller.user,
            Upload(form.filename, form.path, form.size, form.digests, form.fields),
            origin_of(request),
            scope=caller.scope,
        )
    finally:
        form.cleanup()
    metrics.upload_accepted(result.created, form.size)
    message = "" if result.created else f"{result.filename} already exists with the same content.\n"
    message += "".join(f"{w}\n" for w in result.warnings)
    return Response(message, status_code=200, media_type="text/plain")


async def release_page(request: Request) -> Response:
    """hatch prints <upload URL>/<project>/<version>/ after a publish: lead it to the release."""
    root = request.scope.get("root_path", "")
    project, version = normalize(request.path_params["project"]), request.path_params["version"]
    return redirect(request, f"{root}/project/{project}/{quote(version)}/", status_code=302)


routes = [
    Route("/legacy/{project}/{version}/", release_page, methods=["GET", "HEAD"]),
    Route("/legacy/", upload, methods=["POST"]),
    Route("/legacy", upload, methods=["POST"]),
    Route("/", upload, methods=["POST"]),
]
