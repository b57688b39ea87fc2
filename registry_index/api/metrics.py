"""GET /metrics: the Prometheus exposition (prometheus-client's text format).

Open by default, like /healthz. With ``--metrics-token`` it needs ``Authorization: Bearer
<token>``; in private mode without a token it needs a reader's credentials.
"""

from __future__ import annotations

import hmac

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from .. import metrics
from ..errors import Unauthenticated
from .context import context


async def exposition(request: Request) -> Response:
    ctx = context(request)
    token = ctx.settings.metrics_token
    if token:
        given = request.headers.get("authorization", "")
        if not hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
            raise Unauthenticated("/metrics needs 'Authorization: Bearer <the --metrics-token>'.")
    elif ctx.settings.private:
        await ctx.require_reader(request)
    projects, files, size = ctx.registry.index_size()
    metrics.index_size(projects, files, size)
    metrics.feed_serial(ctx.registry.last_serial())
    body, media_type = metrics.render()
    return Response(body, media_type=media_type, headers={"Cache-Control": "no-store"})


routes = [Route("/metrics", exposition, methods=["GET"])]
