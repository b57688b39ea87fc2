"""GET /api/search: ranked, filtered, paginated results from the in-memory index."""

from __future__ import annotations

from packaging.version import InvalidVersion, Version
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ..errors import InvalidRequest
from ..pagination import Pagination
from ..search.rank import Query
from .context import context
from .params import int_param, page_links
from .urls import base_url, own_url


def query_from(params: dict[str, str]) -> Query:
    python = params.get("requires_python") or None
    version = None
    if python is not None:
        try:
            version = Version(python)
        except InvalidVersion:
            raise InvalidRequest(
                f"Query parameter 'requires_python' must be a Python version such as 3.12, not {python!r}."
            ) from None
    return Query(
        q=params.get("q", ""),
        keyword=params.get("keyword") or None,
        classifier=params.get("classifier") or None,
        author=params.get("author") or None,
        requires_python=version,
    )


async def search(request: Request) -> Response:
    ctx = context(request)
    await ctx.require_reader(request)
    params = dict(request.query_params)
    page = int_param(params, "page", 1, low=1, high=100_000)
    per_page = int_param(params, "per_page", 20, low=1, high=100)
    results = ctx.registry.search(query_from(params))
    paged = Pagination(page, per_page, len(results))
    base = base_url(request, ctx.settings.public_url)
    body = {
        "total": len(results),
        "page": page,
        "per_page": per_page,
        **page_links(own_url(request, ctx.settings.public_url), params, paged),
        "results": [
            {
                "name": d.name,
                "normalized": d.normalized,
                "version": d.version,
                "summary": d.summary,
                "keywords": list(d.keywords),
                "requires_python": d.requires_python,
                "updated": d.updated,
                "url": f"{base}/pypi/{d.normalized}/json",
            }
            for d in paged.slice(results)
        ],
    }
    return JSONResponse(body)


routes = [Route("/api/search", search)]
