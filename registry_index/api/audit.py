"""GET /api/audit: the audit log for administrators, filtered and paginated."""

from __future__ import annotations

from dataclasses import asdict

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ..audit.log import AuditQuery
from ..errors import InvalidRequest
from ..names import normalize
from ..pagination import Pagination
from .context import context
from .params import int_param, page_links
from .urls import own_url


def _time_param(request: Request, name: str) -> str | None:
    value = request.query_params.get(name)
    if value and not (len(value) >= 10 and value[4] == "-" and value[7] == "-"):
        raise InvalidRequest(f"Query parameter {name!r} must be an ISO date or time, e.g. 2026-01-31.")
    return value or None


async def audit_events(request: Request) -> Response:
    ctx = context(request)
    await ctx.require_admin(request)
    q = request.query_params
    page = int_param(q, "page", 1, low=1, high=1_000_000)
    per_page = int_param(q, "per_page", 50, low=1, high=500)
    query = AuditQuery(
        project=normalize(q["project"]) if q.get("project") else None,
        actor=q.get("actor") or None,
        action=q.get("action") or None,
        since=_time_param(request, "since"),
        until=_time_param(request, "until"),
    )
    matched = [e async for e in ctx.registry.audit.events(query)]
    matched.reverse()  # newest first
    paged = Pagination(page, per_page, len(matched))
    body = {
        "total": len(matched),
        "page": page,
        "per_page": per_page,
        **page_links(own_url(request, ctx.settings.public_url), q, paged),
        "events": [asdict(e) for e in paged.slice(matched)],
    }
    return JSONResponse(body)


routes = [Route("/api/audit", audit_events)]
