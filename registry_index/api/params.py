"""Query parameters checked once: a bad one is a 400 that names it, never a 500."""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import urlencode

from ..errors import InvalidRequest


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


def page_links(
    base: str, query: Mapping[str, str], page: int, per_page: int, total: int
) -> dict[str, str | None]:
    def link(n: int) -> str:
        params = {k: v for k, v in query.items() if k != "page"}
        params["page"] = str(n)
        return f"{base}?{urlencode(params)}"

    last = max(1, -(-total // per_page))
    return {
        "next": link(page + 1) if page < last else None,
        "prev": link(page - 1) if page > 1 else None,
    }
