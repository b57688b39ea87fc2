"""Warm pages answered by the server protocol itself, and everything that must not be.

The protocol is driven as uvicorn drives it (``connection_made``, then ``data_received`` with
raw request bytes) on a running event loop, with an app that has both an ASGI entry point
and ``instant``. What the client would read is what the fake transport was given.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import uvicorn
from uvicorn.server import ServerState

from registry_index.server.protocol import INSTANT_BUFFER, REPEATS, ReasonPhraseProtocol
from registry_index.server.repeats import REPEAT_SECONDS
from registry_index.simple.wire import Wire

BODY = b"<html>page</html>"
PAGE = Wire(200, [(b"content-length", str(len(BODY)).encode()), (b"etag", b'"v1"')], BODY)
DATE = (b"date", b"Mon, 07 Dec 2026 15:45:02 GMT")


class Client(asyncio.Transport):
    """What the protocol writes, and whether it closed the connection."""

    def __init__(self) -> None:
        super().__init__()
        self.out = b""
        self.closed = False
        self.buffered = 0

    def write(self, data: Any) -> None:
        self.out += bytes(data)

    def writelines(self, list_of_data: Any) -> None:
        self.out += b"".join(bytes(d) for d in list_of_data)

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"peername": ("127.0.0.1", 5555), "sockname": ("127.0.0.1", 8000)}.get(name, default)

    def is_closing(self) -> bool:
        return self.closed

    def close(self) -> None:
        self.closed = True

    def get_write_buffer_size(self) -> int:
        return self.buffered

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass


class App:
    """Instant answers for /simple/warm/; the ASGI path answers everything (and says so)."""

    def __init__(self) -> None:
        self.asgi: list[str] = []
        self.instant_calls = 0
        self.logged: list[tuple[Any, str, str, int]] = []
        self.release = asyncio.Event()
        self.release.set()

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        self.asgi.append(scope["path"])
        await self.release.wait()
        body = b"asgi " + scope["path"].encode()
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-length", b"%d" % len(body))],
            }
        )
        await send({"type": "http.response.body", "body": body})

    def instant(self, scope: Any) -> Wire | None:
        self.instant_calls += 1
        return PAGE if scope["path"] == "/simple/warm/" else None

    # What RegistryApp offers for answers reused for byte-identical requests.
    instant_epoch = 0

    def instant_log(self, scope: Any, ready: Wire) -> None:
        self.logged.append((scope["client"], scope["method"], scope["path"], ready.status))


@pytest.fixture(autouse=True)
def no_kept_answers() -> None:
    REPEATS.clear()  # per process: one test's answers are not another's


def connect(app: App, keep_alive: float = 5.0) -> tuple[ReasonPhraseProtocol, Client]:
    config = uvicorn.Config(
        app, http=ReasonPhraseProtocol, timeout_keep_alive=keep_alive, proxy_headers=False
    )  # type: ignore[arg-type]
    config.load()
    state = ServerState()
    state.default_headers = [DATE]
    protocol = ReasonPhraseProtocol(config=config, server_state=state, app_state={})
    client = Client()
    protocol.connection_made(client)
    return protocol, client


def get(path: str, *extra: str, method: str = "GET", version: str = "1.1") -> bytes:
    lines = [f"{method} {path} HTTP/{version}", "Host: index", *extra, "", ""]
    return "\r\n".join(lines).encode()


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def test_a_warm_page_is_written_whole_with_no_asgi_cycle() -> None:
    app = App()
    protocol, client = connect(app)
    before = ReasonPhraseProtocol.instant_answers
    protocol.data_received(get("/simple/warm/"))
    assert client.out == (
        b"HTTP/1.1 200 OK\r\ndate: Mon, 07 Dec 2026 15:45:02 GMT\r\n"
        b'content-length: 17\r\netag: "v1"\r\n\r\n' + BODY
    )
    assert app.asgi == [] and not protocol.tasks
    assert ReasonPhraseProtocol.instant_answers == before + 1
    assert protocol.server_state.total_requests == 1
    protocol.data_received(get("/simple/warm/", method="HEAD"))  # the same connection, again
    assert client.out.endswith(b'etag: "v1"\r\n\r\n')  # HEAD: the head and no body
    assert client.out.count(BODY) == 1


async def test_the_same_bytes_come_from_the_asgi_path_for_what_is_not_warm() -> None:
    app = App()
    protocol, client = connect(app)
    protocol.data_received(get("/simple/cold/"))
    await settle()
    assert app.asgi == ["/simple/cold/"]
    assert client.out.endswith(b"\r\n\r\nasgi /simple/cold/")


@pytest.mark.parametrize(
    "request_bytes",
    [
        get("/simple/warm/?format=json"),  # a query: routed
        get("/simple/w%61rm/"),  # escaped: uvicorn decodes it, the routes decide
        get("/simple/warm/", version="1.0"),  # not keep-alive by default
        get("/simple/warm/", "Connection: close"),
        get("/simple/warm/", "Expect: 100-continue", "Content-Length: 1"),
        get("/simple/warm/", method="POST"),
    ],
    ids=["query", "escaped", "http-1.0", "connection-close", "expect-continue", "post"],
)
async def test_what_the_instant_path_leaves_to_uvicorn(request_bytes: bytes) -> None:
    app = App()
    protocol, client = connect(app)
    protocol.data_received(request_bytes)
    await settle()
    assert app.asgi, "answered without the app"
    assert BODY not in client.out


async def test_a_pipelined_warm_request_waits_for_the_one_before_it() -> None:
    app = App()
    app.release.clear()  # the first (cold) request is still being answered
    protocol, client = connect(app)
    protocol.data_received(get("/simple/cold/") + get("/simple/warm/"))
    await settle()
    assert client.out == b""  # the warm page may not overtake the cold one
    app.release.set()
    await settle()
    # In order; the queued one went the ASGI way (uvicorn's pipeline), which is as correct.
    assert client.out.index(b"asgi /simple/cold/") < client.out.index(b"asgi /simple/warm/")


async def test_a_client_that_does_not_read_gets_no_instant_answers() -> None:
    app = App()
    protocol, client = connect(app)
    client.buffered = INSTANT_BUFFER  # its earlier answers are still waiting to go out
    protocol.data_received(get("/simple/warm/"))
    await settle()
    assert app.asgi == ["/simple/warm/"]  # the ASGI path, which waits for the buffer to drain


async def test_an_idle_connection_is_closed_after_the_keep_alive_timeout() -> None:
    app = App()
    protocol, client = connect(app, keep_alive=0.2)
    protocol.data_received(get("/simple/warm/"))
    await asyncio.sleep(0.1)
    protocol.data_received(get("/simple/warm/"))  # activity: the timeout starts again
    await asyncio.sleep(0.15)
    assert not client.closed  # 0.25 s since the first answer, 0.15 s since the last
    await asyncio.sleep(0.2)
    assert client.closed


async def test_a_request_in_progress_is_not_cut_by_the_idle_timer() -> None:
    app = App()
    protocol, client = connect(app, keep_alive=0.1)
    protocol.data_received(get("/simple/warm/"))
    app.release.clear()
    protocol.data_received(get("/simple/slow/"))  # on the ASGI path, and slow
    await asyncio.sleep(0.25)
    assert not client.closed
    app.release.set()
    await settle()
    assert client.out.endswith(b"asgi /simple/slow/")
    await asyncio.sleep(0.25)
    assert client.closed  # idle again after it: uvicorn's own timer closes it


# -- answers reused for byte-identical requests (server/repeats.py) -------------------------


async def test_the_same_request_bytes_get_the_kept_answer_without_parsing() -> None:
    app = App()
    first, one = connect(app)
    first.data_received(get("/simple/warm/"))
    assert app.instant_calls == 1
    before = ReasonPhraseProtocol.repeat_answers
    second, two = connect(app)  # another connection, as pip processes of one CI image are
    second.data_received(get("/simple/warm/"))
    assert app.instant_calls == 1  # not asked again
    assert ReasonPhraseProtocol.repeat_answers == before + 1
    assert two.out == one.out  # the same answer, Date included (the same second here)
    assert app.logged == [(("127.0.0.1", 5555), "GET", "/simple/warm/", 200)]  # still logged
    assert second.server_state.total_requests == 1
    second.data_received(get("/simple/warm/", method="HEAD"))  # other bytes: parsed
    assert app.instant_calls == 2 and two.out.endswith(b'etag: "v1"\r\n\r\n')


async def test_a_write_by_this_process_or_a_tenth_of_a_second_ends_the_reuse() -> None:
    app = App()
    protocol, _ = connect(app)
    protocol.data_received(get("/simple/warm/"))
    app.instant_epoch += 1  # this process wrote a project: the page may have changed
    protocol.data_received(get("/simple/warm/"))
    assert app.instant_calls == 2
    protocol.data_received(get("/simple/warm/"))
    assert app.instant_calls == 2  # kept again, under the new epoch
    await asyncio.sleep(REPEAT_SECONDS * 1.5)
    protocol.data_received(get("/simple/warm/"))
    assert app.instant_calls == 3


@pytest.mark.parametrize(
    "reads",
    [
        [get("/simple/warm/")[:20], get("/simple/warm/")[20:]],  # one request over two reads
        [get("/simple/warm/") * 2],  # two requests in one read
        [get("/simple/warm/", "Content-Length: 2") + b"hi"],  # a body
        [get("/simple/warm/") + b"\x00\x01 nonsense"],  # something after it
    ],
    ids=["split", "two-in-one-read", "body", "trailing-bytes"],
)
async def test_only_a_whole_lone_request_is_kept(reads: list[bytes]) -> None:
    app = App()
    protocol, _ = connect(app)
    for data in reads:
        protocol.data_received(data)
    await settle()
    assert len(REPEATS) == 0


async def test_kept_bytes_arriving_mid_request_are_parsed_as_part_of_it() -> None:
    app = App()
    protocol, client = connect(app)
    protocol.data_received(get("/simple/warm/"))
    assert len(REPEATS) == 1
    protocol.data_received(b"GET /simple/cold/ HTTP/1.1\r\nX-Filler: ")  # a request begun
    protocol.data_received(get("/simple/warm/"))  # the kept bytes, but as a header's value here
    await settle()
    assert app.asgi == ["/simple/cold/"]  # parsed: the cold request, not a repeat of the warm one
    assert client.out.count(BODY) == 1


async def test_no_reuse_without_an_epoch() -> None:
    app = App()
    app.instant_epoch = None  # type: ignore[assignment]  # an app that offers none
    protocol, _ = connect(app)
    protocol.data_received(get("/simple/warm/"))
    protocol.data_received(get("/simple/warm/"))
    assert app.instant_calls == 2 and len(REPEATS) == 0


def test_kept_answers_go_when_they_expire_and_big_ones_are_not_kept() -> None:
    from registry_index.server.repeats import MAX_ANSWER, Repeats

    kept = Repeats(max_entries=3, lifetime=1.0)
    for n in range(5):
        kept.put(b"GET /%d" % n, {}, PAGE, now=float(n) / 10, epoch=0)
    assert len(kept) == 3  # bounded in entries
    kept.put(b"GET /late", {}, PAGE, now=1.35, epoch=0)  # the ones put at 0.2 and 0.3 expired
    assert len(kept) == 2 and kept.get(b"GET /4", now=1.35, epoch=0) is not None
    assert kept.get(b"GET /4", now=1.35, epoch=1) is None  # another epoch: gone
    big = Wire(200, [], b"x" * (MAX_ANSWER + 1))
    kept.put(b"GET /big", {}, big, now=1.4, epoch=0)
    assert kept.get(b"GET /big", now=1.4, epoch=0) is None
