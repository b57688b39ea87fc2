"""Upstream Simple API pages (PEP 691 JSON, PEP 503 HTML) → immutable values (pure, no I/O).

Every upstream response is hostile input: a compromised or broken mirror must not be able to
make us crash, hang, point clients at ``javascript:`` URLs, or store a file under a path. So
each parser either returns a fully checked value or raises ``UpstreamPageError`` naming the
first problem; it never returns a half-read page, and never lets another exception out. Work
is linear in the body, which is capped before anything is decoded. Linear is not free: the
stdlib HTML parser reads about 1 MB a second at worst, so callers in the event loop should run
a large page in a thread.

What is kept is what docs/proxy notes §4.10 asks a faithful relay to keep: every hash, yank
state and reason, ``requires-python``, core-metadata (either key, PEP 714), ``size``,
``upload-time``, ``provenance``, and per project ``versions``, ``project-status`` and
``_last-serial``. Rendering is the hosted renderer's job; nothing here knows our routes.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from html.parser import HTMLParser
from typing import Any, Literal, NoReturn, TypeVar
from urllib.parse import unquote, urljoin, urlsplit, urlunsplit

from ..names import is_valid_name, normalize

JSON_TYPE = "application/vnd.pypi.simple.v1+json"
HTML_TYPES = ("application/vnd.pypi.simple.v1+html", "text/html")

DEFAULT_MAX_BYTES = 64 * 1024 * 1024
# PyPI's largest projects list tens of thousands of files; its root lists under a million names.
DEFAULT_MAX_FILES = 200_000
DEFAULT_MAX_PROJECTS = 2_000_000

# One path component on every file system we store on.
MAX_FILENAME_BYTES = 255
MAX_URL_CHARS = 8192
MAX_TEXT_CHARS = 65536  # reasons, specifiers, times: generous, but a bound

# Hex lengths of the hashlib names PEP 503 lists (and PyPI's blake2b_256); a hash of one of
# these names with another length is a lie, not a new algorithm.
HASH_HEX_LENGTHS = {
    "md5": 32,
    "sha1": 40,
    "sha224": 56,
    "sha256": 64,
    "sha384": 96,
    "sha512": 128,
    "blake2b_256": 64,
}
_HEX = frozenset("0123456789abcdef")
_HASH_NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789_")

# html.parser rescans an unterminated construct from every '<' at close(), which is quadratic
# on this Python (CPython gh-135462: 60 KB of "<a " takes a minute). So the body is fed in
# chunks, and no construct may stay unterminated for longer than _MAX_PENDING characters; the
# tail left at the end must be short enough for close() to be cheap. Real anchors are < 4 KiB.
_FEED_CHUNK = 64 * 1024
_MAX_PENDING = 256 * 1024
_MAX_CLOSE_PENDING = 1024

PageFormat = Literal["json", "html"]
_T = TypeVar("_T")


class UpstreamPageError(ValueError):
    """An upstream page that cannot be relayed faithfully; the message names the problem."""


@dataclass(frozen=True, slots=True)
class UpstreamFile:
    filename: str
    url: str  # absolute http(s), fragment removed
    hashes: dict[str, str]  # every hash upstream gave: lower-case name → lower-case hex
    requires_python: str | None = None  # PEP 503 data-requires-python / PEP 691 requires-python
    yanked: bool = False  # PEP 592
    yanked_reason: str = ""
    # PEP 658/714: False (none), True (exists, hash unknown) or the .metadata file's hashes.
    core_metadata: dict[str, str] | bool = False
    size: int | None = None  # PEP 700
    upload_time: str | None = None  # PEP 700, exactly as upstream wrote it
    provenance: str | None = None  # PEP 740, absolute http(s)


@dataclass(frozen=True, slots=True)
class UpstreamProject:
    name: str  # the display name upstream gives (JSON ``name``); HTML has none: expected_name
    normalized: str
    files: tuple[UpstreamFile, ...]
    versions: tuple[str, ...] | None = None  # PEP 700; None when upstream gave none (HTML, 1.0)
    status: str | None = None  # PEP 792 project-status.status, as given
    status_reason: str | None = None
    last_serial: int | None = None  # PyPI's meta._last-serial; HTML pages have none
    api_version: str = "1.0"  # PEP 629 / 691: "MAJOR.MINOR"; absent means 1.0
    format: PageFormat = "json"


# ---------------------------------------------------------------------------------------------
# Shared checks


def _fail(message: str) -> NoReturn:
    raise UpstreamPageError(message)


def _show(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _text(value: object, what: str, *, limit: int = MAX_TEXT_CHARS) -> str:
    """A string we can store and re-render: right type, bounded, encodable as UTF-8."""
    if not isinstance(value, str):
        _fail(f"{what} must be a string, not {type(value).__name__}")
    if len(value) > limit:
        _fail(f"{what} is {len(value)} characters; the limit is {limit}")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates from JSON "\ud800" escapes
        _fail(f"{what} is not valid Unicode: {_show(value)}")
    return value


def _check_size(body: bytes, max_bytes: int) -> None:
    if not isinstance(body, bytes | bytearray | memoryview):
        _fail(f"the body must be bytes, not {type(body).__name__}")
    if len(body) > max_bytes:
        _fail(f"the page is {len(body)} bytes; the limit is {max_bytes}")


def _media_type(content_type: str) -> tuple[str, dict[str, str]]:
    media, _, rest = (content_type or "").partition(";")
    params: dict[str, str] = {}
    for part in rest.split(";"):
        key, sep, value = part.partition("=")
        if sep:
            params.setdefault(key.strip().lower(), value.strip().strip('"'))
    return media.strip().lower(), params


def _format_of(content_type: str) -> tuple[PageFormat, dict[str, str]]:
    media, params = _media_type(content_type)
    if media == JSON_TYPE:
        return "json", params
    if media in HTML_TYPES:
        return "html", params
    if media.startswith("application/vnd.pypi.simple.v"):
        _fail(f"content type {_show(media)}: only major version 1 of the Simple API is understood")
    _fail(f"content type {_show(media)} is not a Simple API page")


def _api_version(value: object, what: str) -> str:
    """PEP 629: 'MAJOR.MINOR'; a bare major reads as .0, a higher minor is fine, major 2 is not."""
    text = _text(value, what, limit=32).strip()
    major, _, minor = text.partition(".")
    minor = minor or "0"
    if not (major.isascii() and major.isdigit() and minor.isascii() and minor.isdigit()):
        _fail(f"{what} {_show(text)} is not MAJOR.MINOR")
    if int(major) != 1:
        _fail(f"{what} {_show(text)}: only major version 1 of the Simple API is understood")
    return f"1.{int(minor)}"


def _absolute_url(value: object, base: str, what: str, *, keep_fragment: bool = False) -> str:
    """``value`` resolved against ``base`` (PEP 503: relative to the page); http(s) only."""
    raw = _text(value, what, limit=MAX_URL_CHARS)
    try:
        parts = urlsplit(urljoin(base, raw.strip()))
        host = parts.hostname
    except ValueError as exc:  # a bad IPv6 literal, for one
        _fail(f"{what} {_show(raw)} is not a URL: {exc}")
    if parts.scheme not in ("http", "https") or not host:
        _fail(f"{what} {_show(raw)} is not an absolute http(s) URL")
    if any(ord(c) < 33 or ord(c) == 127 for c in parts.netloc + parts.path + parts.query):
        _fail(f"{what} {_show(raw)} contains spaces or control characters")
    return urlunsplit(parts if keep_fragment else parts._replace(fragment=""))


def _filename(value: object, what: str) -> str:
    name = _text(value, what, limit=MAX_FILENAME_BYTES)
    if not name or name in (".", ".."):
        _fail(f"{what} is empty")
    if "/" in name or "\\" in name:
        _fail(f"{what} {_show(name)} contains a path separator")
    if any(ord(c) < 32 or ord(c) == 127 for c in name):
        _fail(f"{what} {_show(name)} contains control characters")
    if len(name.encode("utf-8")) > MAX_FILENAME_BYTES:
        _fail(f"{what} {_show(name)} is longer than {MAX_FILENAME_BYTES} bytes")
    return name


def _hash(name: object, value: object, what: str) -> tuple[str, str]:
    """One (algorithm, hex digest) pair, both lower-cased; a known algorithm's length is checked."""
    algo = _text(name, f"{what} name", limit=32).lower()
    if not algo or not set(algo) <= _HASH_NAME_CHARS:
        _fail(f"{what}: {_show(algo)} is not a hash algorithm name")
    digest = _text(value, f"{what} {algo}", limit=256).lower()
    if not digest or not set(digest) <= _HEX:
        _fail(f"{what} {algo}: {_show(digest)} is not a hex digest")
    expected = HASH_HEX_LENGTHS.get(algo)
    if expected is not None and len(digest) != expected:
        _fail(f"{what} {algo}: {len(digest)} hex digits, not {expected}")
    if expected is None and len(digest) % 2:
        _fail(f"{what} {algo}: an odd number of hex digits")
    return algo, digest


def _hashes(value: object, what: str) -> dict[str, str]:
    if not isinstance(value, dict):
        _fail(f"{what} must be an object, not {type(value).__name__}")
    out: dict[str, str] = {}
    for name, digest in value.items():
        algo, hexdigest = _hash(name, digest, what)
        if out.setdefault(algo, hexdigest) != hexdigest:
            _fail(f"{what} gives two different {algo} digests")
    return out


def _optional_text(value: object, what: str) -> str | None:
    """None, or a non-empty string; upstream's "" means the same as no value."""
    if value is None:
        return None
    return _text(value, what) or None


def _size(value: object, what: str, *, html: bool = False) -> int | None:
    if value is None:
        return None
    if html and isinstance(value, str):  # HTML attributes are strings; JSON must send a number
        if not (value.isascii() and value.isdigit() and len(value) <= 20):
            _fail(f"{what} {_show(value)} is not a byte count")
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool):
        _fail(f"{what} must be an integer, not {type(value).__name__}")
    if value < 0:
        _fail(f"{what} {value} is negative")
    return value


def _add_file(files: dict[str, UpstreamFile], entry: UpstreamFile, what: str) -> None:
    """Identical duplicates collapse; two different files under one name refuse the page.

    A filename is the key of our download route and of the cache, so it must name one file.
    Keeping either of two conflicting entries would let upstream's order silently decide
    which bytes a client gets (and which hash it is promised); an exact repeat is harmless.
    """
    seen = files.setdefault(entry.filename, entry)
    if seen != entry:
        _fail(f"{what}: {_show(entry.filename)} is listed twice with different details")


def _too_many(count: int, limit: int, what: str) -> NoReturn:
    _fail(f"the page lists {count} or more {what}; the limit is {limit}")


# ---------------------------------------------------------------------------------------------
# JSON (PEP 691)


def _reject_constant(name: str) -> NoReturn:
    _fail(f"the JSON contains {name}, which is not JSON")


def _load_json(body: bytes) -> dict[str, Any]:
    try:
        doc = json.loads(bytes(body).decode("utf-8-sig"), parse_constant=_reject_constant)
    except UpstreamPageError:
        raise
    except RecursionError:
        _fail("the JSON is nested too deeply")
    except ValueError as exc:  # also UnicodeDecodeError and over-long integers
        _fail(f"the page is not valid JSON: {exc}")
    if not isinstance(doc, dict):
        _fail(f"the JSON page must be an object, not {type(doc).__name__}")
    return doc


def _json_meta(doc: dict[str, Any]) -> tuple[str, int | None]:
    meta = doc.get("meta", {})
    if not isinstance(meta, dict):
        _fail(f"meta must be an object, not {type(meta).__name__}")
    version = _api_version(meta["api-version"], "meta.api-version") if "api-version" in meta else "1.0"
    serial = meta.get("_last-serial")  # PyPI's; "_" keys belong to the index (PEP 691)
    if serial is not None and (not isinstance(serial, int) or isinstance(serial, bool) or serial < 0):
        _fail(f"meta._last-serial {_show(serial)} is not a non-negative integer")
    return version, serial


def _json_core_metadata(value: object, what: str) -> dict[str, str] | bool:
    if value is None:
        return False
    if isinstance(value, bool):
        return value
    return _hashes(value, what) or True


def _json_file(item: object, page_url: str, what: str) -> UpstreamFile:
    if not isinstance(item, dict):
        _fail(f"{what} must be an object, not {type(item).__name__}")
    for key in ("filename", "url", "hashes"):  # PEP 691: all three MUST be there
        if key not in item:
            _fail(f"{what} has no {key!r}")
    filename = _filename(item["filename"], f"{what}.filename")
    what = f"{what} ({filename})"
    yanked = item.get("yanked", False)  # PEP 592 / 691: false, true or a reason
    if yanked is None:
        yanked = False
    if not isinstance(yanked, bool | str):
        _fail(f"{what}.yanked must be a boolean or a string, not {type(yanked).__name__}")
    reason = _text(yanked, f"{what}.yanked") if isinstance(yanked, str) else ""
    # PEP 714: read core-metadata, else the older dist-info-metadata; PyPI once also sent
    # data-dist-info-metadata in JSON, which uv still reads.
    for key in ("core-metadata", "dist-info-metadata", "data-dist-info-metadata"):
        if key in item:
            core_metadata = _json_core_metadata(item[key], f"{what}.{key}")
            break
    else:
        core_metadata = False
    upload_time = item.get("upload-time")  # PEP 700
    provenance = item.get("provenance")  # PEP 740
    return UpstreamFile(
        filename=filename,
        url=_absolute_url(item["url"], page_url, f"{what}.url"),
        hashes=_hashes(item["hashes"], f"{what}.hashes"),
        requires_python=_optional_text(item.get("requires-python"), f"{what}.requires-python"),
        yanked=bool(yanked),  # "" is falsy: not yanked, as pip reads it
        yanked_reason=reason,
        core_metadata=core_metadata,
        size=_size(item.get("size"), f"{what}.size"),
        upload_time=None if upload_time is None else _text(upload_time, f"{what}.upload-time", limit=64),
        provenance=None
        if provenance is None
        else _absolute_url(provenance, page_url, f"{what}.provenance", keep_fragment=True),
    )


def _json_project(body: bytes, page_url: str, expected: str, max_files: int) -> UpstreamProject:
    doc = _load_json(body)
    version, serial = _json_meta(doc)
    if "name" not in doc:
        _fail("the page has no 'name'")
    name = _text(doc["name"], "name", limit=256)
    if not is_valid_name(name) or normalize(name) != expected:
        _fail(f"the page is for {_show(name)}, not {_show(expected)}")
    raw_files = doc.get("files")
    if not isinstance(raw_files, list):
        _fail(f"files must be a list, not {type(raw_files).__name__}")
    if len(raw_files) > max_files:
        _too_many(len(raw_files), max_files, "files")
    files: dict[str, UpstreamFile] = {}
    for i, item in enumerate(raw_files):
        _add_file(files, _json_file(item, page_url, f"files[{i}]"), f"files[{i}]")
    versions = None
    if doc.get("versions") is not None:  # PEP 700, from api-version 1.1
        raw_versions = doc["versions"]
        if not isinstance(raw_versions, list):
            _fail(f"versions must be a list, not {type(raw_versions).__name__}")
        versions = tuple(
            dict.fromkeys(_text(v, f"versions[{i}]", limit=256) for i, v in enumerate(raw_versions))
        )
    status = reason = None
    raw_status = doc.get("project-status")  # PEP 792: top level, sub-keys status and reason
    if raw_status is not None:
        if not isinstance(raw_status, dict):
            _fail(f"project-status must be an object, not {type(raw_status).__name__}")
        status = _optional_text(raw_status.get("status"), "project-status.status")
        reason = _optional_text(raw_status.get("reason"), "project-status.reason")
    return UpstreamProject(
        name=name,
        normalized=expected,
        files=tuple(files.values()),
        versions=versions,
        status=status,
        status_reason=reason,
        last_serial=serial,
        api_version=version,
        format="json",
    )


def _json_index(body: bytes, max_projects: int) -> tuple[str, ...]:
    doc = _load_json(body)
    _json_meta(doc)
    projects = doc.get("projects")
    if not isinstance(projects, list):
        _fail(f"projects must be a list, not {type(projects).__name__}")
    if len(projects) > max_projects:
        _too_many(len(projects), max_projects, "projects")
    names: list[object] = []
    for i, item in enumerate(projects):
        if not isinstance(item, dict) or "name" not in item:
            _fail(f"projects[{i}] must be an object with a 'name'")
        names.append(item["name"])
    return _index_names(names, "projects")


def _index_names(names: Sequence[object], what: str) -> tuple[str, ...]:
    """Valid project names, first spelling of each normalized name kept (order is upstream's)."""
    out: dict[str, str] = {}
    for i, raw in enumerate(names):
        name = _text(raw, f"{what}[{i}]", limit=256).strip()
        if not is_valid_name(name):
            _fail(f"{what}[{i}] {_show(name)} is not a valid project name")
        out.setdefault(normalize(name), name)
    return tuple(out.values())


# ---------------------------------------------------------------------------------------------
# HTML (PEP 503, 629, 592, 658/714, 740, 792)


class _Collector(HTMLParser):
    """Anchors (attributes and text), the first <base href> and the pypi: meta tags."""

    def __init__(self, max_anchors: int, what: str) -> None:
        super().__init__(convert_charrefs=True)  # attribute values are always unescaped
        self.max_anchors = max_anchors
        self.what = what
        self.anchors: list[tuple[dict[str, str | None], list[str]]] = []
        self.base: str | None = None
        self.meta: dict[str, str | None] = {}
        self.api_version = "1.0"
        self._text: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in ("a", "base", "meta"):
            return
        found: dict[str, str | None] = {}
        for key, value in attrs:
            found.setdefault(key, value)  # HTML: the first of repeated attributes wins
        if tag == "a":
            self._text = None
            if "href" not in found:
                return
            if len(self.anchors) >= self.max_anchors:
                _too_many(len(self.anchors) + 1, self.max_anchors, self.what)
            self._text = []
            self.anchors.append((found, self._text))
        elif tag == "base":
            if self.base is None and found.get("href") is not None:
                self.base = found["href"]  # pip and pypi-simple honour the first <base>
        else:
            name = (found.get("name") or "").lower()
            if name.startswith("pypi:"):
                self.meta.setdefault(name, found.get("content"))

    def handle_endtag(self, tag: str) -> None:
        if tag == "a":
            self._text = None

    def handle_data(self, data: str) -> None:
        if self._text is not None:
            self._text.append(data)


def _parse_html(body: bytes, params: dict[str, str], max_anchors: int, what: str) -> _Collector:
    charset = params.get("charset") or "utf-8"
    try:
        text = bytes(body).decode(charset)
    except LookupError:
        _fail(f"charset {_show(charset)} is not a text encoding")
    except ValueError as exc:
        _fail(f"the page is not valid {charset}: {exc}")
    parser = _Collector(max_anchors, what)
    for start in range(0, len(text), _FEED_CHUNK):
        parser.feed(text[start : start + _FEED_CHUNK])
        if len(parser.rawdata) > _MAX_PENDING:
            _fail(f"the HTML has a tag, comment or script left open for over {_MAX_PENDING} characters")
    if len(parser.rawdata) > _MAX_CLOSE_PENDING:
        _fail("the HTML ends inside an unterminated tag, comment or script")
    parser.close()
    version = parser.meta.get("pypi:repository-version")  # PEP 629; absent means 1.0
    parser.api_version = "1.0" if version is None else _api_version(version, "pypi:repository-version")
    return parser


def _html_core_metadata(value: str | None, what: str) -> dict[str, str] | bool:
    """PEP 658: "true", or "<hashname>=<hex>" of the .metadata file; empty reads as absent."""
    if not value:
        return False
    if value.strip().lower() == "true":
        return True
    algo, sep, digest = value.strip().partition("=")
    if not sep:
        _fail(f"{what} {_show(value)} is neither 'true' nor '<hashname>=<hex>'")
    return dict([_hash(algo, digest, what)])


def _html_file(attrs: dict[str, str | None], base: str, what: str) -> UpstreamFile:
    href = attrs["href"]
    if href is None:
        _fail(f"{what} has an empty href")
    raw = _text(href, f"{what}.href", limit=MAX_URL_CHARS).strip()
    url = _absolute_url(raw, base, f"{what}.href")
    # pip and uv take the filename from the URL's last path segment, not from the anchor text.
    filename = _filename(unquote(urlsplit(url).path.rpartition("/")[2]), f"{what} filename")
    what = f"{what} ({filename})"
    hashes: dict[str, str] = {}
    for part in urlsplit(raw).fragment.split("&"):  # PEP 503: #<hashname>=<hexdigest>
        algo, sep, digest = part.partition("=")
        if sep and algo.lower() in HASH_HEX_LENGTHS:  # others (#egg=, #subdirectory=) are no hash
            name, hexdigest = _hash(algo, digest, f"{what} #fragment")
            if hashes.setdefault(name, hexdigest) != hexdigest:
                _fail(f"{what} #fragment gives two different {name} digests")
    core = attrs.get("data-core-metadata")  # PEP 714: the new name first
    if core is None:
        core = attrs.get("data-dist-info-metadata")  # PEP 658's original name
    provenance = attrs.get("data-provenance")  # PEP 740
    return UpstreamFile(
        filename=filename,
        url=url,
        hashes=hashes,
        requires_python=_optional_text(attrs.get("data-requires-python"), f"{what} data-requires-python"),
        yanked="data-yanked" in attrs,  # PEP 592: presence yanks, even data-yanked="false"
        yanked_reason=_text(attrs.get("data-yanked") or "", f"{what} data-yanked"),
        core_metadata=_html_core_metadata(core, f"{what} data-core-metadata"),
        # Not in PEP 503, but uv reads these two from HTML, so an upstream may send them.
        size=_size(attrs.get("data-size") or None, f"{what} data-size", html=True),
        upload_time=None
        if not attrs.get("data-upload-time")
        else _text(attrs["data-upload-time"], f"{what} data-upload-time", limit=64),
        provenance=None
        if not provenance
        else _absolute_url(provenance, base, f"{what} data-provenance", keep_fragment=True),
    )


def _html_project(
    body: bytes, params: dict[str, str], page_url: str, expected: str, expected_name: str, max_files: int
) -> UpstreamProject:
    parser = _parse_html(body, params, max_files, "files")
    base = page_url if parser.base is None else _absolute_url(parser.base, page_url, "<base href>")
    files: dict[str, UpstreamFile] = {}
    for i, (attrs, _) in enumerate(parser.anchors):
        _add_file(files, _html_file(attrs, base, f"anchor {i}"), f"anchor {i}")
    return UpstreamProject(
        name=expected_name,  # an HTML page names its project only in prose (<title>)
        normalized=expected,
        files=tuple(files.values()),
        versions=None,
        # PEP 792 meta tags
        status=_optional_text(parser.meta.get("pypi:project-status"), "pypi:project-status"),
        status_reason=_optional_text(
            parser.meta.get("pypi:project-status-reason"), "pypi:project-status-reason"
        ),
        last_serial=None,
        api_version=parser.api_version,
        format="html",
    )


def _html_index(body: bytes, params: dict[str, str], max_projects: int) -> tuple[str, ...]:
    parser = _parse_html(body, params, max_projects, "projects")
    return _index_names(["".join(text) for _, text in parser.anchors], "anchor")


# ---------------------------------------------------------------------------------------------
# Public API


def _guarded(parse: Callable[[], _T]) -> _T:
    """Anything but our own error escaping a parser is a bug; report it as a bad page anyway."""
    try:
        return parse()
    except UpstreamPageError:
        raise
    except (ValueError, TypeError, KeyError, IndexError, RecursionError) as exc:
        raise UpstreamPageError(f"the page cannot be read: {type(exc).__name__}: {exc}") from exc


def parse_project_page(
    body: bytes,
    content_type: str,
    page_url: str,
    expected_name: str,
    *,
    max_files: int = DEFAULT_MAX_FILES,
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> UpstreamProject:
    """An upstream project page, checked field by field; ``UpstreamPageError`` otherwise.

    ``page_url`` is the final URL the page came from (after redirects): relative links
    resolve against it, as pip and uv resolve them. A JSON page naming another project is
    refused, so a misrouted or malicious answer cannot fill another name's cache. An HTML
    page cannot be checked that way and takes ``expected_name`` as its name.
    """
    _check_size(body, max_bytes)
    page_format, params = _format_of(content_type)
    expected = normalize(expected_name)
    base = _absolute_url(page_url, page_url, "page_url")
    if page_format == "json":
        return _guarded(lambda: _json_project(body, base, expected, max_files))
    return _guarded(lambda: _html_project(body, params, base, expected, expected_name, max_files))


def parse_index_page(
    body: bytes,
    content_type: str,
    *,
    max_projects: int = DEFAULT_MAX_PROJECTS,
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> tuple[str, ...]:
    """The project names of an upstream root ``/simple/`` page, as upstream spells them.

    JSON gives ``projects[].name``, HTML the anchor texts (PEP 503). An invalid name refuses
    the page; repeats of one normalized name keep the first spelling.
    """
    _check_size(body, max_bytes)
    page_format, params = _format_of(content_type)
    if page_format == "json":
        return _guarded(lambda: _json_index(body, max_projects))
    return _guarded(lambda: _html_index(body, params, max_projects))
