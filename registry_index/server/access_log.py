"""The access log and the request metrics, in one ASGI layer that costs a few µs a request.

uvicorn's own access log goes through ``logging`` per request (a record, a formatter, a
handler lock and a write): on a cached project page that halved the request rate. This one
keeps a line per request in a list and writes the list to stderr in one call, at most
``FLUSH_SECONDS`` after the first buffered line or when it holds ``FLUSH_LINES`` lines, and
when the server stops.
A line is the client, the request line, the status, the bytes of the body sent and the
time to the last byte:

    127.0.0.1:52144 "GET /simple/numpy/ HTTP/1.1" 200 2290 0.4ms

The same layer tallies each request for /metrics (``metrics.Tally``): a dict update here,
handed to prometheus-client at the same flush, since its per-observation locks cost more
than the rest of this layer. /metrics flushes before it renders, so a scrape is never behind.

``fast`` is asked first for a prepared answer (a warm /simple/ page, ``api/fast.py``): such a
hit is sent from here, with its status and size known, so it costs one layer and no wrapped
``send``.
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Callable
from typing import IO, Protocol

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .. import metrics

FLUSH_SECONDS = 0.5
FLUSH_LINES = 512


class Prepared(Protocol):
    """A response ready to go: ``send`` writes it through ASGI and says how many body bytes
    it sent; ``fields`` and ``body_chunks`` are the same response as bytes, for a server that
    writes it itself (``server/protocol.py``; ``fields`` is None when it must not)."""

    status: int

    @property
    def size(self) -> int: ...

    async def send(self, scope: Scope, send: Send) -> int: ...

    def fields(self) -> bytes | None: ...

    def body_chunks(self) -> tuple[bytes, ...]: ...


class AccessLog:
    """ASGI middleware: one line per HTTP request (unless ``lines`` is off), and its metrics,
    written in batches."""

    def __init__(
        self,
        app: ASGIApp,
        out: IO[str] | None = None,
        clock: Callable[[], float] = time.perf_counter,
        *,
        lines: bool = True,
        fast: Callable[[Scope], Prepared | None] | None = None,
    ) -> None:
        self.app = app
        self._fast = fast
        self._out = out
        self._log_lines = lines
        self._tally = metrics.TALLY
        self._clock = clock
        self._lines: list[str] = []
        self._timer: asyncio.TimerHandle | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            if scope["type"] == "lifespan":
                try:
                    await self.app(scope, receive, send)
                finally:
                    self.flush()
                return
            await self.app(scope, receive, send)
            return
        started = self._clock()
        if self._fast is not None and (ready := self._fast(scope)) is not None:
            sent = 0
            try:
                sent = await ready.send(scope, send)
            finally:
                self._line(scope, ready.status, sent, started)
            return
        status = 0
        sent = 0

        async def logged(message: Message) -> None:
            nonlocal status, sent
            if message["type"] == "http.response.start":
                status = message["status"]
            elif message["type"] == "http.response.body":
                sent += len(message.get("body", b""))
            await send(message)

        try:
            await self.app(scope, receive, logged)
        finally:
            self._line(scope, status or 500, sent, started)

    def instant(self, scope: Scope) -> Prepared | None:
        """The prepared answer to ``scope``, logged as sent, for a server that writes it
        itself without an ASGI cycle (``server/protocol.py``); None: call the app."""
        if self._fast is None:
            return None
        started = self._clock()
        ready = self._fast(scope)
        if ready is None or ready.fields() is None:
            return None
        self._line(scope, ready.status, 0 if scope["method"] == "HEAD" else ready.size, started)
        return ready

    @property
    def epoch(self) -> int | None:
        """The fast path's epoch (``api/fast.py``), if it has one: see ``server/repeats.py``."""
        epoch = getattr(self._fast, "epoch", None)
        return epoch if isinstance(epoch, int) else None

    def log(self, scope: Scope, ready: Prepared) -> None:
        """Log a prepared answer the server wrote again for an identical request."""
        self._line(scope, ready.status, 0 if scope["method"] == "HEAD" else ready.size, self._clock())

    def _line(self, scope: Scope, status: int, sent: int, started: float) -> None:
        now = self._clock()
        method = scope["method"]
        self._tally.add(metrics.route_of(method, scope["path"]), method, status, now - started)
        if not self._log_lines:
            if self._timer is None:
                self._timer = asyncio.get_running_loop().call_later(FLUSH_SECONDS, self.flush)
            return
        client = scope.get("client")
        target = scope["path"]
        if query := scope.get("query_string"):
            target += "?" + query.decode("latin-1")
        if not target.isprintable():
            target = _printable(target)
        who = f"{client[0]}:{client[1]}" if client else "-"
        self._lines.append(
            f'{who} "{method} {target} HTTP/{scope.get("http_version", "1.1")}" '
            f"{status} {sent} {(now - started) * 1000:.1f}ms\n"
        )
        if len(self._lines) >= FLUSH_LINES:
            self.flush()
        elif self._timer is None:
            self._timer = asyncio.get_running_loop().call_later(FLUSH_SECONDS, self.flush)

    def flush(self) -> None:
        """Write what is buffered (also called when the server stops)."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._tally.flush()
        if not self._lines:
            return
        lines, self._lines = self._lines, []
        out = self._out or sys.stderr
        try:
            out.write("".join(lines))
            out.flush()
        except (OSError, ValueError):
            pass  # a closed stderr must not fail requests


def _printable(text: str) -> str:
    # A path is client-chosen: no control character (a forged line) reaches the log.
    return "".join(c if c.isprintable() else f"\\x{ord(c):02x}" for c in text)
