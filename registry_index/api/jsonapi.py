"""GET /pypi/<project>/json and /pypi/<project>/<version>/json (PyPI-compatible)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ..errors import NotFound
from ..jsonapi.build import files_of, latest_version, project_document
from ..names import canonical_version, normalize
from .context import context
from .urls import base_url, redirect


async def _document(request: Request, version: str | None) -> Response:
    ctx = context(request)
    await ctx.require_reader(request)
    name: str = request.path_params["project"]
    if name != normalize(name):
        return redirect(request, request.url.path.replace(f"/pypi/{name}/", f"/pypi/{normalize(name)}/", 1))
    project = await ctx.registry.project(name)
    if project.status == "quarantined":
        raise NotFound(f"Project {name!r} is quarantined.")
    key = latest_version(project) if version is None else canonical_version(version)
    if key is None or key not in project.releases:
        raise NotFound(f"Project {project.name!r} has no version {version or ''!r}.".replace(" ''", ""))
    files = files_of(project, key)
    description = await ctx.registry.description(project, files)
    vulns = await ctx.registry.vulnerabilities(project.normalized, project.releases[key].version)
    base = base_url(request, ctx.settings.public_url)
    doc = project_document(project, key, description, base, vulns, with_releases=version is None)
    headers = {"X-PyPI-Last-Serial": str(project.serial), "Access-Control-Allow-Origin": "*"}
    return JSONResponse(doc, headers=headers)


async def project_json(request: Request) -> Response:
    return await _document(request, None)


async def release_json(request: Request) -> Response:
    return await _document(request, request.path_params["version"])


routes = [
    Route("/pypi/{project}/json", project_json),
    Route("/pypi/{project}/json/", project_json),
    Route("/pypi/{project}/{version}/json", release_json),
    Route("/pypi/{project}/{version}/json/", release_json),
]
