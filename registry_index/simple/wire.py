"""A response as it goes on the wire, and what every Simple API page sends with it."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from starlette.types import Scope, Send

CACHE_CONTROL = "max-age=0, must-revalidate, public"
PAGE_CSP = b"default-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

RawHeaders = list[tuple[bytes, bytes]]
_UNSAFE = re.compile(b"[\\x00\\r\\n]")  # what would end a field or the head early


@dataclass(slots=True)
class Wire:
    """One response as it goes on the wire: what the route and the fast path both send."""

    status: int
    headers: RawHeaders
    body: bytes
    chunks: tuple[bytes, ...] = ()  # a body sent as these, never joined (the root page at scale)
    _fields: bytes | None = field(default=None, repr=False, compare=False)

    @property
    def size(self) -> int:
        """The body's length in bytes."""
        return sum(len(chunk) for chunk in self.chunks) if self.chunks else len(self.body)

    def fields(self) -> bytes | None:
        """The header fields as HTTP/1.1 puts them on the wire (``name: value\\r\\n`` each),
        encoded once per Wire: the server's instant path writes them as they are. None if a
        field could break the framing (the server's usual path then checks and refuses it)."""
        if self._fields is None:
            if any(_UNSAFE.search(name) or _UNSAFE.search(value) for name, value in self.headers):
                return None
            self._fields = b"".join(b"%s: %s\r\n" % pair for pair in self.headers)
        return self._fields

    def body_chunks(self) -> tuple[bytes, ...]:
        return self.chunks or (self.body,)

    async def send(self, scope: Scope, send: Send) -> int:
        """Send the response; the body bytes sent."""
        await send({"type": "http.response.start", "status": self.status, "headers": self.headers})
        if scope["method"] == "HEAD":
            await send({"type": "http.response.body", "body": b""})
            return 0
        if self.chunks:
            last = len(self.chunks) - 1
            for i, chunk in enumerate(self.chunks):
                await send({"type": "http.response.body", "body": chunk, "more_body": i < last})
            return sum(len(chunk) for chunk in self.chunks)
        await send({"type": "http.response.body", "body": self.body})
        return len(self.body)


class Answer(Protocol):
    """A page that answers a request's headers with a prebuilt Wire (Page, RootPage)."""

    def respond(self, accept_encoding: str | None, if_none_match: str | None) -> Wire: ...


def matches(etag: str, if_none_match: str | None) -> bool:
    """Whether an If-None-Match value names this ETag (or is ``*``): the answer is a 304."""
    return if_none_match is not None and (etag in if_none_match or if_none_match.strip() == "*")


def validators(etag: str, serial: int, extra: Sequence[tuple[bytes, bytes]] = ()) -> RawHeaders:
    """The validators and caching fields a page's 200 and 304 both carry (RFC 9110 §15.4.5)."""
    return [
        (b"etag", etag.encode()),
        (b"vary", b"Accept, Accept-Encoding"),
        (b"cache-control", CACHE_CONTROL.encode()),
        (b"access-control-allow-origin", b"*"),
        (b"x-pypi-last-serial", str(serial).encode()),
        *extra,
    ]


def content_headers(media_type: str, length: int, gzipped: bool) -> RawHeaders:
    """The content fields of a page's 200."""
    headers: RawHeaders = [(b"content-encoding", b"gzip")] if gzipped else []
    media = media_type + ("; charset=utf-8" if media_type.startswith("text/") else "")
    headers += [(b"content-length", str(length).encode()), (b"content-type", media.encode())]
    headers.append((b"x-content-type-options", b"nosniff"))
    if media_type.startswith("text/"):
        # Project names, versions and yank reasons are uploader-chosen: nothing on the page
        # may run, load or be framed.
        headers.append((b"content-security-policy", PAGE_CSP))
    return headers
