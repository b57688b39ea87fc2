"""/simple/ built shard by shard: the same listing as the whole-page render, valid gzip made of
independently deflated fragments, and a change re-renders only the shard it touched."""

from __future__ import annotations

import gzip
import json
import zlib

import httpx

from registry_index.domain.changes import Change, ChangeFeed
from registry_index.domain.model import ProjectIndex
from registry_index.domain.root_index import RootIndex, shard_of
from registry_index.simple import build, render
from registry_index.simple.negotiate import V1_JSON
from registry_index.simple.root_page import REBUILD_EVERY, RootPages
from registry_index.storage.memory import MemoryStorage

HTML = "text/html"


async def root_with(names: list[str], hidden: frozenset[str] = frozenset()) -> tuple[ChangeFeed, RootIndex]:
    storage = MemoryStorage()
    feed = ChangeFeed(storage)
    root = RootIndex(storage, feed, freshness=0.0)
    await root.ready()
    for n in names:
        change = Change(
            0, n, "update", name=n.upper(), listed=True, hidden=n in hidden, created="c", project_serial=1
        )
        await feed.append(change)
    return feed, root


def body_of(wire_chunks: tuple[bytes, ...]) -> bytes:
    return b"".join(wire_chunks)


async def test_the_sharded_page_lists_what_the_whole_page_render_lists() -> None:
    names = [f"pkg-{n}" for n in range(600)] + ["a&b", 'q"uote']
    _, root = await root_with(names, hidden=frozenset({"pkg-7"}))
    index, _ = await root.current()
    pages = RootPages()
    whole = ProjectIndex(dict(index.projects), index.hidden)

    html = pages.page(root, HTML, "/r").respond(None, None)
    expected_html = render.index_html(build.build_index(whole), "/r/simple/").decode()
    got_html = body_of(html.chunks).decode()
    assert sorted(got_html.splitlines()) == sorted(expected_html.splitlines())
    assert "/pkg-7/" not in got_html and "a&amp;b" in got_html

    js = pages.page(root, V1_JSON, "").respond(None, None)
    doc = json.loads(body_of(js.chunks))
    expected = json.loads(render.index_json(build.build_index(whole)))
    assert sorted(p["name"] for p in doc["projects"]) == sorted(p["name"] for p in expected["projects"])
    assert doc["meta"]["api-version"] == "1.4" and doc["meta"]["_last-serial"] == len(names)
    assert int(dict(js.headers)[b"content-length"]) == len(body_of(js.chunks))


async def test_the_gzip_body_is_one_valid_stream_for_every_decoder() -> None:
    _, root = await root_with([f"pkg-{n}" for n in range(3000)])
    page = RootPages().page(root, HTML, "")
    plain = body_of(page.respond(None, None).chunks)
    wire = page.respond("gzip", None)
    assert dict(wire.headers)[b"content-encoding"] == b"gzip"
    packed = body_of(wire.chunks)
    assert int(dict(wire.headers)[b"content-length"]) == len(packed)
    assert gzip.decompress(packed) == plain
    # Single-member decoders (httpx, and what reqwest does for uv) read it whole too.
    one = zlib.decompressobj(zlib.MAX_WBITS | 16)
    assert one.decompress(packed) == plain and one.eof and not one.unused_data
    assert httpx.Response(200, headers={"content-encoding": "gzip"}, content=packed).content == plain
    assert len(packed) < len(plain) / 3


async def test_a_change_re_renders_one_shard_and_waits_out_the_rebuild_interval() -> None:
    feed, root = await root_with([f"pkg-{n}" for n in range(2000)])
    now = [0.0]
    pages = RootPages(clock=lambda: now[0])
    first = pages.page(root, HTML, "")
    calls: list[int] = []
    original = root.segment

    def counting(shard: int) -> list[tuple[str, str]]:
        calls.append(shard)
        return original(shard)

    root.segment = counting  # type: ignore[method-assign]
    await feed.append(
        Change(0, "newcomer", "update", name="Newcomer", listed=True, created="c", project_serial=1)
    )
    assert pages.page(root, HTML, "") is first  # within REBUILD_EVERY: the built page still answers
    now[0] += REBUILD_EVERY
    second = pages.page(root, HTML, "")
    assert second is not first and second.etag != first.etag
    assert calls == [shard_of("newcomer")]
    assert b"Newcomer" in body_of(second.respond(None, None).chunks)
    assert pages.page(root, HTML, "") is second  # nothing new: the same page
    # A 304 for the ETag it gave.
    assert second.respond(None, second.etag).status == 304
