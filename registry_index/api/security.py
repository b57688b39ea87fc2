"""GET /api/projects/<name>/<version>/vulnerabilities."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ..errors import NotFound
from ..names import canonical_version
from .context import context


async def vulnerabilities(request: Request) -> Response:
    ctx = context(request)
    await ctx.require_reader(request)
    project = await ctx.registry.project(request.path_params["name"])
    if project.status == "quarantined":
        raise NotFound(f"Project {project.name!r} is quarantined.")
    release = project.releases.get(canonical_version(request.path_params["version"]))
    if release is None:
        raise NotFound(f"Project {project.name!r} has no version {request.path_params['version']!r}.")
    vulns = await ctx.registry.vulnerabilities(project.normalized, release.version)
    return JSONResponse({"project": project.normalized, "version": release.version, "vulnerabilities": vulns})


routes = [Route("/api/projects/{name}/{version}/vulnerabilities", vulnerabilities)]
