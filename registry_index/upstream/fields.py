"""The values an upstream page is read into, its limits, and the field checks both formats
share (pure). ``page`` says what is kept and why."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, NoReturn
from urllib.parse import urljoin, urlsplit, urlunsplit

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
HEX = frozenset("0123456789abcdef")
HASH_NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789_")

# html.parser rescans an unterminated construct from every '<' at close(), which is quadratic
# on this Python (CPython gh-135462: 60 KB of "<a " takes a minute). So the body is fed in
# chunks, and no construct may stay unterminated for longer than MAX_PENDING characters; the
# tail left at the end must be short enough for close() to be cheap. Real anchors are < 4 KiB.
FEED_CHUNK = 64 * 1024
MAX_PENDING = 256 * 1024
MAX_CLOSE_PENDING = 1024

PageFormat = Literal["json", "html"]


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


def fail(message: str) -> NoReturn:
    raise UpstreamPageError(message)


def shown(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def checked_text(value: object, what: str, *, limit: int = MAX_TEXT_CHARS) -> str:
    """A string we can store and re-render: right type, bounded, encodable as UTF-8."""
    if not isinstance(value, str):
        fail(f"{what} must be a string, not {type(value).__name__}")
    if len(value) > limit:
        fail(f"{what} is {len(value)} characters; the limit is {limit}")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates from JSON "\ud800" escapes
        fail(f"{what} is not valid Unicode: {shown(value)}")
    return value


def check_size(body: bytes, max_bytes: int) -> None:
    if not isinstance(body, bytes | bytearray | memoryview):
        fail(f"the body must be bytes, not {type(body).__name__}")
    if len(body) > max_bytes:
        fail(f"the page is {len(body)} bytes; the limit is {max_bytes}")


def media_type_of(content_type: str) -> tuple[str, dict[str, str]]:
    media, _, rest = (content_type or "").partition(";")
    params: dict[str, str] = {}
    for part in rest.split(";"):
        key, sep, value = part.partition("=")
        if sep:
            params.setdefault(key.strip().lower(), value.strip().strip('"'))
    return media.strip().lower(), params


def format_of(content_type: str) -> tuple[PageFormat, dict[str, str]]:
    media, params = media_type_of(content_type)
    if media == JSON_TYPE:
        return "json", params
    if media in HTML_TYPES:
        return "html", params
    if media.startswith("application/vnd.pypi.simple.v"):
        fail(f"content type {shown(media)}: only major version 1 of the Simple API is understood")
    fail(f"content type {shown(media)} is not a Simple API page")


def checked_api_version(value: object, what: str) -> str:
    """PEP 629: 'MAJOR.MINOR'; a bare major reads as .0, a higher minor is fine, major 2 is not."""
    text = checked_text(value, what, limit=32).strip()
    major, _, minor = text.partition(".")
    minor = minor or "0"
    if not (major.isascii() and major.isdigit() and minor.isascii() and minor.isdigit()):
        fail(f"{what} {shown(text)} is not MAJOR.MINOR")
    if int(major) != 1:
        fail(f"{what} {shown(text)}: only major version 1 of the Simple API is understood")
    return f"1.{int(minor)}"


def absolute_url(value: object, base: str, what: str, *, keep_fragment: bool = False) -> str:
    """``value`` resolved against ``base`` (PEP 503: relative to the page); http(s) only."""
    raw = checked_text(value, what, limit=MAX_URL_CHARS)
    try:
        parts = urlsplit(urljoin(base, raw.strip()))
        host = parts.hostname
    except ValueError as exc:  # a bad IPv6 literal, for one
        fail(f"{what} {shown(raw)} is not a URL: {exc}")
    if parts.scheme not in ("http", "https") or not host:
        fail(f"{what} {shown(raw)} is not an absolute http(s) URL")
    if any(ord(c) < 33 or ord(c) == 127 for c in parts.netloc + parts.path + parts.query):
        fail(f"{what} {shown(raw)} contains spaces or control characters")
    return urlunsplit(parts if keep_fragment else parts._replace(fragment=""))


def checked_filename(value: object, what: str) -> str:
    name = checked_text(value, what, limit=MAX_FILENAME_BYTES)
    if not name or name in (".", ".."):
        fail(f"{what} is empty")
    if "/" in name or "\\" in name:
        fail(f"{what} {shown(name)} contains a path separator")
    if any(ord(c) < 32 or ord(c) == 127 for c in name):
        fail(f"{what} {shown(name)} contains control characters")
    if len(name.encode("utf-8")) > MAX_FILENAME_BYTES:
        fail(f"{what} {shown(name)} is longer than {MAX_FILENAME_BYTES} bytes")
    return name


def checked_hash(name: object, value: object, what: str) -> tuple[str, str]:
    """One (algorithm, hex digest) pair, both lower-cased; a known algorithm's length is checked."""
    algo = checked_text(name, f"{what} name", limit=32).lower()
    if not algo or not set(algo) <= HASH_NAME_CHARS:
        fail(f"{what}: {shown(algo)} is not a hash algorithm name")
    digest = checked_text(value, f"{what} {algo}", limit=256).lower()
    if not digest or not set(digest) <= HEX:
        fail(f"{what} {algo}: {shown(digest)} is not a hex digest")
    expected = HASH_HEX_LENGTHS.get(algo)
    if expected is not None and len(digest) != expected:
        fail(f"{what} {algo}: {len(digest)} hex digits, not {expected}")
    if expected is None and len(digest) % 2:
        fail(f"{what} {algo}: an odd number of hex digits")
    return algo, digest


def checked_hashes(value: object, what: str) -> dict[str, str]:
    if not isinstance(value, dict):
        fail(f"{what} must be an object, not {type(value).__name__}")
    out: dict[str, str] = {}
    for name, digest in value.items():
        algo, hexdigest = checked_hash(name, digest, what)
        if out.setdefault(algo, hexdigest) != hexdigest:
            fail(f"{what} gives two different {algo} digests")
    return out


def optional_text(value: object, what: str) -> str | None:
    """None, or a non-empty string; upstream's "" means the same as no value."""
    if value is None:
        return None
    return checked_text(value, what) or None


def checked_size(value: object, what: str, *, html: bool = False) -> int | None:
    if value is None:
        return None
    if html and isinstance(value, str):  # HTML attributes are strings; JSON must send a number
        if not (value.isascii() and value.isdigit() and len(value) <= 20):
            fail(f"{what} {shown(value)} is not a byte count")
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool):
        fail(f"{what} must be an integer, not {type(value).__name__}")
    if value < 0:
        fail(f"{what} {value} is negative")
    return value


def add_file(files: dict[str, UpstreamFile], entry: UpstreamFile, what: str) -> None:
    """Identical duplicates collapse; two different files under one name refuse the page.

    A filename is the key of our download route and of the cache, so it must name one file.
    Keeping either of two conflicting entries would let upstream's order silently decide
    which bytes a client gets (and which hash it is promised); an exact repeat is harmless.
    """
    seen = files.setdefault(entry.filename, entry)
    if seen != entry:
        fail(f"{what}: {shown(entry.filename)} is listed twice with different details")


def too_many(count: int, limit: int, what: str) -> NoReturn:
    fail(f"the page lists {count} or more {what}; the limit is {limit}")
