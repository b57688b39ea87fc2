"""What the store keeps of an upstream page: the body as the upstream sent it, and how fresh it is.

The body is kept as received, not re-encoded, so a cached page is parsed by the same code as
a fetched one, and a later version of the parser reads old entries (pure).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, replace
from typing import Literal

SCHEMA = 1
Presence = Literal["ok", "missing"]


class CacheEntryError(ValueError):
    """A cache object this version cannot read: it is refetched, never served."""


@dataclass(frozen=True, slots=True)
class CachedPage:
    upstream_url: str  # the upstream root it came from: a changed URL starts afresh (devpi#958)
    presence: Presence  # "missing": the upstream answered 404/410 (negative cache)
    checked_at: float  # wall-clock seconds of the last fetch or revalidation
    etag: str | None = None
    last_serial: int | None = None
    content_type: str = ""
    body: str = ""  # the page as the upstream sent it (UTF-8)
    page_url: str = ""  # where the body came from, after redirects: its relative links' base

    def checked(self, now: float) -> CachedPage:
        return replace(self, checked_at=now)

    def version(self) -> str:
        """Changes with what the page relays, not with when it was checked: the same bytes
        from any instance, or after a 304, keep one ETag for clients."""
        digest = hashlib.sha256()
        for part in (self.upstream_url, self.presence, self.content_type, self.page_url, self.body):
            digest.update(part.encode("utf-8", "surrogatepass") + b"\0")
        return digest.hexdigest()[:32]

    def to_json(self) -> bytes:
        return json.dumps({"schema": SCHEMA, **asdict(self)}, separators=(",", ":")).encode()

    @classmethod
    def from_json(cls, data: bytes) -> CachedPage:
        try:
            doc = json.loads(data)
            if doc.pop("schema", None) != SCHEMA:
                raise CacheEntryError("unknown upstream cache schema")
            page = cls(**doc)
        except (ValueError, TypeError) as exc:
            raise CacheEntryError(f"unreadable upstream cache entry: {exc}") from exc
        if page.presence not in ("ok", "missing"):
            raise CacheEntryError(f"unknown presence {page.presence!r}")
        return page
