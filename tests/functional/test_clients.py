"""Real clients against a real server: pip, uv and twine, end to end, on loopback only."""

from __future__ import annotations

import ast
import hashlib
import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx

from registry_index.testing import WheelSpec, build_sdist, build_wheel, legacy_form
from tests.conftest import BIN, Account, Index, wait_until

JSON_ACCEPT = "application/vnd.pypi.simple.v1+json"


# -- helpers ---------------------------------------------------------------------------------


def project_page(base: str, name: str, accept: str = JSON_ACCEPT) -> httpx.Response:
    return httpx.get(f"{base}/simple/{name}/", headers={"Accept": accept}, timeout=30)


def project_json(base: str, name: str) -> dict[str, Any]:
    resp = project_page(base, name)
    assert resp.status_code == 200, (resp.status_code, resp.text)
    assert resp.headers["content-type"].startswith(JSON_ACCEPT)
    doc: dict[str, Any] = resp.json()
    return doc


def filenames(doc: dict[str, Any]) -> set[str]:
    return {f["filename"] for f in doc["files"]}


def upload_form(path: Path, **overrides: str) -> dict[str, str]:
    """The legacy upload form as twine sends it (the fields our server looks at)."""
    return legacy_form(path, **overrides)[0]


def post_upload(url: str, path: Path, auth: tuple[str, str], **overrides: str) -> httpx.Response:
    files = {"content": (path.name, path.read_bytes(), "application/octet-stream")}
    return httpx.post(url, data=upload_form(path, **overrides), files=files, auth=auth, timeout=60)


def twine(index: Index, *files: Path, account: Account | None = None, check: bool = True) -> Any:
    return index.twine(*files, account=account, check=check)


def creds(account: Account) -> tuple[str, str]:
    return (account.name, account.password)


def pip_install(index: Index, target: Path, *reqs: str, check: bool = True) -> Any:
    return index.run(
        BIN / "pip", "install", "--no-cache-dir", "--target", target, "--index-url", index.simple,
        *reqs, check=check,
    )  # fmt: skip


def uv_install(index: Index, target: Path, *reqs: str, check: bool = True) -> Any:
    return index.run(
        BIN / "uv", "pip", "install", "--no-cache", "--python", BIN / "python", "--target", target,
        "--index-url", index.simple, *reqs, check=check,
    )  # fmt: skip


def installed_version(target: Path, module: str) -> str:
    text = (target / module / "__init__.py").read_text()
    assert text.startswith("__version__ = "), text
    value = ast.literal_eval(text.split("=", 1)[1].strip())
    assert isinstance(value, str)
    return value


def uv_publish(index: Index, *args: str | Path, check: bool = True) -> Any:
    return index.run(
        BIN / "uv", "publish", "--no-cache", "--trusted-publishing", "never",
        "--publish-url", index.upload, *args, check=check,
    )  # fmt: skip


# -- dependency resolution -------------------------------------------------------------------


def test_dependency_chain_resolves_from_the_index_alone(index: Index, tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    dist.mkdir()
    files = [
        build_wheel(dist, WheelSpec("chain-a", "1.0", requires_dist=["chain-b>=1"])),
        build_wheel(dist, WheelSpec("chain-b", "0.9")),  # too old for chain-a
        build_wheel(dist, WheelSpec("chain-b", "1.5", requires_dist=["chain-c<2"])),
        build_wheel(dist, WheelSpec("chain-c", "1.0", requires_dist=["chain-d"])),
        build_wheel(dist, WheelSpec("chain-c", "2.0")),  # excluded by chain-b's pin
        build_wheel(dist, WheelSpec("chain-d", "1.0", requires_python=">=3.8")),
        build_wheel(dist, WheelSpec("chain-d", "3.0", requires_python=">=4")),  # no Python matches
    ]
    twine(index, *files)
    expected = {"chain-a": "1.0", "chain-b": "1.5", "chain-c": "1.0", "chain-d": "1.0"}

    report_path = tmp_path / "report.json"
    index.run(
        BIN / "pip", "install", "--no-cache-dir", "--dry-run", "--ignore-installed", "--quiet",
        "--report", report_path, "--index-url", index.simple, "chain-a",
    )  # fmt: skip
    report = json.loads(report_path.read_text())
    pins = {item["metadata"]["name"]: item["metadata"]["version"] for item in report["install"]}
    assert pins == expected
    urls = {item["metadata"]["name"]: item["download_info"]["url"] for item in report["install"]}
    assert all(url.startswith(index.url + "/files/") for url in urls.values()), urls
    hashes = {item["download_info"]["archive_info"]["hashes"]["sha256"] for item in report["install"]}
    wanted = {hashlib.sha256(f.read_bytes()).hexdigest() for f in files}
    assert hashes <= wanted and len(hashes) == 4

    pip_target = tmp_path / "pip-target"
    pip_install(index, pip_target, "chain-a")
    uv_target = tmp_path / "uv-target"
    uv_install(index, uv_target, "chain-a")
    for target in (pip_target, uv_target):
        got = {name: installed_version(target, name.replace("-", "_")) for name in expected}
        assert got == expected, target


# -- names -----------------------------------------------------------------------------------


def test_dotted_mixed_case_project_name(index: Index, tmp_path: Path) -> None:
    wheel = build_wheel(tmp_path, WheelSpec("Foo.Bar_baz", "1.0"))
    sdist = build_sdist(tmp_path, "Foo.Bar_baz", "1.0")
    assert wheel.name == "foo_bar_baz-1.0-py3-none-any.whl"
    twine(index, wheel, sdist)

    doc = project_json(index.url, "foo-bar-baz")
    assert doc["name"] == "foo-bar-baz"
    assert filenames(doc) == {wheel.name, sdist.name}
    root = httpx.get(index.simple, headers={"Accept": JSON_ACCEPT}).json()
    assert {"name": "Foo.Bar_baz"} in root["projects"]
    html_root = httpx.get(index.simple).text
    assert 'href="/simple/foo-bar-baz/"' in html_root

    for spelling in ("foo-bar-baz", "Foo.Bar_baz", "FOO__bar.baz"):
        target = tmp_path / f"pip-{spelling}"
        pip_install(index, target, spelling)
        assert installed_version(target, "foo_bar_baz") == "1.0"
    uv_target = tmp_path / "uv"
    uv_install(index, uv_target, "Foo.Bar_baz")
    assert installed_version(uv_target, "foo_bar_baz") == "1.0"

    fmt = "application/vnd.pypi.simple.v1+json"
    resp = httpx.get(f"{index.url}/simple/Foo.Bar_baz/", params={"format": fmt}, follow_redirects=False)
    assert resp.status_code == 301
    location = urlsplit(resp.headers["location"])
    assert location.path == "/simple/foo-bar-baz/"
    assert parse_qs(location.query) == {"format": [fmt]}
    followed = httpx.get(f"{index.url}/simple/Foo.Bar_baz/", params={"format": fmt}, follow_redirects=True)
    assert followed.status_code == 200
    assert followed.headers["content-type"].startswith(JSON_ACCEPT)
    assert followed.json()["name"] == "foo-bar-baz"


# -- sdists ----------------------------------------------------------------------------------


def test_sdist_only_project_installs_with_pip_and_uv(index: Index, tmp_path: Path) -> None:
    sdist = build_sdist(tmp_path, "only-sdist", "1.3")
    twine(index, sdist)
    doc = project_json(index.url, "only-sdist")
    assert [f["filename"] for f in doc["files"]] == [sdist.name]
    assert doc["files"][0]["core-metadata"] is False

    pip_target = tmp_path / "pip"
    pip_install(index, pip_target, "only-sdist")
    assert installed_version(pip_target, "only_sdist") == "1.3"
    dist_info = list(pip_target.glob("only_sdist-1.3.dist-info"))
    assert len(dist_info) == 1, list(pip_target.iterdir())

    uv_target = tmp_path / "uv"
    uv_install(index, uv_target, "only-sdist==1.3")
    assert installed_version(uv_target, "only_sdist") == "1.3"
    assert (uv_target / "only_sdist-1.3.dist-info" / "METADATA").exists(), list(uv_target.iterdir())


# -- yanking ---------------------------------------------------------------------------------


def test_yanked_release_is_skipped_unless_pinned(index: Index, tmp_path: Path) -> None:
    v1 = build_wheel(tmp_path, WheelSpec("yank-me", "1.0"))
    v2 = build_wheel(tmp_path, WheelSpec("yank-me", "2.0"))
    twine(index, v1, v2)
    index.cli("yank", "yank-me", "2.0", "--reason", "broken")

    def yanked() -> dict[str, Any]:
        return {f["filename"]: f["yanked"] for f in project_json(index.url, "yank-me")["files"]}

    wait_until(lambda: yanked()[v2.name] == "broken", what="the yank to show")
    assert yanked() == {v1.name: False, v2.name: "broken"}

    target = tmp_path / "pip-latest"
    pip_install(index, target, "yank-me")
    assert installed_version(target, "yank_me") == "1.0"
    target = tmp_path / "pip-pinned"
    result = pip_install(index, target, "yank-me==2.0")
    assert installed_version(target, "yank_me") == "2.0"
    assert "yanked" in result.stderr.lower() and "broken" in result.stderr, result.stderr

    target = tmp_path / "uv-latest"
    uv_install(index, target, "yank-me")
    assert installed_version(target, "yank_me") == "1.0"
    target = tmp_path / "uv-pinned"
    uv_install(index, target, "yank-me==2.0")
    assert installed_version(target, "yank_me") == "2.0"

    index.cli("unyank", "yank-me", "2.0")
    wait_until(lambda: yanked()[v2.name] is False, what="the unyank to show")
    target = tmp_path / "pip-unyanked"
    pip_install(index, target, "yank-me")
    assert installed_version(target, "yank_me") == "2.0"


# -- uv publish ------------------------------------------------------------------------------


def test_uv_publish_with_check_url_skips_existing_files(index: Index, tmp_path: Path) -> None:
    wheel = build_wheel(tmp_path, WheelSpec("uv-pub", "1.0"))
    sdist = build_sdist(tmp_path, "uv-pub", "1.0")
    auth = (f"--username={index.owner.name}", f"--password={index.owner.password}")
    first = uv_publish(index, "--check-url", index.simple, *auth, wheel, sdist)
    assert "skipping" not in (first.stdout + first.stderr).lower(), first.stderr
    doc = project_json(index.url, "uv-pub")
    assert filenames(doc) == {wheel.name, sdist.name}
    serial = doc["meta"]["_last-serial"]

    again = uv_publish(index, "--check-url", index.simple, *auth, wheel, sdist)
    output = again.stdout + again.stderr
    assert output.lower().count("skipping") == 2, output
    assert project_json(index.url, "uv-pub")["meta"]["_last-serial"] == serial

    newer = build_wheel(tmp_path, WheelSpec("uv-pub", "1.1"))
    mixed = uv_publish(index, "--check-url", index.simple, *auth, wheel, sdist, newer)
    output = mixed.stdout + mixed.stderr
    assert output.lower().count("skipping") == 2, output
    doc = project_json(index.url, "uv-pub")
    assert filenames(doc) == {wheel.name, sdist.name, newer.name}
    listed = {f["filename"]: f["hashes"]["sha256"] for f in doc["files"]}
    assert listed[newer.name] == hashlib.sha256(newer.read_bytes()).hexdigest()
    assert sorted(doc["versions"]) == ["1.0", "1.1"]


def test_uv_publish_with_token(index: Index, tmp_path: Path) -> None:
    wheel = build_wheel(tmp_path, WheelSpec("uv-token", "0.1"))
    bad = uv_publish(index, "--token", "not-a-real-token", wheel, check=False)
    assert bad.returncode != 0
    assert project_page(index.url, "uv-token").status_code == 404

    uv_publish(index, f"--token={index.owner.token}", wheel)
    assert filenames(project_json(index.url, "uv-token")) == {wheel.name}
    # The token acts as its user: bob may not add to alice's project with his.
    other = build_wheel(tmp_path, WheelSpec("uv-token", "0.2"))
    denied = uv_publish(index, f"--token={index.other.token}", other, check=False)
    assert denied.returncode != 0
    assert filenames(project_json(index.url, "uv-token")) == {wheel.name}


# -- twine and duplicates --------------------------------------------------------------------


def test_twine_identical_reupload_changes_nothing(index: Index, tmp_path: Path) -> None:
    wheel = build_wheel(tmp_path, WheelSpec("same-again", "1.0"))
    sdist = build_sdist(tmp_path, "same-again", "1.0")
    twine(index, wheel, sdist)
    before_json = project_page(index.url, "same-again")
    before_html = project_page(index.url, "same-again", accept="text/html")
    assert before_json.status_code == before_html.status_code == 200

    again = twine(index, wheel, sdist)
    assert again.returncode == 0
    raw = post_upload(index.upload, wheel, creds(index.owner))
    assert raw.status_code == 200, raw.text

    after_json = project_page(index.url, "same-again")
    after_html = project_page(index.url, "same-again", accept="text/html")
    assert after_json.content == before_json.content
    assert after_html.content == before_html.content
    assert after_json.headers["etag"] == before_json.headers["etag"]
    assert after_json.json()["meta"]["_last-serial"] == before_json.json()["meta"]["_last-serial"]
    assert after_json.headers["x-pypi-last-serial"] == before_json.headers["x-pypi-last-serial"]


def test_same_filename_with_different_bytes_is_refused(index: Index, tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    original = build_wheel(tmp_path / "a", WheelSpec("clash", "1.0"))
    changed = build_wheel(tmp_path / "b", WheelSpec("clash", "1.0", files={"clash/extra.py": b"x = 1\n"}))
    assert original.name == changed.name
    assert original.read_bytes() != changed.read_bytes()
    twine(index, original)
    before = project_page(index.url, "clash").content

    resp = post_upload(index.upload, changed, creds(index.owner))
    assert resp.status_code == 400, (resp.status_code, resp.text)
    assert resp.text.startswith("File already exists"), resp.text

    failed = twine(index, changed, check=False)
    assert failed.returncode != 0
    assert "400" in failed.stdout + failed.stderr, failed.stdout + failed.stderr

    assert project_page(index.url, "clash").content == before
    listed = project_json(index.url, "clash")["files"]
    assert [f["hashes"]["sha256"] for f in listed] == [hashlib.sha256(original.read_bytes()).hexdigest()]
    download = httpx.get(
        index.url + listed[0]["url"] if listed[0]["url"].startswith("/") else listed[0]["url"]
    )
    assert download.content == original.read_bytes()


def test_concurrent_uploads_into_one_project(index: Index, tmp_path: Path) -> None:
    wheels = [build_wheel(tmp_path, WheelSpec("para-load", f"1.{n}")) for n in range(20)]
    auth = creds(index.owner)
    with ThreadPoolExecutor(max_workers=20) as pool:
        results = list(pool.map(lambda w: post_upload(index.upload, w, auth), wheels))
    assert [r.status_code for r in results] == [200] * 20, [(r.status_code, r.text) for r in results]

    doc = project_json(index.url, "para-load")
    assert filenames(doc) == {w.name for w in wheels}
    assert len(doc["files"]) == 20
    assert sorted(doc["versions"]) == sorted(f"1.{n}" for n in range(20))
    root = httpx.get(index.simple, headers={"Accept": JSON_ACCEPT}).json()
    assert [p["name"] for p in root["projects"]].count("para-load") == 1

    # The same file from many clients at once: all succeed, it is listed once.
    dup = build_wheel(tmp_path, WheelSpec("para-load", "2.0"))
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda _: post_upload(index.upload, dup, auth), range(8)))
    assert [r.status_code for r in results] == [200] * 8, [(r.status_code, r.text) for r in results]
    names = [f["filename"] for f in project_json(index.url, "para-load")["files"]]
    assert names.count(dup.name) == 1 and len(names) == 21

    target = tmp_path / "target"
    pip_install(index, target, "para-load<2")
    assert installed_version(target, "para_load") == "1.19"


# -- persistence -----------------------------------------------------------------------------


def test_restart_keeps_everything(fresh_index: Index, tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    dist.mkdir()
    files = [
        build_wheel(dist, WheelSpec("keep-me", "1.0")),
        build_wheel(dist, WheelSpec("keep-me", "2.0")),
        build_sdist(dist, "keep-me", "2.0"),
        build_wheel(dist, WheelSpec("Keep.Other", "0.1", requires_dist=["keep-me>=2"])),
    ]
    twine(fresh_index, *files)
    fresh_index.cli("yank", "keep-me", "1.0", "--reason", "old")

    def yank_of_first() -> Any:
        listed = {f["filename"]: f for f in project_json(fresh_index.url, "keep-me")["files"]}
        return listed[files[0].name]["yanked"]

    wait_until(lambda: yank_of_first() == "old", what="the yank to show")
    old_url = fresh_index.url
    before = {name: project_json(old_url, name) for name in ("keep-me", "keep-other")}
    before_root = httpx.get(fresh_index.simple, headers={"Accept": JSON_ACCEPT}).json()

    fresh_index.server.process.terminate()
    fresh_index.server.process.wait(10)
    with fresh_index.start_server(tmp_path / "second.log") as server:
        fresh_index.server = server
        root = httpx.get(server.simple, headers={"Accept": JSON_ACCEPT}).json()
        assert root["projects"] == before_root["projects"]
        assert {p["name"] for p in root["projects"]} == {"keep-me", "Keep.Other"}
        for name, old in before.items():
            doc = project_json(server.url, name)
            assert doc["versions"] == old["versions"]
            strip = ("url",)
            assert [{k: v for k, v in f.items() if k not in strip} for f in doc["files"]] == [
                {k: v for k, v in f.items() if k not in strip} for f in old["files"]
            ]
            for f in doc["files"]:
                url = f["url"] if f["url"].startswith("http") else server.url + f["url"]
                body = httpx.get(url).content
                assert hashlib.sha256(body).hexdigest() == f["hashes"]["sha256"]
        target = tmp_path / "target"
        pip_install(fresh_index, target, "keep.other")
        assert installed_version(target, "keep_other") == "0.1"
        assert installed_version(target, "keep_me") == "2.0"
        # And the restarted server still takes uploads into the old projects.
        newer = build_wheel(dist, WheelSpec("keep-me", "3.0"))
        twine(fresh_index, newer)
        assert newer.name in filenames(project_json(server.url, "keep-me"))


# -- permissions -----------------------------------------------------------------------------


def test_only_owners_and_maintainers_may_upload(index: Index, tmp_path: Path) -> None:
    first = build_wheel(tmp_path, WheelSpec("alice-owns", "1.0"))
    twine(index, first)
    second = build_wheel(tmp_path, WheelSpec("alice-owns", "1.1"))

    denied = post_upload(index.upload, second, creds(index.other))
    assert denied.status_code == 403, (denied.status_code, denied.text)
    by_token = post_upload(index.upload, second, ("__token__", index.other.token))
    assert by_token.status_code == 403, (by_token.status_code, by_token.text)
    failed = twine(index, second, account=index.other, check=False)
    assert failed.returncode != 0
    assert "403" in failed.stdout + failed.stderr
    assert filenames(project_json(index.url, "alice-owns")) == {first.name}

    anonymous = httpx.post(
        index.upload, data=upload_form(second), files={"content": (second.name, second.read_bytes())}
    )
    assert anonymous.status_code == 401
    assert anonymous.headers["www-authenticate"].lower().startswith("basic")
    wrong = post_upload(index.upload, second, (index.owner.name, "wrong-password"))
    assert wrong.status_code in (401, 403)

    index.cli("maintainer", "add", "alice-owns", "bob")
    twine(index, second, account=index.other)
    assert filenames(project_json(index.url, "alice-owns")) == {first.name, second.name}

    # The admin may upload anywhere; bob still may not touch other alice projects.
    third = build_wheel(tmp_path, WheelSpec("alice-owns", "1.2"))
    assert post_upload(index.upload, third, creds(index.admin)).status_code == 200
    other_project = build_wheel(tmp_path, WheelSpec("alice-also", "1.0"))
    twine(index, other_project)
    later = build_wheel(tmp_path, WheelSpec("alice-also", "1.1"))
    assert post_upload(index.upload, later, creds(index.other)).status_code == 403


def test_two_instances_on_one_store_take_concurrent_uploads(index: Index, tmp_path: Path) -> None:
    """A second server (three workers) shares the store: every upload lands, both list all."""
    wheels = [build_wheel(tmp_path, WheelSpec("two-heads", f"0.{n}")) for n in range(24)]
    auth = creds(index.owner)
    with index.start_server(tmp_path / "second.log", "--workers", "3") as second:
        targets = [index.upload, second.upload]
        with ThreadPoolExecutor(max_workers=24) as pool:
            results = list(
                pool.map(lambda nw: post_upload(targets[nw[0] % 2], nw[1], auth), enumerate(wheels))
            )
        assert [r.status_code for r in results] == [200] * 24, [(r.status_code, r.text) for r in results]
        expected = {w.name for w in wheels}
        for base in (index.url, second.url):
            wait_until(lambda b=base: filenames(project_json(b, "two-heads")) == expected, what=base)  # type: ignore[misc]
        root = httpx.get(second.simple, headers={"Accept": JSON_ACCEPT}).json()
        assert {"name": "two-heads"} in root["projects"]
