"""The batched access log: one line per request, written together, control characters escaped."""

from __future__ import annotations

import asyncio
import io

import pytest
from starlette.types import Receive, Scope, Send

from registry_index.server import access_log
from registry_index.server.access_log import AccessLog


async def _page(scope: Scope, receive: Receive, send: Send) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"hello", "more_body": True})
    await send({"type": "http.response.body", "body": b" world"})


async def _noop_receive() -> dict[str, object]:
    return {"type": "http.request"}


async def _noop_send(message: object) -> None:
    return None


def _scope(path: str, query: bytes = b"") -> Scope:
    return {
        "type": "http",
        "method": "GET",
        "path": path,
        "query_string": query,
        "http_version": "1.1",
        "client": ("127.0.0.1", 5000),
    }


async def test_lines_are_batched_then_written_together() -> None:
    out = io.StringIO()
    log = AccessLog(_page, out)
    for _ in range(3):
        await log(_scope("/simple/numpy/"), _noop_receive, _noop_send)
    assert out.getvalue() == ""  # nothing written per request
    await asyncio.sleep(access_log.FLUSH_SECONDS + 0.2)
    lines = out.getvalue().splitlines()
    assert len(lines) == 3
    assert lines[0].startswith('127.0.0.1:5000 "GET /simple/numpy/ HTTP/1.1" 200 11 ')
    assert lines[0].endswith("ms")


async def test_a_full_buffer_is_written_at_once() -> None:
    out = io.StringIO()
    log = AccessLog(_page, out)
    for _ in range(access_log.FLUSH_LINES):
        await log(_scope("/x"), _noop_receive, _noop_send)
    assert len(out.getvalue().splitlines()) == access_log.FLUSH_LINES


async def test_a_forged_line_in_the_path_is_escaped() -> None:
    out = io.StringIO()
    log = AccessLog(_page, out)
    await log(_scope('/simple/a\n127.0.0.1 "GET /admin'), _noop_receive, _noop_send)
    log.flush()
    assert len(out.getvalue().splitlines()) == 1
    assert "\\x0a" in out.getvalue()


async def test_a_failing_app_is_logged_as_500() -> None:
    async def broken(scope: Scope, receive: Receive, send: Send) -> None:
        raise RuntimeError("boom")

    out = io.StringIO()
    log = AccessLog(broken, out)
    with pytest.raises(RuntimeError):
        await log(_scope("/x", b"a=1"), _noop_receive, _noop_send)
    log.flush()
    assert '"GET /x?a=1 HTTP/1.1" 500 0 ' in out.getvalue()
