"""The legacy upload form (twine, uv publish), parsed as it streams in.

The file part goes to a temporary file while three digests are computed, and the size
limit is enforced as bytes arrive, so nothing holds a whole file in memory and an
over-limit upload is refused before it is read to the end.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from anyio import to_thread
from python_multipart.exceptions import FormParserError
from python_multipart.multipart import MultipartParser, parse_options_header

from ..errors import InvalidRequest, InvalidUpload
from ..upload.validate import Digests

FILE_FIELDS = ("content", "gpg_signature")
MAX_FIELDS_BYTES = 8 * 1024 * 1024  # all text fields together (descriptions can be long)


@dataclass(slots=True)
class UploadForm:
    fields: dict[str, list[str]] = field(default_factory=dict)
    filename: str | None = None
    path: Path | None = None
    size: int = 0
    digests: Digests | None = None

    def cleanup(self) -> None:
        if self.path is not None:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.path)
            self.path = None


def human_size(size: int) -> str:
    for unit, factor in (("GiB", 1024**3), ("MiB", 1024**2), ("KiB", 1024)):
        if size >= factor:
            return f"{size / factor:.4g} {unit}"
    return f"{size} bytes"


class _Hasher:
    def __init__(self, fh: IO[bytes]) -> None:
        self.fh = fh
        self.sha256 = hashlib.sha256()
        self.md5 = hashlib.md5(usedforsecurity=False)
        self.blake2 = hashlib.blake2b(digest_size=32)

    def write(self, chunks: list[bytes]) -> None:
        for chunk in chunks:
            self.fh.write(chunk)
            self.sha256.update(chunk)
            self.md5.update(chunk)
            self.blake2.update(chunk)

    def digests(self) -> Digests:
        return Digests(self.sha256.hexdigest(), self.md5.hexdigest(), self.blake2.hexdigest())


class _Collector:
    """python-multipart callbacks: text fields into memory, the file part into a buffer list."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.form = UploadForm()
        self.pending: list[bytes] = []  # file bytes not yet written, flushed off the loop
        self._headers: dict[bytes, bytes] = {}
        self._header_field = b""
        self._header_value = b""
        self._name = ""
        self._is_file = False
        self._discard = False
        self._value = bytearray()
        self._text_bytes = 0
        self.error: str | None = None
        self.complete = False

    def on_part_begin(self) -> None:
        self._headers = {}
        self._value = bytearray()

    def on_header_field(self, data: bytes, start: int, end: int) -> None:
        self._header_field += data[start:end]

    def on_header_value(self, data: bytes, start: int, end: int) -> None:
        self._header_value += data[start:end]

    def on_header_end(self) -> None:
        self._headers[self._header_field.lower()] = self._header_value
        self._header_field = b""
        self._header_value = b""

    def on_headers_finished(self) -> None:
        disposition = self._headers.get(b"content-disposition", b"")
        if b"\\" in disposition:
            # python-multipart keeps only the tail of a Windows path (an old IE workaround),
            # which would hide a path in the filename from our own check.
            self.error = "Invalid filename: '/', '\\' and '..' are not allowed."
            return
        try:
            _, params = parse_options_header(disposition)
        except ValueError:
            self.error = "A multipart part has a malformed Content-Disposition header."
            return
        self._name = params.get(b"name", b"").decode("utf-8", "replace")
        filename = params.get(b"filename")
        self._is_file = filename is not None
        self._discard = False
        if self._is_file and self._name not in FILE_FIELDS:
            self.error = f"{self._name}: Should not be a file (only content is)."
        elif self._is_file and self._name == "gpg_signature":
            self._discard = True  # signatures are not served (PyPI dropped them too)
        elif self._is_file and self._name == "content":
            if self.form.filename is not None:
                self.error = "Send exactly one file in the 'content' field."
            assert filename is not None
            self.form.filename = filename.decode("utf-8", "replace")

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        if self._discard or self.error:
            return
        if self._is_file:
            self.form.size += end - start
            if self.form.size > self.limit:
                self.error = (
                    f"File too large. The limit of this index is {human_size(self.limit)} "
                    f"({self.limit} bytes); ask the operator to raise --max-upload-size."
                )
                return
            self.pending.append(bytes(data[start:end]))
        else:
            self._text_bytes += end - start
            if self._text_bytes > MAX_FIELDS_BYTES:
                self.error = "The form's text fields are too large."
                return
            self._value += data[start:end]

    def on_end(self) -> None:
        self.complete = True

    def on_part_end(self) -> None:
        if not self._is_file and self._name:
            text = self._value.decode("utf-8", "replace")
            self.form.fields.setdefault(self._name, []).append(text)


def _boundary(content_type: str | None) -> bytes:
    try:
        kind, params = parse_options_header(content_type)
    except ValueError:
        kind, params = b"", {}
    if kind != b"multipart/form-data" or b"boundary" not in params:
        raise InvalidRequest("Uploads must be multipart/form-data, as twine and uv publish send them.")
    return params[b"boundary"]


async def parse_upload(
    content_type: str | None, body: AsyncIterator[bytes], limit: int, tmp_dir: Path | None = None
) -> UploadForm:
    collector = _Collector(limit)
    callbacks = {
        name: getattr(collector, name)
        for name in (
            "on_part_begin",
            "on_header_field",
            "on_header_value",
            "on_header_end",
            "on_headers_finished",
            "on_part_data",
            "on_part_end",
            "on_end",
        )
    }
    try:
        parser = MultipartParser(_boundary(content_type), callbacks)  # type: ignore[arg-type]
    except FormParserError as exc:
        raise InvalidRequest(f"Invalid multipart/form-data Content-Type: {exc}") from None
    fd, name = tempfile.mkstemp(prefix="upload-", dir=tmp_dir)
    collector.form.path = Path(name)
    try:
        with os.fdopen(fd, "wb") as fh:
            hasher = _Hasher(fh)
            try:
                async for chunk in body:
                    parser.write(chunk)
                    if collector.error:
                        raise InvalidUpload([collector.error])
                    if collector.pending:
                        batch, collector.pending = collector.pending, []
                        await to_thread.run_sync(hasher.write, batch)
                parser.finalize()
            except FormParserError as exc:
                # python-multipart's limits (a part header of 4 KiB, 8 headers) and framing.
                raise InvalidUpload(
                    [
                        f"The multipart body is malformed: {str(exc)[:200]} (is a filename or field name too long?)."
                    ]
                ) from None
            if collector.error:
                raise InvalidUpload([collector.error])
            if not collector.complete:
                raise InvalidUpload(
                    ["The upload ended before its closing multipart boundary: it was cut off; retry."]
                )
        if collector.form.filename is not None:
            collector.form.digests = hasher.digests()
        return collector.form
    except BaseException:
        collector.form.cleanup()
        raise
