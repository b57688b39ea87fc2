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

And a warm /simple/ page is written here, without an ASGI cycle. For every request uvicorn
builds a cycle object, starts a task that runs the app, and takes the response as two
messages that it checks and encodes field by field; for a page already rendered in memory
that was most of the cost of the request. So once a request's headers are parsed, the app's
``instant(scope)`` is asked first (``RegistryApp.instant``: the access log's fast path,
which logs the request). If it has the page, its prepared bytes go out in one write and the
request is done. This happens only when nothing can make it wrong:
- a keep-alive HTTP/1.1 GET or HEAD, without a query or escapes in its path, expecting no
  ``100 Continue``, with no earlier response still pending on the connection;
- no uvicorn concurrency limit is configured (its 503 decides first);
- the connection's write buffer is nearly empty, so a client that pipelines without reading
  gets no more than a page ahead (otherwise it waits its turn, as any request does).
Anything else takes the ASGI path, which sends the same bytes
(``tests/functional/test_simple_api.py`` compares the two). After such an answer one
keep-alive timer per connection is armed, not one per request (``_idle_check``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any, cast

from .phrase import rewrite
from .repeats import Answer, Repeat, Repeats


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

    def write_whole(self, parts: Sequence[bytes]) -> None:
        """Write a whole response (head and body) at once, after any held head."""
        self.flush_head()
        self._inner.writelines(parts)

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


_REQUEST_KEYS = ("method", "path", "raw_path", "query_string", "root_path", "http_version", "type")
INSTANT_BUFFER = 64 * 1024  # bytes already waiting to go out: beyond this, no instant answer

try:  # what uvicorn's "auto" picks: httptools when installed, else h11
    import httptools
    from uvicorn.protocols.http.httptools_impl import STATUS_LINE
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol as _Base

    INSTANT = True
except ImportError:  # uvicorn without its [standard] extras: no instant answers
    from uvicorn.protocols.http.h11_impl import H11Protocol as _Base  # type: ignore[assignment]

    STATUS_LINE = {}
    INSTANT = False


REPEATS = Repeats()  # per process: answers to byte-identical requests (server/repeats.py)


class ReasonPhraseProtocol(_Base):
    """For ``uvicorn.run(http=ReasonPhraseProtocol)``; module-level, so workers can unpickle it."""

    instant_answers = 0  # per process, for tests: requests answered without an ASGI cycle
    repeat_answers = 0  # of which answered from the bytes of an identical request
    _default_headers: list[tuple[bytes, bytes]] | None = None
    _default_fields = b""
    _answered = False  # the request being parsed was answered at its headers
    _between = True  # the parser is between requests (none begun and not complete)
    _begun = 0  # requests begun in the current read
    _keep: tuple[dict[str, Any], Answer] | None = None  # this read's answer, to reuse
    _idle_at: float | None = None  # when the last instant answer left (None: a request is due)
    _idle_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._held = ReasonPhraseTransport(cast(asyncio.Transport, transport))
        super().connection_made(self._held)

    def connection_lost(self, exc: Exception | None) -> None:
        if self._idle_timer is not None:
            self._idle_timer.cancel()
            self._idle_timer = None
        super().connection_lost(exc)

    def on_response_complete(self) -> None:
        self._held.flush_head()  # a HEAD or 304 answer: no body write carried the head
        super().on_response_complete()

    # -- instant answers ----------------------------------------------------------------

    def data_received(self, data: bytes) -> None:
        if INSTANT and self._between and (epoch := getattr(self.app, "instant_epoch", None)) is not None:
            hit = REPEATS.get(data, self.loop.time(), epoch)
            if hit is not None and self._may_answer():
                self._unset_keepalive_if_required()
                self._repeat(hit)
                return
            self._begun, self._keep = 0, None
            super().data_received(data)
            keep = self._keep
            # Kept only when the read was this one request, whole, and nothing went wrong
            # after it (a parse error closes the connection: its bytes must not be reused).
            if keep is not None and self._begun == 1 and self._between and not self._held.is_closing():
                REPEATS.put(data, keep[0], keep[1], self.loop.time(), epoch)
            return
        super().data_received(data)

    def on_message_begin(self) -> None:
        self._answered = False
        self._between = False
        self._begun += 1
        super().on_message_begin()

    def on_headers_complete(self) -> None:
        if INSTANT and self._answer_now():
            return
        super().on_headers_complete()

    def on_body(self, body: bytes) -> None:
        self._keep = None  # a request with a body is never answered from its bytes alone
        if not self._answered:  # an answered GET's body is read and dropped, as uvicorn does
            super().on_body(body)

    def on_message_complete(self) -> None:
        self._between = True
        if not self._answered:
            super().on_message_complete()

    def _may_answer(self) -> bool:
        """Nothing on the connection stands in the way of writing an answer now."""
        cycle = self.cycle
        return (
            (cycle is None or cycle.response_complete)
            and not self.pipeline
            and self.limit_concurrency is None
            and not self.flow.write_paused
            and self._held.get_write_buffer_size() < INSTANT_BUFFER
        )

    def _answer_now(self) -> bool:
        """Answer the request whose headers were just parsed, if the app has it ready."""
        parser = self.parser
        if (
            parser.get_method() not in (b"GET", b"HEAD")
            or parser.get_http_version() != "1.1"
            or not parser.should_keep_alive()
            or parser.should_upgrade()
            or self.expect_100_continue
            or not self._may_answer()  # one still being answered, uvicorn's 503, a full buffer
        ):
            return False
        instant = getattr(self.app, "instant", None)
        if instant is None:
            return False
        url = httptools.parse_url(self.url)
        raw_path = url.path
        if url.query or b"%" in raw_path:
            return False  # never warm pages; uvicorn's path decodes and routes them
        scope = self.scope
        scope["method"] = parser.get_method().decode("ascii")
        scope["path"] = self.root_path + raw_path.decode("ascii")
        scope["raw_path"] = self.root_path.encode("ascii") + raw_path
        scope["query_string"] = b""
        ready: Answer | None = instant(scope)  # a response the server may write itself
        if ready is None:
            return False
        self._write(scope["method"], ready)
        self._answered = True
        request = cast(dict[str, Any], scope)
        self._keep = ({k: request[k] for k in _REQUEST_KEYS}, ready)
        self._done()
        return True

    def _repeat(self, hit: Repeat) -> None:
        """Answer a request byte-identical to one answered a moment ago (server/repeats.py)."""
        scope = hit.scope
        self._write(scope["method"], hit.answer)
        log = getattr(self.app, "instant_log", None)
        if log is not None:
            log({**scope, "client": self.client}, hit.answer)
        ReasonPhraseProtocol.repeat_answers += 1
        self._done()

    def _done(self) -> None:
        ReasonPhraseProtocol.instant_answers += 1
        self.server_state.total_requests += 1
        self.flow.resume_reading()
        self._idle_at = self.loop.time()
        if self._idle_timer is None:
            self._idle_timer = self.loop.call_later(self.timeout_keep_alive, self._idle_check)

    def _write(self, method: str, ready: Answer) -> None:
        fields = ready.fields()
        assert fields is not None  # the app's instant() never returns one that cannot go
        defaults = self.server_state.default_headers  # a new list each second (the Date)
        if defaults is not ReasonPhraseProtocol._default_headers:
            ReasonPhraseProtocol._default_headers = defaults
            ReasonPhraseProtocol._default_fields = b"".join(b"%s: %s\r\n" % pair for pair in defaults)
        head = b"".join((STATUS_LINE[ready.status], ReasonPhraseProtocol._default_fields, fields, b"\r\n"))
        if method == "HEAD" or ready.status == 304:
            self._held.write_whole((head,))
        else:
            self._held.write_whole((head, *ready.body_chunks()))

    # uvicorn arms a keep-alive timer after every response and cancels it when data comes:
    # a timer object per request. After an instant answer one timer per connection is
    # armed instead, and when it fires it closes the connection only if nothing came since.

    def _unset_keepalive_if_required(self) -> None:
        self._idle_at = None  # data came (or a response is complete): not idle
        super()._unset_keepalive_if_required()

    def _idle_check(self) -> None:
        self._idle_timer = None
        if self._idle_at is None:
            return  # a request came since; its response arms a timer again
        left = self.timeout_keep_alive - (self.loop.time() - self._idle_at)
        if left > 0:
            self._idle_timer = self.loop.call_later(left, self._idle_check)
        else:
            self.timeout_keep_alive_handler()
