"""A response as it goes on the wire, and what every Simple API page sends with it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from starlette.types import Scope, Send

CACHE_CONTROL = "max-age=0, must-revalidate, public"
PAGE_CSP = b"default-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

RawHeaders = list[tuple[bytes, bytes]]


@dataclass(slots=True)
class Wire:
    """One response as it goes on the wire: what the route and the fast path both send."""

    status: int
    headers: RawHeaders
    body: bytes
    chunks: tuple[bytes, ...] = ()  # a body sent as these, never joined (the root page at scale)

    async def send(self, scope: Scope, send: Send) -> None:
        await send({"type": "http.response.start", "status": self.status, "headers": self.headers})
        if self.chunks and scope["method"] != "HEAD":
            last = len(self.chunks) - 1
            for i, chunk in enumerate(self.chunks):
                await send({"type": "http.response.body", "body": chunk, "more_body": i < last})
            return
        await send({"type": "http.response.body", "body": b"" if scope["method"] == "HEAD" else self.body})


class Answer(Protocol):
    """A page that answers a request's headers with a prebuilt Wire (Page, RootPage)."""

    def respond(self, accept_encoding: str | None, if_none_match: str | None) -> Wire: ...
