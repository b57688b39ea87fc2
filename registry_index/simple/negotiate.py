"""Server-driven content negotiation for the Simple API (PEP 691), as a pure function."""

from __future__ import annotations

import functools
from typing import Literal

Format = Literal["text/html", "application/vnd.pypi.simple.v1+html", "application/vnd.pypi.simple.v1+json"]
HTML: Format = "text/html"
V1_HTML: Format = "application/vnd.pypi.simple.v1+html"
V1_JSON: Format = "application/vnd.pypi.simple.v1+json"

# Offer order breaks ties, so "*/*" and a missing header give text/html, as PyPI does.
_OFFERS: tuple[Format, ...] = (HTML, V1_HTML, V1_JSON)
_ALIASES: dict[str, Format] = {
    "application/vnd.pypi.simple.latest+json": V1_JSON,
    "application/vnd.pypi.simple.latest+html": V1_HTML,
}


def weighted(header: str) -> list[tuple[str, float]]:
    """A header of comma-separated ``token;q=N`` items as (lowercased token, q) pairs."""
    items: list[tuple[str, float]] = []
    for item in header.split(","):
        token, *params = (p.strip() for p in item.split(";"))
        if not token:
            continue
        q = 1.0
        for param in params:
            key, _, value = param.partition("=")
            if key.strip().lower() == "q":
                try:
                    q = min(1.0, max(0.0, float(value.strip())))
                except ValueError:
                    q = 0.0
        items.append((token.lower(), q))
    return items


def _parse(accept: str) -> list[tuple[str, float]]:
    return [(_ALIASES.get(media, media), q) for media, q in weighted(accept)]


def _quality(offer: str, ranges: list[tuple[str, float]]) -> float:
    """The q of the most specific range matching ``offer`` (RFC 9110 §12.5.1)."""
    best_specificity, best_q = -1, 0.0
    kind = offer.split("/", 1)[0]
    for media, q in ranges:
        if media == offer:
            specificity = 2
        elif media == f"{kind}/*":
            specificity = 1
        elif media == "*/*":
            specificity = 0
        else:
            continue
        if specificity > best_specificity:
            best_specificity, best_q = specificity, q
    return best_q


@functools.lru_cache(maxsize=512)  # clients send a handful of fixed headers; a pure function
def negotiate(accept: str | None, format_param: str | None = None) -> Format:
    """Pick the response type; with nothing acceptable, fall back to text/html like PyPI."""
    if format_param:
        # Typed into a browser, the "+" of a media type arrives as a space after query decoding.
        given = format_param.strip().lower().replace(" ", "+")
        wanted = _ALIASES.get(given, given)
        for offer in _OFFERS:
            if offer == wanted:
                return offer
    if not accept or not accept.strip():
        return HTML
    ranges = _parse(accept)
    best: Format = HTML
    best_q = 0.0
    for offer in _OFFERS:
        q = _quality(offer, ranges)
        if q > best_q:
            best, best_q = offer, q
    return best


@functools.lru_cache(maxsize=256)  # clients send a handful of fixed headers; a pure function
@functools.lru_cache(maxsize=512)  # pip and uv send the same value on every request
def accepts_gzip(accept_encoding: str | None) -> bool:
    """Whether an Accept-Encoding value allows gzip (RFC 9110 §12.5.3; ``gzip;q=0`` refuses)."""
    star = False
    for coding, q in weighted(accept_encoding or ""):
        if coding == "gzip":
            return q > 0
        if coding == "*":
            star = q > 0
    return star
