"""Trusted publishing over HTTP: PyPI's ``/_/oidc/*`` endpoints and PEP 807 discovery.

- ``GET /_/oidc/audience``: ``{"audience": ...}``, what CI asks its OIDC provider a token for.
- ``POST /_/oidc/mint-token`` with ``{"token": JWT}``: ``{"success": true, "token": ...,
  "expires": UNIX}``; a refusal is a 422 with PyPI's ``message`` and ``errors[]`` (``code``,
  ``description``), which ``gh-action-pypi-publish`` prints, plus RFC 9457's ``title``,
  ``status`` and ``detail`` for PEP 807 clients. Refusals are rate limited per address.
- ``GET /.well-known/pytp/<sha256 of the upload URL's path>`` and its current PEP 807 form
  ``/.well-known/pytp?discover=<the path, URL-encoded>``: where the two endpoints are.

All of them are a 404 when trusted publishing is off (``--no-trusted-publishing``).
"""

from __future__ import annotations

import hashlib
import json
import math

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ..errors import NotFound
from ..services.trusted_publishing import KeysUnavailable, TokenRefused
from .context import context, origin_of
from .urls import base_url

DISCOVERY_TYPE = "application/vnd.pypi.pytp.v1+json"
UPLOAD_PATHS = ("/legacy/", "/legacy", "/")  # where this index takes uploads (api/upload.py)
MAX_BODY = 64 * 1024


def _enabled(request: Request) -> None:
    if not context(request).settings.trusted_publishing:
        raise NotFound("Trusted publishing is not enabled on this index (--trusted-publishing).")


async def audience(request: Request) -> Response:
    _enabled(request)
    return JSONResponse({"audience": context(request).registry.trusted.audience})


def _refusal(status: int, code: str, description: str, headers: dict[str, str] | None = None) -> Response:
    body = {
        "message": "Token request failed",
        "errors": [{"code": code, "description": description}],
        "title": "Token request failed",
        "status": status,
        "detail": description,
    }
    return JSONResponse(body, status_code=status, headers=headers)


async def mint_token(request: Request) -> Response:
    _enabled(request)
    ctx = context(request)
    origin = origin_of(request)
    refusals = ctx.mint_refusals  # then a 429, before any check
    wait = refusals.wait(origin.client)
    if wait > 0:
        seconds = max(1, math.ceil(wait))
        return _refusal(
            429,
            "rate-limited",
            f"Too many refused token requests from this address: retry in {seconds} s.",
            {"Retry-After": str(seconds)},
        )
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY:
            refusals.take(origin.client)
            return _refusal(413, "invalid-payload", f"The request body is over {MAX_BODY} bytes.")
    try:
        doc = json.loads(body)
        token = doc["token"]
        if not isinstance(token, str):
            raise TypeError
    except (ValueError, KeyError, TypeError):
        refusals.take(origin.client)
        return _refusal(422, "invalid-payload", 'The body must be JSON: {"token": "<the OIDC token>"}.')
    try:
        minted = await ctx.registry.trusted.mint(token, origin)
    except TokenRefused as refused:
        refusals.take(origin.client)
        return _refusal(422, refused.code, refused.description)
    except KeysUnavailable as exc:
        return _refusal(503, "issuer-unavailable", f"The issuer's signing keys could not be read: {exc}.")
    return JSONResponse(
        {"success": True, "token": minted.token, "expires": int(minted.expires.timestamp())},
        headers={"Cache-Control": "no-store"},
    )


def _endpoints(request: Request) -> Response:
    base = base_url(request, context(request).settings.public_url)
    doc = {"audience-endpoint": f"{base}/_/oidc/audience", "token-mint-endpoint": f"{base}/_/oidc/mint-token"}
    return Response(json.dumps(doc), media_type=DISCOVERY_TYPE)


def _paths(request: Request) -> list[str]:
    root = str(request.scope.get("root_path", "")).rstrip("/")
    return [root + path for path in UPLOAD_PATHS] + ([""] if not root else [])


async def discovery_by_digest(request: Request) -> Response:
    _enabled(request)
    wanted = request.path_params["digest"].lower()
    if wanted not in {hashlib.sha256(p.encode()).hexdigest() for p in _paths(request)}:
        raise NotFound("This index takes no uploads at a path with that digest; its upload URL is /legacy/.")
    return _endpoints(request)


async def discovery(request: Request) -> Response:
    _enabled(request)
    if request.query_params.get("discover") not in _paths(request):
        raise NotFound("This index takes no uploads at that path; its upload URL is /legacy/.")
    return _endpoints(request)


routes = [
    Route("/_/oidc/audience", audience, methods=["GET", "HEAD"]),
    Route("/_/oidc/mint-token", mint_token, methods=["POST"]),
    Route("/.well-known/pytp/{digest:str}", discovery_by_digest, methods=["GET", "HEAD"]),
    Route("/.well-known/pytp", discovery, methods=["GET", "HEAD"]),
]
