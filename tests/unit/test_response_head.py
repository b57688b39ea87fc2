"""The server transport sends a response's head with its body, and never holds it longer."""

from __future__ import annotations

import asyncio
from typing import Any

from registry_index.server.protocol import ReasonPhraseTransport


class Recorder(asyncio.Transport):
    def __init__(self) -> None:
        super().__init__()
        self.calls: list[tuple[str, bytes]] = []
        self.closed = False

    def write(self, data: Any) -> None:
        self.calls.append(("write", bytes(data)))

    def writelines(self, list_of_data: Any) -> None:
        self.calls.append(("writelines", b"".join(bytes(d) for d in list_of_data)))

    def close(self) -> None:
        self.closed = True


HEAD = b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\n"


def test_the_head_goes_out_with_the_first_body_write_in_one_call() -> None:
    inner = Recorder()
    t = ReasonPhraseTransport(inner)
    t.write(HEAD)
    assert inner.calls == []  # held
    t.write(b"hello")
    assert inner.calls == [("writelines", HEAD + b"hello")]
    t.write(b"more")
    assert inner.calls[-1] == ("write", b"more")


def test_a_response_without_a_body_write_is_flushed_when_complete() -> None:
    inner = Recorder()
    t = ReasonPhraseTransport(inner)
    t.write(b"HTTP/1.1 304 Not Modified\r\netag: x\r\n\r\n")
    t.flush_head()  # what the protocol does when uvicorn completes the response
    assert inner.calls == [("write", b"HTTP/1.1 304 Not Modified\r\netag: x\r\n\r\n")]
    t.flush_head()
    assert len(inner.calls) == 1


def test_close_sends_a_held_head_first() -> None:
    inner = Recorder()
    t = ReasonPhraseTransport(inner)
    t.write(HEAD)
    t.close()
    assert inner.calls == [("write", HEAD)] and inner.closed


def test_continue_is_never_held() -> None:
    inner = Recorder()
    t = ReasonPhraseTransport(inner)
    t.write(b"HTTP/1.1 100 Continue\r\n\r\n")
    assert inner.calls == [("write", b"HTTP/1.1 100 Continue\r\n\r\n")]


def test_a_refusal_head_gets_its_phrase_and_is_held_too() -> None:
    inner = Recorder()
    t = ReasonPhraseTransport(inner)
    t.write(b"HTTP/1.1 400 Bad Request\r\nx-reason-phrase: File already exists\r\ncontent-length: 2\r\n\r\n")
    t.write(b"no")
    kind, data = inner.calls[0]
    assert kind == "writelines"
    assert data.startswith(b"HTTP/1.1 400 File already exists\r\n") and b"x-reason-phrase" not in data
    assert data.endswith(b"\r\n\r\nno")
