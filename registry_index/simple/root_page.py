"""/simple/ at PyPI's size: prepared per shard, and rebuilt only where the listing changed.

At 700,000 projects the root page is 44 MB of HTML (20 MB of JSON): rendering it whole took
2 s and gzipping it 0.8 s, in the event loop, after every new project. Here the page is the
root index's shards (``domain/root_index.py``) in shard order, each rendered and deflated on
its own and kept; a change re-renders the one shard it touched. The body goes out as the
list of kept fragments (never joined), and the gzip body is the same fragments' deflate
output: each is compressed with a full flush, which makes it independent of what precedes
it, so they concatenate into one valid deflate stream under one gzip header; only the
CRC-32 of the whole is computed per rebuild (16 ms for 44 MB).

A rebuild happens at most once per ``REBUILD_EVERY`` seconds: under a stream of new
projects the page can be that much behind the listing (it is already up to ``freshness``
behind another instance's), and its ETag names the version it shows.

Names are in normalized-name order within a shard, and shards in shard order: PEP 503 and
PEP 691 set no order for the root page, and pip and uv read it as a set.
"""

from __future__ import annotations

import hashlib
import json
import struct
import time
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from html import escape

from ..domain.model import RootSegments
from .build import API_VERSION
from .negotiate import V1_JSON, Format, accepts_gzip
from .wire import Wire, content_headers, matches, validators

REBUILD_EVERY = 1.0
_GZIP_HEADER = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"  # deflate, no name, mtime 0, unknown OS


def _deflate(raw: bytes) -> bytes:
    packer = zlib.compressobj(6, zlib.DEFLATED, -15)
    return packer.compress(raw) + packer.flush(zlib.Z_FULL_FLUSH)


_FINAL_BLOCK = zlib.compressobj(6, zlib.DEFLATED, -15).flush(zlib.Z_FINISH)  # an empty last block
_COMMA = (b",", _deflate(b","))


def html_fragment(names: Sequence[tuple[str, str]], prefix: str) -> bytes:
    return "".join(
        f'<a href="{prefix}{escape(n, quote=True)}/">{escape(display)}</a><br>\n' for n, display in names
    ).encode()


def json_fragment(names: Sequence[tuple[str, str]]) -> bytes:
    # One dumps for the shard, brackets cut: the items as index_json writes them.
    return json.dumps([{"name": display} for _, display in names], separators=(",", ":")).encode()[1:-1]


@dataclass(slots=True)
class _Fragment:
    version: int
    raw: bytes
    deflated: bytes


@dataclass(slots=True)
class RootPage:
    """One built version of the root page, answering like ``pages.Page``."""

    raw: list[bytes]
    deflated: list[bytes]
    etag: str
    media_type: str
    serial: int
    _wire: dict[tuple[bool, bool], Wire] = field(default_factory=dict)

    @property
    def body(self) -> bytes:
        return b"".join(self.raw)

    def respond(self, accept_encoding: str | None, if_none_match: str | None) -> Wire:
        gzip_wanted = accepts_gzip(accept_encoding)
        etag = self.etag[:-1] + '-gz"' if gzip_wanted else self.etag
        not_modified = matches(etag, if_none_match)
        key = (gzip_wanted, not_modified)
        wire = self._wire.get(key)
        if wire is None:
            wire = self._wire[key] = self._build(gzip_wanted, not_modified, etag)
        return wire

    def _build(self, gzip_wanted: bool, not_modified: bool, etag: str) -> Wire:
        headers = validators(etag, self.serial)
        if not_modified:
            return Wire(304, headers, b"")
        if gzip_wanted:
            crc, size = 0, 0
            for chunk in self.raw:
                crc = zlib.crc32(chunk, crc)
                size += len(chunk)
            trailer = struct.pack("<II", crc, size & 0xFFFFFFFF)
            chunks = (_GZIP_HEADER, *self.deflated, _FINAL_BLOCK, trailer)
        else:
            chunks = tuple(self.raw)
        length = sum(len(c) for c in chunks)
        headers += content_headers(self.media_type, length, gzip_wanted)
        return Wire(200, headers, b"", tuple(c for c in chunks if c))


class RootPages:
    """The root page per format and root path, kept per shard."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._fragments: dict[tuple[str, str], list[_Fragment | None]] = {}
        self._pages: dict[tuple[str, str], tuple[tuple[int, ...], float, RootPage]] = {}

    def page(self, segments: RootSegments, fmt: Format, root: str) -> RootPage:
        key = (fmt, root)
        versions = tuple(segments.versions())
        built = self._pages.get(key)
        if built is not None and (built[0] == versions or self._clock() - built[1] < REBUILD_EVERY):
            return built[2]
        page = self._build(segments, versions, fmt, root)
        self._pages[key] = (versions, self._clock(), page)
        return page

    def _build(self, segments: RootSegments, versions: tuple[int, ...], fmt: Format, root: str) -> RootPage:
        fragments = self._fragments.setdefault((fmt, root), [None] * len(versions))
        prefix = f"{root}/simple/"
        for i, version in enumerate(versions):
            held = fragments[i]
            if held is None or held.version != version:
                names = segments.segment(i)
                text = json_fragment(names) if fmt == V1_JSON else html_fragment(names, prefix)
                fragments[i] = _Fragment(version, text, _deflate(text) if text else b"")
        serial = max(versions, default=0)
        if fmt == V1_JSON:
            meta = json.dumps({"api-version": API_VERSION, "_last-serial": serial}, separators=(",", ":"))
            head, tail = f'{{"meta":{meta},"projects":['.encode(), b"]}"
        else:
            head = (
                f'<!DOCTYPE html>\n<html>\n<head>\n<meta name="pypi:repository-version" content="{API_VERSION}">\n'
                "<title>Simple index</title>\n</head>\n<body>\n"
            ).encode()
            tail = b"</body>\n</html>\n"
        raw, deflated = [head], [_deflate(head)]
        first = True
        for fragment in fragments:
            if fragment is None or not fragment.raw:
                continue
            if fmt == V1_JSON and not first:
                raw.append(_COMMA[0])
                deflated.append(_COMMA[1])
            raw.append(fragment.raw)
            deflated.append(fragment.deflated)
            first = False
        raw.append(tail)
        deflated.append(_deflate(tail))
        digest = hashlib.sha256(f"{fmt}\0{root}\0{versions}".encode()).hexdigest()[:32]
        return RootPage(raw, deflated, f'"{digest}"', fmt, serial)
