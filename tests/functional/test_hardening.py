"""The outside security review's findings (issue 12), each against a real server.

Every test here failed on the code the review was made against: a hostile archive that took
minutes and gigabytes, 500s and 503s on bad input, the client's Host header in redirects,
missing download headers, unthrottled logins and an audit log any anonymous client could
grow, tokens that could do everything forever.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import math
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from registry_index.library import open_registry
from registry_index.testing import WheelSpec, build_wheel, legacy_form, many_member_sdist, record_bomb_wheel
from tests.conftest import Index, wait_until
from tests.functional.test_refusals import TIMEOUT, assert_refused, nothing_stored, upload
from tests.support.servers import run_server

# -- bounded cost of hostile archives (findings 1 and 2) ------------------------------------


@pytest.fixture(scope="module")
def bombs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    tmp = tmp_path_factory.mktemp("bombs")
    return {
        "record": record_bomb_wheel(tmp, 1_000_000),  # 2.6 MB upload
        "members": many_member_sdist(tmp, 1_000_000),  # 6 MB upload
    }


@pytest.mark.slow
def test_record_bomb_is_refused_with_a_small_message(index: Index, bombs: dict[str, Path]) -> None:
    with nothing_stored(index, "record-bomb"):
        resp = upload(index, bombs["record"])
        lines = assert_refused(resp, 400, "RECORD lists more than", lines=1)
    assert len(resp.content) < 4096, len(resp.content)
    assert "but the wheel has 4 files" in lines[0]
    assert httpx.get(f"{index.url}/healthz", timeout=TIMEOUT).status_code == 200


@pytest.mark.slow
def test_a_million_member_sdist_stops_at_the_limit(index: Index, bombs: dict[str, Path]) -> None:
    with nothing_stored(index, "member-bomb"):
        resp = upload(index, bombs["members"])
        assert_refused(resp, 400, "more than 50000 members; the limit is 50000", lines=1)
    assert len(resp.content) < 4096


# -- identity of distributions (finding 3) ----------------------------------------------------


def test_respelled_wheels_are_one_distribution(index: Index, tmp_path: Path) -> None:
    """The review's four spellings of one wheel: only the first lands."""
    names = [
        "BETA.pkg-1.0-py3-none-any.whl",
        "beta_pkg-1.0-py3-none-any.whl",
        "Beta_Pkg-1.0-py3-none-any.whl",
        "beta_pkg-v1.0-py3-none-any.whl",
    ]
    paths = []
    for n, name in enumerate(names):
        folder = tmp_path / str(n)
        folder.mkdir()
        built = build_wheel(folder, WheelSpec("beta.pkg", "1.0", files={"beta_pkg/n.txt": str(n).encode()}))
        paths.append(built.rename(folder / name))
    assert upload(index, paths[0]).status_code == 200
    for path in paths[1:]:
        assert_refused(upload(index, path), 400, "File already exists", "same distribution")
    page = httpx.get(f"{index.simple}beta-pkg/", headers={"Accept": "application/vnd.pypi.simple.v1+json"})
    assert [f["filename"] for f in page.json()["files"]] == [names[0]]


def test_a_deleted_filename_stays_used(index: Index, tmp_path: Path) -> None:
    path = build_wheel(tmp_path, WheelSpec("tomb-stone", "1.0"))
    assert upload(index, path).status_code == 200
    index.cli("delete", "tomb-stone", "1.0", path.name)
    wait_until(lambda: httpx.get(f"{index.simple}tomb-stone/").status_code in (200, 404), what="delete seen")
    assert_refused(upload(index, path), 400, "This filename has already been used")


# -- bad input is a 4xx, never a 500 or 503 (finding 6) --------------------------------------


@pytest.mark.parametrize("field", ["sha256_digest", "md5_digest", "blake2_256_digest"])
def test_non_ascii_digest(index: Index, tmp_path: Path, field: str) -> None:
    path = build_wheel(tmp_path, WheelSpec("digest-ascii", "1.0"))
    with nothing_stored(index, "digest-ascii"):
        resp = upload(index, path, form={field: "é" * 64})
        assert_refused(resp, 400, f"The {field} sent is not", lines=None)


def test_long_project_names(index: Index, tmp_path: Path) -> None:
    for length in (250, 5000):
        name = "a" * length
        resp = upload(
            index,
            data=b"PK\x05\x06" + bytes(18),
            filename=f"{name}-1.0-py3-none-any.whl",
            form={"name": name},
        )
        assert 400 <= resp.status_code < 500, (length, resp.status_code, resp.text[:200])
        assert resp.text.strip(), "a refusal names the problem"
        assert len(resp.content) < 4096


@pytest.mark.parametrize(
    "path",
    [
        "/simple/" + "a" * 300 + "/",
        "/pypi/" + "a" * 300 + "/json",
        "/pypi/" + "a" * 300 + "/1.0/json",
        "/files/" + "a" * 300 + "/" + "0" * 64 + "/x-1.0.tar.gz",
        "/project/" + "a" * 300 + "/",
        "/simple/" + "a" * 5000 + "/",
    ],
)
def test_long_names_in_urls_are_not_found(index: Index, path: str) -> None:
    resp = httpx.get(index.url + path, timeout=TIMEOUT)
    assert resp.status_code == 404, (resp.status_code, resp.text[:200])


# -- redirects and headers (findings 7 and 8) --------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "/simple/Alpha_Pkg/",
        "/pypi/Alpha_Pkg/json",
        "/project/Alpha_Pkg/",
        "/simple//alpha-pkg/",
        "/projects",
        "/simple/alpha-pkg?format=json",
    ],
)
def test_redirects_are_relative_whatever_the_host(index: Index, path: str) -> None:
    resp = httpx.get(index.url + path, headers={"Host": "evil.com"}, timeout=TIMEOUT)
    assert resp.status_code in (301, 307)
    location = resp.headers["location"]
    assert location.startswith("/") and "evil" not in location, location


def test_forwarded_headers_are_not_trusted_by_default(index: Index) -> None:
    resp = httpx.get(
        f"{index.url}/api/search?q=x",
        headers={"X-Forwarded-Proto": "https", "X-Forwarded-Host": "evil.com", "Host": "evil.com"},
    )
    assert resp.status_code == 200
    assert "https://" not in resp.text


def test_downloads_are_attachments_and_pages_are_locked_down(index: Index, tmp_path: Path) -> None:
    path = build_wheel(tmp_path, WheelSpec("head-ers", "1.0"))
    assert upload(index, path).status_code == 200
    page = httpx.get(f"{index.simple}head-ers/", timeout=TIMEOUT)
    csp = page.headers["content-security-policy"]
    assert "default-src 'none'" in csp and "frame-ancestors 'none'" in csp
    assert page.headers["x-content-type-options"] == "nosniff"
    sha = hashlib.sha256(path.read_bytes()).hexdigest()
    for suffix in ("", ".metadata"):
        resp = httpx.get(f"{index.url}/files/head-ers/{sha}/{path.name}{suffix}", timeout=TIMEOUT)
        assert resp.status_code == 200
        assert resp.headers["x-content-type-options"] == "nosniff"
        assert resp.headers["content-disposition"].startswith(f'attachment; filename="{path.name}{suffix}"')


# -- logins: throttled, same work for unknown users, bounded audit (findings 4 and 5) -----


def basic(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


def audit_events(index: Index) -> list[dict[str, object]]:
    return [json.loads(v) for k, v in index.objects().items() if k.startswith("audit/events/")]


@pytest.mark.slow
def test_failed_logins_are_throttled_per_address_and_per_account(index: Index, tmp_path: Path) -> None:
    # A server that trusts X-Forwarded-For from loopback, so each test address is its own client.
    with index.start_server(tmp_path / "proxied.log", "--forwarded-allow-ips", "127.0.0.1") as server:
        url = f"{server.url}/legacy/"

        def attempt(address: str, password: str, user: str = "alice") -> httpx.Response:
            return httpx.post(
                url, headers={**basic(user, password), "X-Forwarded-For": address}, timeout=TIMEOUT
            )

        codes = [attempt("10.0.0.1", f"wrong{n}").status_code for n in range(15)]
        assert codes[:10] == [403] * 10 and set(codes[10:]) == {429}, codes
        throttled = attempt("10.0.0.1", "wrong")
        assert int(throttled.headers["retry-after"]) >= 1
        assert "Too many failed logins for this address" in throttled.text
        # Another address is not affected, until the account itself has had too many.
        assert attempt("10.0.0.2", "wrong").status_code == 403
        for n in range(3, 20):
            attempt(f"10.0.0.{n}", "wrong")
        refused = attempt("10.0.1.1", index.owner.password)
        assert refused.status_code == 429 and "for user 'alice'" in refused.text
        # Tokens of a throttled account still work from a fresh address.
        token = {
            "Authorization": "Basic " + base64.b64encode(f"__token__:{index.owner.token}".encode()).decode()
        }
        ok = httpx.post(url, headers={**token, "X-Forwarded-For": "10.0.2.1"}, timeout=TIMEOUT)
        assert ok.status_code == 400  # authenticated: the empty body is the problem


@pytest.mark.slow
def test_anonymous_failures_cannot_grow_the_audit_log(index: Index, tmp_path: Path) -> None:
    before = len(audit_events(index))
    proxied = index.start_server(tmp_path / "flood.log", "--forwarded-allow-ips", "127.0.0.1")
    with proxied as server, httpx.Client(timeout=TIMEOUT) as client:
        started = time.monotonic()
        for n in range(120):
            client.post(
                f"{server.url}/legacy/",
                headers={
                    **basic(str(n) + "x" * 10_000, "pw"),  # distinct accounts, each too long to keep
                    "User-Agent": "u" * 10_000,
                    "X-Forwarded-For": f"10.9.{n // 250}.{n % 250}",
                },
            )
        elapsed = time.monotonic() - started
    # The server stopped: its summary of what was only counted is in the log too.
    events = audit_events(index)[before:]
    assert all(len(json.dumps(e)) < 1500 for e in events)
    summaries = [e for e in events if e["actor"] == "(summary)"]
    one_by_one = [e for e in events if e["actor"] != "(summary)"]
    counted = sum(int(str(e["detail"]).split()[0]) for e in summaries)
    # Every failure is accounted for, and at most 30 per minute window are written whole: a
    # flood of ``elapsed`` seconds touches at most ceil(elapsed / 60) + 1 windows, and only
    # windows that overflowed leave a summary (a slow machine may spread it over two).
    windows = math.ceil(elapsed / 60) + 1
    assert len(one_by_one) + counted == 120, (len(one_by_one), counted)
    assert len(one_by_one) <= 30 * windows and 1 <= len(summaries) <= windows, (
        len(one_by_one),
        len(summaries),
        elapsed,
    )


# -- tokens with scopes and expiry (finding 9) ----------------------------------------------


def test_scoped_tokens(index: Index, tmp_path: Path) -> None:
    def token(*args: str) -> str:
        return index.cli("token", "create", "alice", *args).stdout.strip().splitlines()[-1]

    scoped, upload_only, read_only = (
        token("--project", "Scoped.One"),
        token("--upload-only"),
        token("--read-only"),
    )
    listing = index.cli("token", "list", "alice").stdout
    assert "all; projects scoped-one\tnever expires" in listing
    assert "upload-only\t" in listing and "read-only\t" in listing
    mine = build_wheel(tmp_path, WheelSpec("scoped-one", "1.0"))
    other = build_wheel(tmp_path, WheelSpec("scoped-two", "1.0"))
    assert upload(index, mine, auth=("__token__", scoped)).status_code == 200
    refused = upload(index, other, auth=("__token__", scoped))
    assert_refused(refused, 403, "is scoped to scoped-one: it can't upload to 'scoped-two'")
    assert_refused(upload(index, other, auth=("__token__", read_only)), 403, "is read-only: it can't upload")
    assert upload(index, other, auth=("__token__", upload_only)).status_code == 200


def test_expiring_tokens(index: Index, tmp_path: Path) -> None:
    created = index.cli("token", "create", "alice", "--expires", "2d").stdout
    assert "expires 20" in created
    assert index.cli("token", "create", "alice", "--expires", "2020-01-01", check=False).returncode == 1
    secret = created.strip().splitlines()[-1]
    path = build_wheel(tmp_path, WheelSpec("expiring", "1.0"))
    assert upload(index, path, auth=("__token__", secret)).status_code == 200


def test_an_expired_token_is_refused(index: Index, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The CLI refuses a past expiry, so the library writes one, as a script could.
    for key, value in index.server_env.items():
        monkeypatch.setenv(key, value)

    async def make() -> str:
        registry = open_registry(index.storage)
        try:
            secret, _ = await registry.accounts.create_token("bob", expires="2020-01-01T00:00:00Z")
            return secret
        finally:
            await registry.close()

    secret = asyncio.run(make())
    assert "expired 2020-01-01T00:00:00Z" in index.cli("token", "list", "bob").stdout
    path = build_wheel(tmp_path, WheelSpec("expired", "1.0"))
    resp = upload(index, path, auth=("__token__", secret))
    assert_refused(resp, 403, "expired at 2020-01-01T00:00:00Z")


def test_upload_only_tokens_cannot_read_a_private_index(index: Index, tmp_path: Path) -> None:
    upload_only = index.cli("token", "create", "alice", "--upload-only").stdout.strip().splitlines()[-1]
    read_only = index.cli("token", "create", "alice", "--read-only").stdout.strip().splitlines()[-1]
    with index.start_server(tmp_path / "private.log", "--private") as server:
        refused = httpx.get(f"{server.url}/simple/", auth=("__token__", upload_only), timeout=TIMEOUT)
        assert refused.status_code == 403 and "upload-only" in refused.text
        assert (
            httpx.get(f"{server.url}/simple/", auth=("__token__", read_only), timeout=TIMEOUT).status_code
            == 200
        )
        admin_api = httpx.get(f"{server.url}/api/audit", auth=("__token__", read_only), timeout=TIMEOUT)
        assert admin_api.status_code == 403


# -- small things the review's client runs found ------------------------------------------


def test_hatch_release_link_and_devpi_style_simple_page(index: Index, tmp_path: Path) -> None:
    path = build_wheel(tmp_path, WheelSpec("hatch-link", "1.0"))
    assert upload(index, path).status_code == 200
    resp = httpx.get(f"{index.url}/legacy/hatch-link/1.0/", timeout=TIMEOUT)
    assert resp.status_code == 302 and resp.headers["location"] == "/project/hatch-link/1.0/"
    assert httpx.get(index.url + resp.headers["location"], timeout=TIMEOUT).status_code == 200
    page = httpx.get(f"{index.url}/legacy/+simple/hatch-link/", timeout=TIMEOUT)
    assert page.status_code == 200 and f">{path.name}</a>" in page.text


def test_pipenv_double_slash(index: Index) -> None:
    resp = httpx.get(f"{index.url}/simple//Some.Project/", timeout=TIMEOUT)
    assert resp.status_code == 301 and resp.headers["location"] == "/simple/some-project/"


def test_reason_phrase_carries_the_message(index: Index, tmp_path: Path) -> None:
    with httpx.Client(timeout=TIMEOUT) as client:
        resp = client.post(index.upload, auth=("alice", "wrong-password"))
    assert resp.status_code == 403
    assert resp.reason_phrase.startswith("Invalid or non-existent authentication information")
    assert "x-reason-phrase" not in resp.headers  # the server layer moved it into the status line
    assert httpx.get(index.simple, timeout=TIMEOUT).reason_phrase == "OK"


# -- the new user's path: admin commands find the running server's store ----------------------


def test_admin_commands_use_the_running_servers_store(tmp_path: Path) -> None:
    state = tmp_path / "state"
    store = tmp_path / "elsewhere" / "store"
    elsewhere = tmp_path / "cwd"
    elsewhere.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("REGISTRY_INDEX_")}
    env["XDG_STATE_HOME"] = str(state)

    def admin(*args: str, input: str | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "registry_index", *args],
            cwd=elsewhere, env=env, input=input, capture_output=True, text=True, timeout=60,
        )  # fmt: skip

    with run_server(str(store), tmp_path / "server.log", env={"XDG_STATE_HOME": str(state)}) as server:
        added = admin("user", "add", "carol", "--password-stdin", input="carol-password\n")
        assert added.returncode == 0, added.stderr
        assert (
            f"using the store of the server at http://127.0.0.1:{server.url.rsplit(':', 1)[1]}"
            in added.stderr
        )
        assert (store / "users" / "carol.json").exists() and not (elsewhere / "var").exists()
        wheel = build_wheel(tmp_path, WheelSpec("found-store", "1.0"))
        resp = upload_to(server.url, wheel, ("carol", "carol-password"))
        assert resp.status_code == 200, resp.text
        with run_server(str(tmp_path / "other"), tmp_path / "other.log", env={"XDG_STATE_HOME": str(state)}):
            both = admin("user", "list")
            assert both.returncode == 1 and "several servers are running" in both.stderr
            assert "--storage" in both.stderr
    # Once the servers stop, their announcements go, and ./var is the default again.
    assert admin("user", "list").returncode == 0 and (elsewhere / "var").exists()


def upload_to(url: str, path: Path, auth: tuple[str, str]) -> httpx.Response:
    fields, files = legacy_form(path)
    return httpx.post(f"{url}/legacy/", data=fields, files=files, auth=auth, timeout=TIMEOUT)
