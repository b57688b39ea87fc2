"""Jinja2 rendering with autoescape, the security headers every page carries, and READMEs.

Descriptions are the only HTML that reaches a page unescaped, and only as readme_renderer
produced it (the library PyPI uses; it sanitizes with nh3). Everything else goes through
autoescaping.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

import jinja2
from anyio import to_thread
from markupsafe import Markup
from readme_renderer import markdown as md_renderer
from readme_renderer import rst as rst_renderer
from starlette.requests import Request
from starlette.responses import HTMLResponse

from .. import __version__

HERE = Path(__file__).resolve().parent
STATIC = HERE / "static"

CSP = (
    "default-src 'self'; script-src 'none'; object-src 'none'; base-uri 'none'; "
    "frame-ancestors 'none'; img-src 'self' data: https:; style-src 'self'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    # Project names in a private index's URLs stay private when a README links elsewhere.
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
}


def file_size(n: int) -> str:
    step = 1000.0
    value = float(n)
    for unit in ("B", "kB", "MB", "GB"):
        if value < step or unit == "GB":
            return f"{int(value)} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= step
    return f"{n} B"  # pragma: no cover


def when(iso: str) -> str:
    """'2026-01-31T14:02:03.123456Z' → '2026-01-31 14:02 UTC' (string slicing: pages list thousands)."""
    if len(iso) < 16:
        return iso
    return f"{iso[:10]} {iso[11:16]} UTC"


def day(iso: str) -> str:
    return iso[:10]


def path_quote(value: str) -> str:
    return quote(value, safe="")


def _static_digest(name: str) -> str:
    return hashlib.sha256((STATIC / name).read_bytes()).hexdigest()[:12]


_STATIC_URLS: dict[str, str] = {}


def static_path(name: str) -> str:
    """The path of a static file with its content digest, so browsers may cache it long."""
    url = _STATIC_URLS.get(name)
    if url is None:
        url = _STATIC_URLS[name] = f"/static/{name}?v={_static_digest(name)}"
    return url


ENV = jinja2.Environment(
    loader=jinja2.FileSystemLoader(HERE / "templates"),
    autoescape=True,  # every template, whatever its name
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
    auto_reload=False,
)
ENV.filters.update(size=file_size, when=when, day=day, pq=path_quote)
ENV.globals.update(static=static_path, version=__version__, urlencode=urlencode)


def root_of(request: Request) -> str:
    return str(request.scope.get("root_path", "")).rstrip("/")


def page(
    request: Request,
    template: str,
    values: Mapping[str, Any],
    *,
    status: int = 200,
    headers: Mapping[str, str] | None = None,
) -> HTMLResponse:
    context = {"root": root_of(request), "q": "", "path": request.url.path, **values}
    body = ENV.get_template(template).render(context)
    return HTMLResponse(body, status_code=status, headers={**SECURITY_HEADERS, **(headers or {})})


def error_page(request: Request, status: int, message: str) -> HTMLResponse:
    titles = {
        400: "Bad request",
        401: "Sign in required",
        403: "Not allowed",
        404: "Not found",
        503: "Temporarily unavailable",
    }
    headers: dict[str, str] = {}
    if status == 401:
        headers["WWW-Authenticate"] = 'Basic realm="registry_index"'
    if status == 503:
        headers["Retry-After"] = "5"
    values = {"status": status, "title": titles.get(status, "Error"), "message": message}
    return page(request, "error.html", values, status=status, headers=headers)


# -- descriptions ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Description:
    html: Markup | None  # sanitized by readme_renderer; None: show ``text`` escaped
    text: str
    kind: str  # "markdown" | "rst" | "text"


def _content_type(value: str | None) -> tuple[str, dict[str, str]]:
    if not value:
        return "text/x-rst", {}  # what PyPI assumes when the metadata names none
    mime, *rest = (part.strip() for part in value.split(";"))
    params: dict[str, str] = {}
    for item in rest:
        key, _, val = item.partition("=")
        params[key.strip().lower()] = val.strip().strip('"')
    return mime.lower(), params


def render_description_sync(text: str, content_type: str | None) -> Description:
    mime, params = _content_type(content_type)
    html: str | None = None
    kind = "text"
    if mime == "text/markdown":
        kind = "markdown"
        html = md_renderer.render(text, variant=params.get("variant", "GFM"))
    elif mime in ("text/x-rst", "text/rst"):
        kind = "rst"
        html = rst_renderer.render(text)
    if html is None:  # plain text, an unknown type, or a README that failed to render
        return Description(None, text, "text")
    # Markup only for readme_renderer's output: it is sanitized (nh3) there.
    return Description(Markup(html), text, kind)


_RENDERED: OrderedDict[str, Description] = OrderedDict()
_RENDERED_MAX = 256


async def render_description(text: str, content_type: str | None) -> Description:
    """Rendered once per distinct README; docutils can take a while, so off the event loop."""
    key = hashlib.sha256(f"{content_type}\0{text}".encode()).hexdigest()
    hit = _RENDERED.get(key)
    if hit is not None:
        _RENDERED.move_to_end(key)
        return hit
    result = await to_thread.run_sync(render_description_sync, text, content_type)
    _RENDERED[key] = result
    while len(_RENDERED) > _RENDERED_MAX:
        _RENDERED.popitem(last=False)
    return result
