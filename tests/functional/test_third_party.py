"""Real third-party wheels and sdists from PyPI, served by our index to real pip, uv and twine.

The distributions are downloaded once from pypi.org into ``<repo>/.cache/third-party/`` (gitignored)
and reused on later runs, which then need no network beyond loopback.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import urllib.request
import zipfile
from dataclasses import dataclass
from email.parser import BytesParser
from pathlib import Path
from urllib.parse import urljoin

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name, parse_sdist_filename, parse_wheel_filename

from registry_index.testing import dist_name
from tests.conftest import BIN, Index
from tests.support.clients import client_env

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
CACHE = REPO / ".cache" / "third-party"
PYPI = "https://pypi.org/simple/"

# Wheels for the running interpreter, with every runtime dependency pip resolves for them.
WHEEL_SPECS = ("requests==2.32.3", "zope.interface==7.2", "PyYAML==6.0.2")
# Sdists only, without dependencies: one compiled project, one small pure one.
SDIST_SPECS = ("zope.interface==7.2", "six==1.16.0")
# Bump to force a fresh download when the way files are fetched changes.
CACHE_FORMAT = 1

INSTALL = ("requests", "zope.interface", "PyYAML", "six")
IMPORT_CHECK = (
    "import sys; sys.path.insert(0, sys.argv[1]); "
    "import requests, yaml, six, zope.interface; "
    "from zope.interface import Interface, implementer; "
    "print(requests.__version__, yaml.__version__, six.__version__, "
    "zope.interface.__file__.startswith(sys.argv[1]))"
)
EXPECTED_IMPORT = "2.32.3 6.0.2 1.16.0 True"
JSON_ACCEPT = "application/vnd.pypi.simple.v1+json"


@dataclass(frozen=True)
class Downloads:
    directory: Path  # holds exactly the files below, nothing else
    files: tuple[Path, ...]

    @property
    def wheels(self) -> list[Path]:
        return [f for f in self.files if f.name.endswith(".whl")]

    def one(self, pattern: str) -> Path:
        found = [f for f in self.files if re.fullmatch(pattern, f.name)]
        assert len(found) == 1, (pattern, [f.name for f in self.files])
        return found[0]


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def project_of(filename: str) -> str:
    if filename.endswith(".whl"):
        return str(parse_wheel_filename(filename)[0])
    return str(parse_sdist_filename(filename)[0])


def is_normalized(filename: str) -> bool:
    """Whether the name part is in the normalized form (PEP 427 / 625), as uv publish insists."""
    return filename.startswith(dist_name(project_of(filename)) + "-")


def wheel_metadata(wheel: Path) -> bytes:
    with zipfile.ZipFile(wheel) as zf:
        members = [n for n in zf.namelist() if re.fullmatch(r"[^/]+\.dist-info/METADATA", n)]
        assert len(members) == 1, (wheel.name, members)
        return zf.read(members[0])


def _pip_download(dest: Path, home: Path, *args: str) -> None:
    cmd = [
        str(BIN / "pip"), "download", "--isolated", "--no-cache-dir", "--disable-pip-version-check",
        "--index-url", PYPI, "--dest", str(dest), *args,
    ]  # fmt: skip
    proc = subprocess.run(cmd, env=client_env(home), capture_output=True, text=True, timeout=900)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{proc.stdout}\n{proc.stderr}")


def _cached(manifest: Path, files_dir: Path, key: dict[str, object]) -> tuple[Path, ...] | None:
    """The cached files if a complete download with this key is on disk, unchanged."""
    try:
        data = json.loads(manifest.read_text())
    except (OSError, ValueError):
        return None
    if data.get("key") != key or not files_dir.is_dir():
        return None
    expected: dict[str, str] = data["files"]
    present = {p.name for p in files_dir.iterdir()}
    if present != set(expected):
        return None
    paths = tuple(files_dir / name for name in sorted(expected))
    if any(sha256_of(p) != expected[p.name] for p in paths):
        return None
    return paths


@pytest.fixture(scope="session")
def downloads(tmp_path_factory: pytest.TempPathFactory) -> Downloads:
    """The third-party files, downloaded from PyPI once and reused from the repo-local cache."""
    CACHE.mkdir(parents=True, exist_ok=True)
    files_dir = CACHE / "dist"
    manifest = CACHE / "manifest.json"
    key: dict[str, object] = {
        "format": CACHE_FORMAT,
        "python": f"cp{sys.version_info.major}{sys.version_info.minor}",
        "platform": sys.platform,
        "wheels": list(WHEEL_SPECS),
        "sdists": list(SDIST_SPECS),
    }
    # Several pytest-xdist workers may get here at once: one downloads, the others wait.
    with open(CACHE / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        files = _cached(manifest, files_dir, key)
        if files is None:
            home = tmp_path_factory.mktemp("pypi-home")
            staging = CACHE / f".staging-{os.getpid()}"
            shutil.rmtree(staging, ignore_errors=True)
            staging.mkdir()
            try:
                _pip_download(staging, home, *WHEEL_SPECS, "--only-binary", ":all:")
                _pip_download(staging, home, "--no-deps", "--no-binary", ":all:", *SDIST_SPECS)
                shutil.rmtree(files_dir, ignore_errors=True)
                staging.rename(files_dir)
            finally:
                shutil.rmtree(staging, ignore_errors=True)
            names = sorted(p.name for p in files_dir.iterdir())
            record = {"key": key, "files": {n: sha256_of(files_dir / n) for n in names}}
            manifest.with_suffix(".tmp").write_text(json.dumps(record, indent=1) + "\n")
            manifest.with_suffix(".tmp").replace(manifest)
            files = tuple(files_dir / n for n in names)
    result = Downloads(files_dir, files)
    py, machine = key["python"], platform.machine()
    # Sanity: what the tests below rely on is really there.
    result.one(r"requests-2\.32\.3-py3-none-any\.whl")
    result.one(rf"zope[._]interface-7\.2-{py}-{py}-.*manylinux.*_{machine}.*\.whl")
    result.one(r"zope[._]interface-7\.2\.tar\.gz")
    result.one(rf"PyYAML-6\.0\.2-{py}-{py}-.*manylinux.*_{machine}.*\.whl")
    result.one(r"six-1\.16\.0\.tar\.gz")
    for dep in ("charset_normalizer", "idna", "urllib3", "certifi"):
        result.one(rf"{dep}-[^-]+-.*\.whl")
    return result


@pytest.fixture(scope="module")
def uploaded(index: Index, downloads: Downloads) -> subprocess.CompletedProcess[str]:
    """Every downloaded file, uploaded to the module's index with real twine in one command."""
    return index.twine(*downloads.files, check=False)


def ok(proc: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    """Assert a client command succeeded, showing its whole output when it did not."""
    assert proc.returncode == 0, f"{proc.args}\nexit {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
    return proc


def get(url: str, accept: str | None = None) -> bytes:
    req = urllib.request.Request(url, headers={"Accept": accept} if accept else {})
    with urllib.request.urlopen(req, timeout=30) as resp:
        data: bytes = resp.read()
        return data


def project_files(index: Index, project: str) -> dict[str, dict[str, object]]:
    """The PEP 691 file entries of a project by filename, with URLs made absolute."""
    page = f"{index.simple}{canonicalize_name(project)}/"
    doc = json.loads(get(page, JSON_ACCEPT))
    return {f["filename"]: {**f, "url": urljoin(page, f["url"])} for f in doc["files"]}


def check_imports(index: Index, target: Path) -> None:
    proc = ok(index.run(BIN / "python", "-c", IMPORT_CHECK, target, check=False))
    assert proc.stdout.strip() == EXPECTED_IMPORT, proc.stdout + proc.stderr


def test_downloaded_set_is_closed_under_runtime_dependencies(downloads: Downloads) -> None:
    """Every Requires-Dist of every wheel (no extras, this interpreter) is satisfied by a wheel
    we have, so installs can resolve from our index alone; zope.interface 7.2 needs setuptools."""
    available: dict[str, str] = {}
    for wheel in downloads.wheels:
        name, version, _, _ = parse_wheel_filename(wheel.name)
        available[str(name)] = str(version)
    missing: list[str] = []
    for wheel in downloads.wheels:
        meta = BytesParser().parsebytes(wheel_metadata(wheel))
        for line in meta.get_all("Requires-Dist") or []:
            req = Requirement(line)
            if req.marker is not None and not req.marker.evaluate({"extra": ""}):
                continue
            have = available.get(canonicalize_name(req.name))
            if have is None or not req.specifier.contains(have, prereleases=True):
                missing.append(f"{wheel.name}: {line} (have {have})")
    assert not missing, missing
    assert "setuptools" in available  # zope.interface's runtime dependency, and six's build backend


def test_twine_uploads_every_file(
    index: Index, downloads: Downloads, uploaded: subprocess.CompletedProcess[str]
) -> None:
    if uploaded.returncode != 0:
        # twine stops at the first refusal and shows only the status line: ask for every file's reason.
        reasons: dict[str, str] = {}
        for f in downloads.files:
            proc = index.run(
                BIN / "twine", "upload", "--verbose", "--disable-progress-bar", "--non-interactive",
                "--repository-url", index.upload, "-u", index.owner.name, "-p", index.owner.password, f,
                check=False,
            )  # fmt: skip
            if proc.returncode != 0:
                text = re.sub(r"\x1b\[[0-9;]*m|\s+", " ", proc.stdout + proc.stderr)
                reasons[f.name] = text.split("Response from")[-1].strip()
        detail = "\n".join(f"  {name}: {reason}" for name, reason in reasons.items())
        pytest.fail(f"twine upload failed:\n{uploaded.stdout}\nrefused one by one:\n{detail}")
    output = re.sub(r"\s+", "", uploaded.stdout + uploaded.stderr)  # twine wraps long names
    for f in downloads.files:
        assert f"Uploading{f.name}" in output, (f.name, uploaded.stdout)


def test_pip_and_uv_install_from_our_index_alone(
    index: Index, uploaded: subprocess.CompletedProcess[str], tmp_path: Path
) -> None:
    ok(uploaded)
    target, report = tmp_path / "pip-target", tmp_path / "pip-report.json"
    ok(
        index.run(
            BIN / "pip", "install", "--no-cache-dir", "--target", target, "--report", report,
            "--index-url", index.simple, *INSTALL, check=False,
        )
    )  # fmt: skip
    installed = json.loads(report.read_text())["install"]
    urls = {item["metadata"]["name"]: item["download_info"]["url"] for item in installed}
    assert {canonicalize_name(n) for n in urls} == {
        "requests", "charset-normalizer", "idna", "urllib3", "certifi", "zope-interface", "setuptools",
        "pyyaml", "six",
    }  # fmt: skip
    assert all(url.startswith(index.url + "/files/") for url in urls.values()), urls
    check_imports(index, target)

    uv_target = tmp_path / "uv-target"
    ok(
        index.run(
            BIN / "uv", "pip", "install", "--target", uv_target, "--python", BIN / "python",
            "--index-url", index.simple, "--no-cache", *INSTALL, check=False,
        )
    )  # fmt: skip
    check_imports(index, uv_target)
    # Both picked the manylinux wheels, not the sdist, for the compiled projects.
    for where in (target, uv_target):
        assert list((where / "zope" / "interface").glob("_zope_interface_coptimizations*.so")), where
        assert list(where.glob("_yaml*.so")) + list((where / "yaml").glob("_yaml*.so")), where


def test_uv_publish_of_the_same_files_skips_them_all(
    index: Index, downloads: Downloads, uploaded: subprocess.CompletedProcess[str]
) -> None:
    ok(uploaded)

    def upload_times() -> dict[str, object]:
        return {
            f.name: project_files(index, project_of(f.name))[f.name]["upload-time"] for f in downloads.files
        }

    before = upload_times()
    proc = ok(
        index.run(
            BIN / "uv", "publish", "--publish-url", index.upload, "--check-url", index.simple,
            "-u", index.owner.name, "-p", index.owner.password, *downloads.files, check=False,
        )
    )  # fmt: skip
    output = proc.stdout + proc.stderr
    for f in downloads.files:
        if is_normalized(f.name):
            # Checked against our simple page and not sent again.
            assert f"File {f.name} already exists, skipping" in output, (f.name, output)
        else:
            # uv itself refuses non-normalized filenames before asking the index (PyYAML-, zope.interface-).
            refused = rf"`{re.escape(f.name)}` has a non-normalized filename .*skipping"
            assert re.search(refused, output), (f.name, output)
    assert sum(not is_normalized(f.name) for f in downloads.files) == 3
    assert upload_times() == before


def test_simple_hashes_and_core_metadata_match_the_pypi_files(
    index: Index, downloads: Downloads, uploaded: subprocess.CompletedProcess[str]
) -> None:
    ok(uploaded)
    for f in downloads.files:
        entries = project_files(index, project_of(f.name))
        assert f.name in entries, (f.name, sorted(entries))
        entry = entries[f.name]
        digest = sha256_of(f)
        assert entry["hashes"] == {"sha256": digest}, f.name
        assert entry["size"] == f.stat().st_size, f.name
        url = str(entry["url"])
        assert hashlib.sha256(get(url)).hexdigest() == digest, f.name
        if f.name.endswith(".whl"):
            expected = wheel_metadata(f)
            assert entry["core-metadata"] == {"sha256": hashlib.sha256(expected).hexdigest()}, f.name
            assert get(url + ".metadata") == expected, f.name

        # The HTML page (what pip reads by default) carries the same hash.
        html = get(f"{index.simple}{canonicalize_name(project_of(f.name))}/", "text/html").decode()
        anchors = re.findall(r'<a href="[^"#]*#sha256=([0-9a-f]{64})"[^>]*>([^<]+)</a>', html)
        assert (digest, f.name) in anchors, (f.name, html)


def test_import_command_loads_the_downloaded_folder(
    fresh_index: Index, downloads: Downloads, tmp_path: Path
) -> None:
    n = len(downloads.files)
    first = ok(fresh_index.cli("import", str(downloads.directory), check=False))
    assert f"imported {n} files, 0 already present, 0 refused" in first.stdout, first.stdout
    assert f"[{'#' * 30}] {n}/{n} " in first.stderr, first.stderr
    # One bar update per file (text mode turns the bar's carriage returns into newlines).
    bars = re.findall(rf"\[[#-]{{30}}\] (\d+)/{n} ", first.stderr)
    assert [int(done) for done in bars] == list(range(1, n + 1)), first.stderr

    second = ok(fresh_index.cli("import", str(downloads.directory), check=False))
    assert f"imported 0 files, {n} already present, 0 refused" in second.stdout, second.stdout

    for f in downloads.files:
        entry = project_files(fresh_index, project_of(f.name))[f.name]
        assert entry["hashes"] == {"sha256": sha256_of(f)}, f.name

    target = tmp_path / "pip-target"
    ok(
        fresh_index.run(
            BIN / "pip", "install", "--no-cache-dir", "--target", target,
            "--index-url", fresh_index.simple, "requests", check=False,
        )
    )  # fmt: skip
    code = "import sys; sys.path.insert(0, sys.argv[1]); import requests; print(requests.__version__)"
    proc = ok(fresh_index.run(BIN / "python", "-c", code, target, check=False))
    assert proc.stdout.strip() == "2.32.3"
