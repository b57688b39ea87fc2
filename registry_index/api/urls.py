"""Absolute URLs and redirects, never built from a client's Host header unless asked.

Redirects are relative (``Location: /simple/alpha-pkg/``), which every client resolves
against the URL it asked for; an absolute URL in a body (the web UI's commands, the JSON
APIs) uses ``--public-url`` when it is set, and the request's own address otherwise.
"""

from __future__ import annotations

from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import RedirectResponse
from starlette.routing import Match, Router
from starlette.types import ASGIApp, Receive, Scope, Send


def base_url(request: Request, public_url: str = "") -> str:
    """Where clients reach this index, without a trailing slash."""
    if public_url:
        return public_url.rstrip("/")
    return str(request.base_url).rstrip("/")


def own_url(request: Request, public_url: str = "") -> str:
    """The absolute URL of this request's path (no query), under ``base_url``."""
    root = str(request.scope.get("root_path", ""))
    return base_url(request, public_url) + request.url.path.removeprefix(root)


def redirect(request: Request, path: str, status_code: int = 301) -> RedirectResponse:
    """A relative redirect to ``path`` (already including any root path), keeping the query."""
    query = request.url.query
    return RedirectResponse(path + (f"?{query}" if query else ""), status_code=status_code)


def slash_redirects(router: Router) -> ASGIApp:
    """The router's fallback: Starlette's trailing-slash redirect, but relative.

    Starlette's own ``redirect_slashes`` builds an absolute URL from the Host header
    (``GET /projects`` with ``Host: evil.com`` went to ``http://evil.com/projects/``).
    """

    async def fallback(scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope["path"]
        if scope["type"] == "http" and path != "/":
            other = {**scope, "path": path.rstrip("/") if path.endswith("/") else path + "/"}
            if any(route.matches(other)[0] is not Match.NONE for route in router.routes):
                query = scope.get("query_string", b"").decode("latin-1")
                target = quote(other["path"]) + (f"?{query}" if query else "")
                await RedirectResponse(target, status_code=307)(scope, receive, send)
                return
        await router.not_found(scope, receive, send)

    return fallback
