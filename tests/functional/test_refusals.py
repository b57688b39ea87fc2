"""Every bad upload is refused with a clear 4xx message, and the store gains nothing.

Uploads are sent as twine and uv send them: a multipart POST to the legacy endpoint. A few
cases also go through real ``twine upload --verbose`` (and ``uv publish``) to show that the
client reports the server's message.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import re
import secrets
import subprocess
import zipfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from registry_index.testing import WheelSpec, build_sdist, build_wheel, metadata_text
from tests.conftest import BIN, Account, Index
from tests.support.clients import client_env
from tests.support.servers import cli, run_server

TIMEOUT = 30.0
JSON_SIMPLE = "application/vnd.pypi.simple.v1+json"

# A form value of None removes the field.
Overrides = Mapping[str, str | None]


# -- the upload helper ----------------------------------------------------------------------


def correct_form(filename: str, data: bytes) -> dict[str, str]:
    """The form twine sends for ``filename`` with content ``data``."""
    if filename.endswith(".whl"):
        parts = filename.removesuffix(".whl").split("-")
        filetype, pyversion = "bdist_wheel", parts[-3] if len(parts) >= 5 else "py3"
    else:
        parts = filename.removesuffix(".tar.gz").split("-")
        filetype, pyversion = "sdist", "source"
    return {
        ":action": "file_upload",
        "protocol_version": "1",
        "name": parts[0],
        "version": parts[1] if len(parts) > 1 else "1.0",
        "filetype": filetype,
        "pyversion": pyversion,
        "metadata_version": "2.1",
        "summary": "A test package",
        "sha256_digest": hashlib.sha256(data).hexdigest(),
        "blake2_256_digest": hashlib.blake2b(data, digest_size=32).hexdigest(),
    }


def post_upload(
    url: str,
    data: bytes,
    filename: str,
    *,
    auth: tuple[str, str] | None,
    form: Overrides | None = None,
    send_file: bool = True,
    headers: Mapping[str, str] | None = None,
) -> httpx.Response:
    """POST ``data`` as ``filename`` with the correct form, changed by ``form``."""
    fields: dict[str, str] = correct_form(filename, data)
    for key, value in (form or {}).items():
        if value is None:
            fields.pop(key, None)
        else:
            fields[key] = value
    # Every field as a multipart part (as twine and uv send them), the file last.
    parts: list[tuple[str, tuple[str | None, bytes, str | None]]] = [
        (key, (None, value.encode(), None)) for key, value in fields.items()
    ]
    if send_file:
        parts.append(("content", (filename, data, "application/octet-stream")))
    return httpx.post(url, files=parts, auth=auth, headers=headers, timeout=TIMEOUT)


def upload(
    index: Index,
    path: Path | None = None,
    *,
    data: bytes | None = None,
    filename: str | None = None,
    account: Account | None = None,
    auth: tuple[str, str] | bool | None = True,
    form: Overrides | None = None,
    send_file: bool = True,
    headers: Mapping[str, str] | None = None,
) -> httpx.Response:
    """Upload a built file (or raw ``data`` as ``filename``) the way twine does."""
    if path is not None:
        data = path.read_bytes() if data is None else data
        filename = filename or path.name
    assert data is not None and filename is not None
    acct = account or index.owner
    credentials: tuple[str, str] | None
    if auth is True:
        credentials = (acct.name, acct.password)
    elif auth is False:
        credentials = None
    else:
        credentials = auth
    return post_upload(
        index.upload, data, filename, auth=credentials, form=form, send_file=send_file, headers=headers
    )


def twine_verbose(
    index: Index, *files: Path, account: Account | None = None, url: str | None = None, password: str = ""
) -> subprocess.CompletedProcess[str]:
    acct = account or index.owner
    return index.run(
        BIN / "twine", "upload", "--verbose", "--disable-progress-bar", "--non-interactive",
        "--repository-url", url or index.upload, "-u", acct.name, "-p", password or acct.password,
        *files, check=False, timeout=120,
    )  # fmt: skip


# -- what "nothing stored" means ------------------------------------------------------------


def store_snapshot(index: Index) -> dict[str, bytes]:
    """Every object in the store with its bytes (lock files are bookkeeping, not content)."""
    return index.objects()


def dir_snapshot(storage: str) -> dict[str, bytes]:
    """A local store's objects, for tests that run their own local server."""
    root = Path(storage)
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and ".locks" not in p.relative_to(root).parts
    }


def files_under(snapshot: Mapping[str, bytes]) -> set[str]:
    return {key for key in snapshot if key.startswith("files/")}


def simple_json(index: Index, path: str = "") -> httpx.Response:
    return httpx.get(index.simple + path, headers={"Accept": JSON_SIMPLE}, timeout=TIMEOUT)


def listed_projects(index: Index) -> set[str]:
    resp = simple_json(index)
    assert resp.status_code == 200, resp.text
    return {p["name"] for p in resp.json()["projects"]}


@dataclass
class Guard:
    """Store state before a refused upload, to prove afterwards that nothing changed."""

    index: Index
    projects: tuple[str, ...]
    before: dict[str, bytes]
    pages: dict[str, tuple[int, str]]

    def assert_unchanged(self) -> None:
        after = store_snapshot(self.index)
        new_files = files_under(after) - files_under(self.before)
        assert not new_files, f"refused upload left objects under files/: {sorted(new_files)}"
        for name in self.projects:
            key = f"projects/{name}.json"
            assert after.get(key) == self.before.get(key), f"sidecar {key} was created or changed"
        leftovers = sorted(k for k in set(after) - set(self.before) if k.startswith(".tmp/"))
        assert not leftovers, f"refused upload left temporary files in the store: {leftovers}"
        # A refusal is audited; nothing else may change.
        changed = sorted(
            k
            for k in set(after) | set(self.before)
            if after.get(k) != self.before.get(k) and not k.startswith("audit/")
        )
        assert not changed, f"refused upload changed the store: {changed}"
        listed = listed_projects(self.index)
        for name in self.projects:
            resp = simple_json(self.index, f"{name}/")
            if self.pages[name][0] == 404:
                assert name not in listed, f"{name} appeared in /simple/"
                assert resp.status_code == 404, f"/simple/{name}/ answers {resp.status_code}"
            else:
                assert resp.status_code == 200
                assert _filenames(resp) == self.pages[name][1], f"/simple/{name}/ changed"


def _filenames(resp: httpx.Response) -> str:
    return json.dumps(sorted(f["filename"] for f in resp.json()["files"]))


@contextlib.contextmanager
def nothing_stored(index: Index, *projects: str) -> Iterator[Guard]:
    pages: dict[str, tuple[int, str]] = {}
    for name in projects:
        resp = simple_json(index, f"{name}/")
        pages[name] = (resp.status_code, _filenames(resp) if resp.status_code == 200 else "")
    guard = Guard(index, projects, store_snapshot(index), pages)
    yield guard
    guard.assert_unchanged()


def assert_refused(resp: httpx.Response, status: int, *needles: str, lines: int | None = 1) -> list[str]:
    """The status, every needle in the body (case-insensitive), and a body of ``lines`` lines."""
    body = resp.text
    assert resp.status_code == status, f"expected {status}, got {resp.status_code}: {body!r}"
    for needle in needles:
        assert needle.lower() in body.lower(), f"{needle!r} not in the message {body!r}"
    text = body.strip()
    assert text, "the refusal has an empty body"
    got = text.splitlines()
    if lines is not None:
        assert len(got) == lines, f"expected a message of {lines} line(s), got {got!r}"
    return got


def wheel(tmp_path: Path, name: str, version: str = "1.0", **kwargs: object) -> Path:
    return build_wheel(tmp_path, WheelSpec(name, version, **kwargs))  # type: ignore[arg-type]


def zip_bytes(members: Mapping[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


def test_guard_notices_a_stored_upload(index: Index, tmp_path: Path) -> None:
    """The control for every test below: nothing_stored fails when an upload is stored."""
    path = wheel(tmp_path, "guard-control")
    with (
        pytest.raises(AssertionError, match=r"files/|sidecar|changed"),
        nothing_stored(index, "guard-control"),
    ):
        assert upload(index, path).status_code == 200


# -- the archive itself ---------------------------------------------------------------------


def test_wheel_that_is_not_a_zip(index: Index) -> None:
    with nothing_stored(index, "notzip"):
        resp = upload(index, data=b"this is not a zip archive\n" * 20, filename="notzip-1.0-py3-none-any.whl")
        assert_refused(resp, 400, "notzip-1.0-py3-none-any.whl", "not a zip")


def test_wheel_without_metadata(index: Index, tmp_path: Path) -> None:
    path = wheel(tmp_path, "nometa", include_metadata=False)
    with nothing_stored(index, "nometa"):
        assert_refused(upload(index, path), 400, "METADATA", "nometa-1.0.dist-info/METADATA")


def test_wheel_metadata_name_disagrees_with_filename(index: Index, tmp_path: Path) -> None:
    path = wheel(tmp_path, "metaname", metadata=metadata_text("someone-else", "1.0"))
    with nothing_stored(index, "metaname", "someone-else"):
        assert_refused(upload(index, path), 400, "someone-else", "metaname")


def test_wheel_metadata_version_disagrees_with_filename(index: Index, tmp_path: Path) -> None:
    path = wheel(tmp_path, "metaversion", metadata=metadata_text("metaversion", "2.0"))
    with nothing_stored(index, "metaversion"):
        # The form agrees with the filename (1.0); only the archive's METADATA says 2.0. Both the
        # filename and the form disagree with it, so the message may have two lines.
        lines = assert_refused(upload(index, path), 400, "2.0", "1.0", lines=None)
        assert 1 <= len(lines) <= 2
        assert any("metadata" in line.lower() for line in lines)


def test_sdist_pkg_info_name_disagrees_with_filename(index: Index, tmp_path: Path) -> None:
    path = build_sdist(tmp_path, "sdistname", "1.0", pkg_info=metadata_text("another-name", "1.0"))
    with nothing_stored(index, "sdistname", "another-name"):
        assert_refused(upload(index, path), 400, "another-name", "sdistname")


# -- digests --------------------------------------------------------------------------------


def test_sha256_mismatch(index: Index, tmp_path: Path) -> None:
    path = wheel(tmp_path, "badsha")
    with nothing_stored(index, "badsha"):
        resp = upload(index, path, form={"sha256_digest": hashlib.sha256(b"other").hexdigest()})
        assert_refused(resp, 400, "sha256_digest", "does not match")


def test_blake2_mismatch(index: Index, tmp_path: Path) -> None:
    path = wheel(tmp_path, "badblake")
    with nothing_stored(index, "badblake"):
        resp = upload(index, path, form={"blake2_256_digest": "0" * 64})
        assert_refused(resp, 400, "blake2_256_digest", "does not match")


def test_content_changed_in_transit(index: Index, tmp_path: Path) -> None:
    """Digests computed for the real wheel, but a corrupted copy arrives."""
    path = wheel(tmp_path, "intransit")
    good = path.read_bytes()
    bad = good[:-10] + bytes(10)
    form = correct_form(path.name, good)
    with nothing_stored(index, "intransit"):
        resp = upload(index, path, data=bad, form=form)
        lines = assert_refused(resp, 400, "sha256_digest", "blake2_256_digest", lines=None)
        assert sum("does not match" in line for line in lines) == 2


# -- filenames ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("project", "filename"),
    [
        ("pathy-a", "../pathy_a-1.0-py3-none-any.whl"),
        ("pathy-b", "sub/pathy_b-1.0-py3-none-any.whl"),
        ("pathy-c", "/tmp/pathy_c-1.0-py3-none-any.whl"),
        ("pathy-d", "..\\pathy_d-1.0-py3-none-any.whl"),
        ("pathy-e", "sub\\pathy_e-1.0-py3-none-any.whl"),
        ("pathy-f", "pathy_f-1.0-py3-none-any..whl"),
        # Windows paths: python-multipart's "IE6 fix" cuts these to their last component
        # when it parses the Content-Disposition header, so the server must look further.
        ("pathy-g", "C:\\Users\\me\\pathy_g-1.0-py3-none-any.whl"),
        ("pathy-h", "\\\\server\\share\\pathy_h-1.0-py3-none-any.whl"),
    ],
    ids=[
        "dotdot-slash",
        "slash",
        "absolute",
        "dotdot-backslash",
        "backslash",
        "dotdot",
        "windows-drive",
        "unc",
    ],
)
def test_filename_with_path_characters(index: Index, tmp_path: Path, project: str, filename: str) -> None:
    data = wheel(tmp_path, project).read_bytes()
    with nothing_stored(index, project) as guard:
        resp = upload(index, data=data, filename=filename, form={"name": project, "version": "1.0"})
        gained = sorted(files_under(store_snapshot(index)) - files_under(guard.before))
        assert resp.status_code == 400, f"{filename!r} got {resp.status_code}; the store gained {gained}"
        assert_refused(resp, 400, "not allowed")


def test_filename_with_control_character(index: Index, tmp_path: Path) -> None:
    """httpx percent-escapes control characters in filenames, so this body is written by hand."""
    data = wheel(tmp_path, "ctl-char").read_bytes()
    form = correct_form("ctl_char-1.0-py3-none-any.whl", data)
    body = b"".join(
        b'--B\r\nContent-Disposition: form-data; name="%s"\r\n\r\n%s\r\n' % (k.encode(), v.encode())
        for k, v in form.items()
    )
    body += (
        b'--B\r\nContent-Disposition: form-data; name="content"; filename="ctl_char\x01-1.0-py3-none-any.whl"'
        b"\r\nContent-Type: application/octet-stream\r\n\r\n" + data + b"\r\n--B--\r\n"
    )
    with nothing_stored(index, "ctl-char"):
        resp = httpx.post(
            index.upload,
            content=body,
            headers={"Content-Type": "multipart/form-data; boundary=B"},
            auth=(index.owner.name, index.owner.password),
            timeout=TIMEOUT,
        )
        assert_refused(resp, 400, "control characters")


def test_filename_name_disagrees_with_form(index: Index, tmp_path: Path) -> None:
    path = wheel(tmp_path, "alpha-name")
    with nothing_stored(index, "alpha-name", "beta-name"):
        assert_refused(upload(index, path, form={"name": "beta-name"}), 400, "alpha-name", "beta-name")


def test_filename_version_disagrees_with_form(index: Index, tmp_path: Path) -> None:
    path = wheel(tmp_path, "formversion", "1.0")
    with nothing_stored(index, "formversion"):
        resp = upload(index, path, form={"version": "2.0"})
        lines = assert_refused(resp, 400, "2.0", "1.0", lines=None)
        assert any("filename" in line.lower() for line in lines)


@pytest.mark.parametrize(
    ("name", "suffix", "filetype"),
    [
        ("ext-exe", "-1.0-py3-none-any.exe", "bdist_wheel"),
        ("ext-egg", "-1.0-py3.6.egg", "bdist_egg"),
        ("ext-bz2", "-1.0.tar.bz2", "sdist"),
        ("ext-tar", "-1.0.tar", "sdist"),
        ("ext-rpm", "-1.0.rpm", "bdist_rpm"),
    ],
    ids=["exe", "egg", "tar.bz2", "tar", "rpm"],
)
def test_unknown_extension(index: Index, name: str, suffix: str, filetype: str) -> None:
    filename = name.replace("-", "_") + suffix
    data = zip_bytes({"x.txt": b"x"})
    form = {"name": name, "version": "1.0", "filetype": filetype}
    with nothing_stored(index, name):
        resp = upload(index, data=data, filename=filename, form=form)
        lines = assert_refused(resp, 400, "extension", lines=None)
        assert any("extension" in line.lower() for line in lines)
        if filetype in ("sdist", "bdist_wheel"):
            assert len(lines) == 1, lines


@pytest.mark.parametrize(
    "filename",
    [
        "badwheel-1.0.whl",
        "badwheel-1.0-py3-none.whl",
        "badwheel-not.a.version-py3-none-any.whl",
        "badwheel-1.0-py3-none-any-extra-part.whl",
        ".whl",
    ],
)
def test_malformed_wheel_filename(index: Index, filename: str) -> None:
    data = zip_bytes({"badwheel-1.0.dist-info/METADATA": metadata_text("badwheel", "1.0").encode()})
    with nothing_stored(index, "badwheel"):
        resp = upload(index, data=data, filename=filename, form={"name": "badwheel", "version": "1.0"})
        assert_refused(resp, 400, "filename")


def test_filetype_disagrees_with_extension(index: Index, tmp_path: Path) -> None:
    path = wheel(tmp_path, "wrongtype")
    sdist = build_sdist(tmp_path, "wrongtype-s", "1.0")
    with nothing_stored(index, "wrongtype", "wrongtype-s"):
        assert_refused(upload(index, path, form={"filetype": "sdist"}), 400, "filetype", path.name)
        assert_refused(upload(index, sdist, form={"filetype": "bdist_wheel"}), 400, "filetype", sdist.name)


def test_unknown_filetype(index: Index, tmp_path: Path) -> None:
    path = wheel(tmp_path, "eggtype")
    with nothing_stored(index, "eggtype"):
        assert_refused(upload(index, path, form={"filetype": "bdist_egg"}), 400, "bdist_egg", lines=None)


# -- the form -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("drop", "needle"),
    [
        (("name",), "'name'"),
        (("version",), "'version'"),
        (("filetype",), "'filetype'"),
        (("sha256_digest", "blake2_256_digest"), "digest"),
    ],
    ids=["name", "version", "filetype", "digests"],
)
def test_missing_form_field(index: Index, tmp_path: Path, drop: tuple[str, ...], needle: str) -> None:
    project = f"missing-{'-'.join(d.split('_')[0] for d in drop)}"
    path = wheel(tmp_path, project)
    with nothing_stored(index, project):
        resp = upload(index, path, form=dict.fromkeys(drop))
        assert_refused(resp, 400, needle, "missing" if len(drop) == 1 else "at least one")


def test_missing_content(index: Index, tmp_path: Path) -> None:
    path = wheel(tmp_path, "nocontent")
    with nothing_stored(index, "nocontent"):
        resp = upload(index, path, send_file=False)
        assert_refused(resp, 400, "no file", "content")


def test_empty_content(index: Index) -> None:
    with nothing_stored(index, "emptyfile"):
        resp = upload(index, data=b"", filename="emptyfile-1.0-py3-none-any.whl")
        assert_refused(resp, 400, "empty")


def test_protocol_version_2(index: Index, tmp_path: Path) -> None:
    path = wheel(tmp_path, "proto-two")
    with nothing_stored(index, "proto-two"):
        assert_refused(upload(index, path, form={"protocol_version": "2"}), 400, "protocol_version", "'2'")


def test_unsupported_action(index: Index, tmp_path: Path) -> None:
    path = wheel(tmp_path, "doc-action")
    with nothing_stored(index, "doc-action"):
        assert_refused(upload(index, path, form={":action": "doc_upload"}), 400, "doc_upload")


def test_a_text_field_sent_as_a_file(index: Index, tmp_path: Path) -> None:
    path = wheel(tmp_path, "fieldfile")
    data = path.read_bytes()
    parts = [(k, (None, v.encode(), None)) for k, v in correct_form(path.name, data).items()]
    parts.append(("summary", ("summary.txt", b"hello", "text/plain")))
    parts.append(("content", (path.name, data, "application/octet-stream")))
    with nothing_stored(index, "fieldfile"):
        resp = httpx.post(index.upload, files=parts, auth=(index.owner.name, index.owner.password))
        assert_refused(resp, 400, "summary", "file")


def test_two_files_in_content(index: Index, tmp_path: Path) -> None:
    one = wheel(tmp_path, "twofiles", "1.0")
    two = wheel(tmp_path, "twofiles", "2.0")
    parts = [(k, (None, v.encode(), None)) for k, v in correct_form(one.name, one.read_bytes()).items()]
    parts.append(("content", (one.name, one.read_bytes(), "application/octet-stream")))
    parts.append(("content", (two.name, two.read_bytes(), "application/octet-stream")))
    with nothing_stored(index, "twofiles"):
        resp = httpx.post(index.upload, files=parts, auth=(index.owner.name, index.owner.password))
        assert_refused(resp, 400, "exactly one file")


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("application/x-www-form-urlencoded", b":action=file_upload&protocol_version=1&name=notmulti"),
        ("application/json", b'{"name": "notmulti", "version": "1.0"}'),
        ("application/octet-stream", b"PK\x03\x04 not a form"),
        ("multipart/form-data", b"--x\r\n\r\n--x--\r\n"),  # no boundary parameter
    ],
    ids=["urlencoded", "json", "octet-stream", "no-boundary"],
)
def test_not_multipart(index: Index, content_type: str, body: bytes) -> None:
    with nothing_stored(index, "notmulti"):
        resp = httpx.post(
            index.upload,
            content=body,
            headers={"Content-Type": content_type},
            auth=(index.owner.name, index.owner.password),
            timeout=TIMEOUT,
        )
        assert_refused(resp, 400, "multipart/form-data")


def test_garbled_multipart(index: Index) -> None:
    """A multipart body that ends in the middle of a part."""
    body = (
        b'--BOUNDARY\r\nContent-Disposition: form-data; name="name"\r\n\r\ngarbled\r\n'
        b'--BOUNDARY\r\nContent-Disposition: form-data; name="content"; '
        b'filename="garbled-1.0-py3-none-any.whl"\r\n'
        b"Content-Type: application/octet-stream\r\n\r\nPK\x03\x04 and then the connection stops"
    )
    with nothing_stored(index, "garbled"):
        resp = httpx.post(
            index.upload,
            content=body,
            headers={"Content-Type": "multipart/form-data; boundary=BOUNDARY"},
            auth=(index.owner.name, index.owner.password),
            timeout=TIMEOUT,
        )
        assert 400 <= resp.status_code < 500, (resp.status_code, resp.text)
        assert resp.text.strip()


# -- credentials and permissions ------------------------------------------------------------


def test_no_credentials(index: Index, tmp_path: Path) -> None:
    path = wheel(tmp_path, "anonymous")
    with nothing_stored(index, "anonymous"):
        resp = upload(index, path, auth=False)
        assert_refused(resp, 401, "credentials")
        assert resp.headers.get("WWW-Authenticate", "").startswith("Basic")


def test_no_credentials_bad_form_is_still_401(index: Index) -> None:
    """Authentication comes first: an anonymous caller learns nothing about the form."""
    with nothing_stored(index, "anon-bad"):
        resp = upload(index, data=b"junk", filename="anon-bad-1.0-py3-none-any.whl", auth=False)
        assert_refused(resp, 401)
        assert resp.headers.get("WWW-Authenticate", "").startswith("Basic")


def test_wrong_password(index: Index, tmp_path: Path) -> None:
    path = wheel(tmp_path, "wrongpass")
    with nothing_stored(index, "wrongpass"):
        resp = upload(index, path, auth=(index.owner.name, index.owner.password + "x"))
        assert_refused(resp, 403, "invalid or non-existent authentication")
        resp = upload(index, path, auth=("nobody-here", "whatever"))
        assert_refused(resp, 403, "invalid or non-existent authentication")


def test_bad_token(index: Index, tmp_path: Path) -> None:
    path = wheel(tmp_path, "badtoken")
    with nothing_stored(index, "badtoken"):
        resp = upload(index, path, auth=("__token__", "not-a-token-" + secrets.token_urlsafe(8)))
        assert_refused(resp, 403, "invalid or non-existent authentication")
        resp = upload(index, path, auth=None, headers={"Authorization": "Bearer not-a-real-token"})
        assert_refused(resp, 403, "invalid or non-existent authentication")
        resp = upload(index, path, auth=None, headers={"Authorization": "Basic !!!not-base64"})
        assert_refused(resp, 403, "invalid or non-existent authentication")


def test_token_is_accepted(index: Index, tmp_path: Path) -> None:
    """The control for test_bad_token: the real token works."""
    path = wheel(tmp_path, "goodtoken")
    resp = upload(index, path, auth=("__token__", index.owner.token))
    assert resp.status_code == 200, resp.text


def test_non_owner_cannot_upload_to_existing_project(index: Index, tmp_path: Path) -> None:
    first = wheel(tmp_path, "alices-project", "1.0")
    assert upload(index, first).status_code == 200
    second = wheel(tmp_path, "alices-project", "1.1")
    with nothing_stored(index, "alices-project"):
        resp = upload(index, second, account=index.other)
        assert_refused(resp, 403, "bob", "alices-project")
        # Nor may bob re-send alice's own file, identical bytes or not.
        resp = upload(index, first, account=index.other)
        assert_refused(resp, 403, "bob", "alices-project")
    sidecar = json.loads(index.objects()["projects/alices-project.json"])
    assert "bob" not in json.dumps(sidecar)


def test_second_sdist_for_a_release(index: Index, tmp_path: Path) -> None:
    first = build_sdist(tmp_path, "two-sdists", "1.0")
    assert upload(index, first).status_code == 200
    other_dir = tmp_path / "other"
    other_dir.mkdir()
    # 1.0.0 is the same release as 1.0 (canonicalize_version).
    second = build_sdist(other_dir, "two-sdists", "1.0.0")
    with nothing_stored(index, "two-sdists"):
        assert_refused(upload(index, second), 400, "one sdist", first.name)


def test_same_filename_different_content(index: Index, tmp_path: Path) -> None:
    first = wheel(tmp_path, "immutable")
    assert upload(index, first).status_code == 200
    changed_dir = tmp_path / "changed"
    changed_dir.mkdir()
    changed = build_wheel(changed_dir, WheelSpec("immutable", "1.0", summary="different bytes"))
    assert changed.name == first.name and changed.read_bytes() != first.read_bytes()
    with nothing_stored(index, "immutable"):
        resp = upload(index, changed)
        assert resp.status_code in (400, 409), resp.text
        assert resp.text.startswith("File already exists"), resp.text


# -- several problems at once ---------------------------------------------------------------


def test_several_problems_are_all_named(index: Index, tmp_path: Path) -> None:
    path = wheel(tmp_path, "many-problems", "1.0")
    form: dict[str, str | None] = {
        "sha256_digest": "f" * 64,  # wrong digest
        "version": "3.0",  # disagrees with the filename
        "filetype": "sdist",  # disagrees with the extension
    }
    with nothing_stored(index, "many-problems"):
        lines = assert_refused(upload(index, path, form=form), 400, lines=None)
    text = "\n".join(lines).lower()
    assert len(lines) >= 3, lines
    assert "sha256_digest" in text
    assert "3.0" in text and "version" in text
    assert "filetype" in text and "sdist" in text
    for line in lines:
        assert line.strip(), f"blank line in {lines!r}"


def test_form_and_archive_problems_together(index: Index, tmp_path: Path) -> None:
    """A wrong digest and METADATA for another project: both are reported in one 400."""
    path = wheel(tmp_path, "both-problems", metadata=metadata_text("not-both-problems", "1.0"))
    with nothing_stored(index, "both-problems"):
        resp = upload(index, path, form={"blake2_256_digest": "a" * 64})
        lines = assert_refused(resp, 400, "blake2_256_digest", "not-both-problems", lines=None)
        assert len(lines) == 2, lines


def test_uv_style_accept_gets_json(index: Index, tmp_path: Path) -> None:
    path = wheel(tmp_path, "json-error")
    accept = "application/json;q=0.9, text/plain;q=0.8, text/html;q=0.7"
    with nothing_stored(index, "json-error"):
        resp = upload(index, path, form={"protocol_version": "2"}, headers={"Accept": accept})
    assert resp.status_code == 400
    assert resp.headers["content-type"].split(";")[0] == "application/json"
    doc = resp.json()
    assert "protocol_version" in doc["message"]
    assert doc["code"].startswith("400 ")


# -- real clients ---------------------------------------------------------------------------


def _output(result: subprocess.CompletedProcess[str]) -> str:
    """Client output as one line: colours removed, wrapped lines joined."""
    text = re.sub(r"\x1b\[[0-9;]*m", "", result.stdout + result.stderr)
    return " ".join(text.split())


def test_twine_reports_non_owner(index: Index, tmp_path: Path) -> None:
    first = wheel(tmp_path, "twine-owned", "1.0")
    index.twine(first)
    second = wheel(tmp_path, "twine-owned", "2.0")
    with nothing_stored(index, "twine-owned"):
        result = twine_verbose(index, second, account=index.other)
    assert result.returncode != 0
    out = _output(result)
    assert "403" in out
    assert "isn't allowed to upload" in out


def test_twine_reports_wrong_password(index: Index, tmp_path: Path) -> None:
    path = wheel(tmp_path, "twine-wrongpass")
    with nothing_stored(index, "twine-wrongpass"):
        result = twine_verbose(index, path, password="wrong-" + secrets.token_urlsafe(8))
    assert result.returncode != 0
    out = _output(result)
    assert "403" in out
    assert "Invalid or non-existent authentication" in out


def test_twine_reports_second_sdist(index: Index, tmp_path: Path) -> None:
    first = build_sdist(tmp_path, "twine-sdists", "2.0")
    index.twine(first)
    other_dir = tmp_path / "other"
    other_dir.mkdir()
    second = build_sdist(other_dir, "twine-sdists", "2.0.0")
    with nothing_stored(index, "twine-sdists"):
        result = twine_verbose(index, second)
    assert result.returncode != 0
    out = _output(result)
    assert "400" in out
    assert "Only one sdist" in out


def test_twine_reports_metadata_mismatch(index: Index, tmp_path: Path) -> None:
    path = wheel(tmp_path, "twine-meta", "1.0", metadata=metadata_text("twine-meta", "1.5"))
    with nothing_stored(index, "twine-meta"):
        result = twine_verbose(index, path)
    assert result.returncode != 0
    out = _output(result)
    assert "400 Bad Request" in out
    assert "The archive's metadata has version 1.5, but the filename has 1.0." in out


def test_uv_publish_reports_refusal(index: Index, tmp_path: Path) -> None:
    first = wheel(tmp_path, "uv-owned", "1.0")
    assert upload(index, first).status_code == 200
    second = wheel(tmp_path, "uv-owned", "1.1")
    with nothing_stored(index, "uv-owned"):
        result = index.run(
            BIN / "uv", "publish", "--publish-url", index.upload, "--username", index.other.name,
            "--password", index.other.password, second, check=False, timeout=120,
        )  # fmt: skip
    assert result.returncode != 0
    out = _output(result)
    assert "403" in out or "permission" in out.lower(), out
    assert "isn't allowed to upload" in out, out


# -- the size limit (a server of its own) ---------------------------------------------------


def test_over_limit_upload(tmp_path: Path) -> None:
    storage = str(tmp_path / "store")
    password = "pw-" + secrets.token_urlsafe(12)
    cli("user", "add", "u", "--password-stdin", storage=storage, input=password + "\n")
    big_dir = tmp_path / "big"
    big_dir.mkdir()
    # 50 KB of incompressible data in the wheel.
    payload = {"bigpkg/blob.bin": secrets.token_bytes(50 * 1024)}
    big = build_wheel(big_dir, WheelSpec("bigpkg", "1.0", files=payload))
    assert big.stat().st_size > 50 * 1024
    small = build_wheel(tmp_path, WheelSpec("smallpkg", "1.0"))
    assert small.stat().st_size < 10 * 1024
    with run_server(storage, tmp_path / "server.log", "--max-upload-size", "10K") as server:
        before = dir_snapshot(storage)
        resp = post_upload(server.upload, big.read_bytes(), big.name, auth=("u", password))
        assert_refused(resp, 400, "too large", "10240")
        message = resp.text
        after = dir_snapshot(storage)
        assert files_under(after) == files_under(before) == set()
        assert "projects/bigpkg.json" not in after
        assert not [k for k in after if k.startswith(".tmp/")]
        page = httpx.get(f"{server.simple}bigpkg/", headers={"Accept": JSON_SIMPLE}, timeout=TIMEOUT)
        assert page.status_code == 404

        home = tmp_path / "home"
        home.mkdir()
        result = subprocess.run(
            [BIN / "twine", "upload", "--verbose", "--disable-progress-bar", "--non-interactive",
             "--repository-url", server.upload, "-u", "u", "-p", password, big],
            env=client_env(home),
            capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
        assert result.returncode != 0
        out = _output(result)
        assert "400" in out and "too large" in out.lower()
        assert files_under(dir_snapshot(storage)) == set()

        # Under the limit still works on the same server.
        ok = post_upload(server.upload, small.read_bytes(), small.name, auth=("u", password))
        assert ok.status_code == 200, ok.text
    # The limit must be stated as it is: 10 KiB is not "0 MiB".
    assert not re.search(r"(?<![\d.])0 MiB", message), f"limit misstated: {message!r}"


# -- after all of that ----------------------------------------------------------------------


def test_correct_upload_still_works(index: Index, tmp_path: Path) -> None:
    """Runs last in this module: the refusals above left the index in working order."""
    path = wheel(tmp_path, "all-good", "1.0")
    sdist = build_sdist(tmp_path, "all-good", "1.0")
    for item in (path, sdist):
        resp = upload(index, item)
        assert resp.status_code == 200, resp.text
    page = simple_json(index, "all-good/")
    assert page.status_code == 200
    assert {f["filename"] for f in page.json()["files"]} == {path.name, sdist.name}
    assert "all-good" in listed_projects(index)
    # Projects refused above are still absent.
    listed = listed_projects(index)
    for name in ("notzip", "badsha", "pathy-a", "pathy-d", "nometa", "proto-two", "anonymous", "metaname"):
        assert name not in listed
    # Identical re-upload is an idempotent 200; a failing one in between did not break it.
    again = upload(index, path)
    assert again.status_code == 200, again.text
