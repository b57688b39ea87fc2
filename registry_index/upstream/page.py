"""Upstream Simple API pages (PEP 691 JSON, PEP 503 HTML) → immutable values (pure, no I/O).

Every upstream response is hostile input: a compromised or broken mirror must not be able to
make us crash, hang, point clients at ``javascript:`` URLs, or store a file under a path. So
each parser either returns a fully checked value or raises ``UpstreamPageError`` naming the
first problem; it never returns a half-read page, and never lets another exception out. Work
is linear in the body, which is capped before anything is decoded. Linear is not free: the
stdlib HTML parser reads about 1 MB a second at worst, so callers in the event loop should run
a large page in a thread.

What is kept is what docs/proxy notes §4.10 asks a faithful relay to keep: every hash, yank
state and reason, ``requires-python``, core-metadata (either key, PEP 714), ``size``,
``upload-time``, ``provenance``, and per project ``versions``, ``project-status`` and
``_last-serial``. Rendering is the hosted renderer's job; nothing here knows our routes.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from ..names import normalize
from .fields import (
    DEFAULT_MAX_BYTES,
    DEFAULT_MAX_FILES,
    DEFAULT_MAX_PROJECTS,
    HASH_HEX_LENGTHS,
    HTML_TYPES,
    JSON_TYPE,
    MAX_FILENAME_BYTES,
    UpstreamFile,
    UpstreamPageError,
    UpstreamProject,
    absolute_url,
    check_size,
    format_of,
)
from .page_html import (
    html_index,
    html_project,
)
from .page_json import (
    json_index,
    json_project,
)

_T = TypeVar("_T")

__all__ = [
    "DEFAULT_MAX_BYTES",
    "DEFAULT_MAX_FILES",
    "DEFAULT_MAX_PROJECTS",
    "HASH_HEX_LENGTHS",
    "HTML_TYPES",
    "JSON_TYPE",
    "MAX_FILENAME_BYTES",
    "UpstreamFile",
    "UpstreamPageError",
    "UpstreamProject",
    "parse_index_page",
    "parse_project_page",
]


# ---------------------------------------------------------------------------------------------
# Public API


def _guarded(parse: Callable[[], _T]) -> _T:
    """Anything but our own error escaping a parser is a bug; report it as a bad page anyway."""
    try:
        return parse()
    except UpstreamPageError:
        raise
    except (ValueError, TypeError, KeyError, IndexError, RecursionError) as exc:
        raise UpstreamPageError(f"the page cannot be read: {type(exc).__name__}: {exc}") from exc


def parse_project_page(
    body: bytes,
    content_type: str,
    page_url: str,
    expected_name: str,
    *,
    max_files: int = DEFAULT_MAX_FILES,
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> UpstreamProject:
    """An upstream project page, checked field by field; ``UpstreamPageError`` otherwise.

    ``page_url`` is the final URL the page came from (after redirects): relative links
    resolve against it, as pip and uv resolve them. A JSON page naming another project is
    refused, so a misrouted or malicious answer cannot fill another name's cache. An HTML
    page cannot be checked that way and takes ``expected_name`` as its name.
    """
    check_size(body, max_bytes)
    page_format, params = format_of(content_type)
    expected = normalize(expected_name)
    base = absolute_url(page_url, page_url, "page_url")
    if page_format == "json":
        return _guarded(lambda: json_project(body, base, expected, max_files))
    return _guarded(lambda: html_project(body, params, base, expected, expected_name, max_files))


def parse_index_page(
    body: bytes,
    content_type: str,
    *,
    max_projects: int = DEFAULT_MAX_PROJECTS,
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> tuple[str, ...]:
    """The project names of an upstream root ``/simple/`` page, as upstream spells them.

    JSON gives ``projects[].name``, HTML the anchor texts (PEP 503). An invalid name refuses
    the page; repeats of one normalized name keep the first spelling.
    """
    check_size(body, max_bytes)
    page_format, params = format_of(content_type)
    if page_format == "json":
        return _guarded(lambda: json_index(body, max_projects))
    return _guarded(lambda: html_index(body, params, max_projects))
