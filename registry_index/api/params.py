"""Query parameters checked once (a bad one is a 400 that names it, never a 500), and page links."""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import urlencode

from ..errors import InvalidRequest
from ..pagination import Pagination


def int_param(query: Mapping[str, str], name: str, default: int, *, low: int, high: int) -> int:
    raw = query.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise InvalidRequest(f"Query parameter {name!r} must be an integer, not {raw!r}.") from None
    if not low <= value <= high:
        raise InvalidRequest(f"Query parameter {name!r} must be between {low} and {high}, not {value}.")
    return value


def page_links(base: str, query: Mapping[str, str], paged: Pagination) -> dict[str, str | None]:
    """Absolute ``next`` / ``prev`` links with the other query parameters kept."""

    def link(n: int | None) -> str | None:
        if n is None:
            return None
        params = {k: v for k, v in query.items() if k != "page"}
        params["page"] = str(n)
        return f"{base}?{urlencode(params)}"

    return {"next": link(paged.next), "prev": link(paged.prev)}
