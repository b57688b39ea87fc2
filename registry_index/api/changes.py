"""GET /changes: the change feed, for mirrors and other followers of this index.

``?since=SERIAL`` (default 0) returns up to ``limit`` changes after it, oldest first, with
the index's last serial and the URL of the next page; a follower keeps asking from the last
serial it saw. Every change to a project's sidecar is one entry (``update``, ``delete``, or
``list`` / ``withdraw`` for the root index): re-read ``/simple/<project>/`` for what changed.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .context import context
from .params import int_param
from .urls import own_url

MAX_LIMIT = 1000


async def changes(request: Request) -> Response:
    ctx = context(request)
    await ctx.require_reader(request)
    params = dict(request.query_params)
    since = int_param(params, "since", 0, low=0, high=10**15)
    limit = int_param(params, "limit", 100, low=1, high=MAX_LIMIT)
    found, head = await ctx.registry.projects.changes(since, limit)
    last = found[-1].serial if found else since
    body: dict[str, object] = {
        "last_serial": head,
        "changes": [c.public() for c in found],
    }
    if last < head:
        body["next"] = own_url(request, ctx.settings.public_url) + f"?since={last}&limit={limit}"
    headers = {"X-PyPI-Last-Serial": str(head), "Cache-Control": "no-cache"}
    return JSONResponse(body, headers=headers)


routes = [Route("/changes", changes, methods=["GET", "HEAD"])]
