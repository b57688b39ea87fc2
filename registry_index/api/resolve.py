"""GET /api/projects/<name>/<version>/dependencies and GET /api/resolve."""

from __future__ import annotations

from collections.abc import Mapping

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ..errors import InvalidRequest
from ..resolve.environment import Environment, InvalidEnvironment
from ..resolve.source import BadRequirement, parse_requirement
from .context import context

MAX_REQUIREMENTS = 200


def environment_param(query: Mapping[str, str]) -> Environment:
    """``?python=3.11&platform=linux&arch=x86_64``; each one defaults to the server's own."""
    try:
        return Environment.from_params(query.get("python"), query.get("platform"), query.get("arch"))
    except InvalidEnvironment as exc:
        raise InvalidRequest(exc.message) from None


async def dependencies(request: Request) -> Response:
    ctx = context(request)
    await ctx.require_reader(request)
    env = environment_param(request.query_params)
    name: str = request.path_params["project"]
    version: str = request.path_params["version"]
    tree = await ctx.registry.dependency_tree(name, version, env)
    return JSONResponse(tree.to_json())


async def resolve(request: Request) -> Response:
    ctx = context(request)
    await ctx.require_reader(request)
    env = environment_param(request.query_params)
    texts = [t for t in request.query_params.getlist("requirement") if t.strip()]
    if not texts:
        raise InvalidRequest("Query parameter 'requirement' is required: repeat it for each requirement.")
    if len(texts) > MAX_REQUIREMENTS:
        raise InvalidRequest(f"Query parameter 'requirement' may be given at most {MAX_REQUIREMENTS} times.")
    for text in texts:
        try:
            parse_requirement(text)
        except BadRequirement as exc:
            raise InvalidRequest(f"Query parameter 'requirement': {exc}") from None
    resolution = await ctx.registry.resolve(texts, env)
    if not resolution.ok:
        message = resolution.message()
        doc = {"message": message, "code": f"409 {message.splitlines()[0]}", **resolution.to_json()}
        return JSONResponse(doc, status_code=409)
    return JSONResponse(resolution.to_json())


routes = [
    Route("/api/projects/{project}/{version}/dependencies", dependencies),
    Route("/api/resolve", resolve),
]
