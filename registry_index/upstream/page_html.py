"""PEP 503 HTML pages read as hostile input, with the standard library's parser (pure)."""

from __future__ import annotations

from html.parser import HTMLParser
from urllib.parse import unquote, urlsplit

from .fields import (
    FEED_CHUNK,
    HASH_HEX_LENGTHS,
    MAX_CLOSE_PENDING,
    MAX_PENDING,
    MAX_URL_CHARS,
    UpstreamFile,
    UpstreamProject,
    absolute_url,
    add_file,
    checked_api_version,
    checked_filename,
    checked_hash,
    checked_size,
    checked_text,
    fail,
    optional_text,
    shown,
    too_many,
)
from .page_json import (
    index_names,
)

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
                too_many(len(self.anchors) + 1, self.max_anchors, self.what)
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
        fail(f"charset {shown(charset)} is not a text encoding")
    except ValueError as exc:
        fail(f"the page is not valid {charset}: {exc}")
    parser = _Collector(max_anchors, what)
    for start in range(0, len(text), FEED_CHUNK):
        parser.feed(text[start : start + FEED_CHUNK])
        if len(parser.rawdata) > MAX_PENDING:
            fail(f"the HTML has a tag, comment or script left open for over {MAX_PENDING} characters")
    if len(parser.rawdata) > MAX_CLOSE_PENDING:
        fail("the HTML ends inside an unterminated tag, comment or script")
    parser.close()
    version = parser.meta.get("pypi:repository-version")  # PEP 629; absent means 1.0
    parser.api_version = "1.0" if version is None else checked_api_version(version, "pypi:repository-version")
    return parser


def _html_core_metadata(value: str | None, what: str) -> dict[str, str] | bool:
    """PEP 658: "true", or "<hashname>=<hex>" of the .metadata file; empty reads as absent."""
    if not value:
        return False
    if value.strip().lower() == "true":
        return True
    algo, sep, digest = value.strip().partition("=")
    if not sep:
        fail(f"{what} {shown(value)} is neither 'true' nor '<hashname>=<hex>'")
    return dict([checked_hash(algo, digest, what)])


def _html_file(attrs: dict[str, str | None], base: str, what: str) -> UpstreamFile:
    href = attrs["href"]
    if href is None:
        fail(f"{what} has an empty href")
    raw = checked_text(href, f"{what}.href", limit=MAX_URL_CHARS).strip()
    url = absolute_url(raw, base, f"{what}.href")
    # pip and uv take the filename from the URL's last path segment, not from the anchor text.
    filename = checked_filename(unquote(urlsplit(url).path.rpartition("/")[2]), f"{what} filename")
    what = f"{what} ({filename})"
    hashes: dict[str, str] = {}
    for part in urlsplit(raw).fragment.split("&"):  # PEP 503: #<hashname>=<hexdigest>
        algo, sep, digest = part.partition("=")
        if sep and algo.lower() in HASH_HEX_LENGTHS:  # others (#egg=, #subdirectory=) are no hash
            name, hexdigest = checked_hash(algo, digest, f"{what} #fragment")
            if hashes.setdefault(name, hexdigest) != hexdigest:
                fail(f"{what} #fragment gives two different {name} digests")
    core = attrs.get("data-core-metadata")  # PEP 714: the new name first
    if core is None:
        core = attrs.get("data-dist-info-metadata")  # PEP 658's original name
    provenance = attrs.get("data-provenance")  # PEP 740
    return UpstreamFile(
        filename=filename,
        url=url,
        hashes=hashes,
        requires_python=optional_text(attrs.get("data-requires-python"), f"{what} data-requires-python"),
        yanked="data-yanked" in attrs,  # PEP 592: presence yanks, even data-yanked="false"
        yanked_reason=checked_text(attrs.get("data-yanked") or "", f"{what} data-yanked"),
        core_metadata=_html_core_metadata(core, f"{what} data-core-metadata"),
        # Not in PEP 503, but uv reads these two from HTML, so an upstream may send them.
        size=checked_size(attrs.get("data-size") or None, f"{what} data-size", html=True),
        upload_time=None
        if not attrs.get("data-upload-time")
        else checked_text(attrs["data-upload-time"], f"{what} data-upload-time", limit=64),
        provenance=None
        if not provenance
        else absolute_url(provenance, base, f"{what} data-provenance", keep_fragment=True),
    )


def html_project(
    body: bytes, params: dict[str, str], page_url: str, expected: str, expected_name: str, max_files: int
) -> UpstreamProject:
    parser = _parse_html(body, params, max_files, "files")
    base = page_url if parser.base is None else absolute_url(parser.base, page_url, "<base href>")
    files: dict[str, UpstreamFile] = {}
    for i, (attrs, _) in enumerate(parser.anchors):
        add_file(files, _html_file(attrs, base, f"anchor {i}"), f"anchor {i}")
    return UpstreamProject(
        name=expected_name,  # an HTML page names its project only in prose (<title>)
        normalized=expected,
        files=tuple(files.values()),
        versions=None,
        # PEP 792 meta tags
        status=optional_text(parser.meta.get("pypi:project-status"), "pypi:project-status"),
        status_reason=optional_text(
            parser.meta.get("pypi:project-status-reason"), "pypi:project-status-reason"
        ),
        last_serial=None,
        api_version=parser.api_version,
        format="html",
    )


def html_index(body: bytes, params: dict[str, str], max_projects: int) -> tuple[str, ...]:
    parser = _parse_html(body, params, max_projects, "projects")
    return index_names(["".join(text) for _, text in parser.anchors], "anchor")
