"""The upstream-proxy stage (issue 14): registry_index, devpi and proxpi relaying one upstream.

The upstream is a static PEP 503 index of 30 real wheels (downloaded once with ``pip download``
into ``bench/.cache/proxy-wheels``, reused between runs) served by nginx on 127.0.0.1, whose
access log (``$body_bytes_sent``) counts what each proxy fetched. Static HTML carries no sizes,
so registry_index relays it as API 1.0: that is what the upstream offers.

Each proxy runs alone, pinned to core 0 with the upstream nginx (server side); the clients run
on core 1. A "fresh store" is a new proxy process on an empty directory.
"""

from __future__ import annotations

import hashlib
import html
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import time
import urllib.parse
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from packaging.utils import canonicalize_name, parse_wheel_filename

from registry_index.testing import WheelSpec, build_wheel
from tests.support.servers import cli, run_server

from . import clients
from .load import PIP_ACCEPT, LoadResult, pin_tree, timed_get, warm_up
from .report import OURS, Results, Target, ms, num
from .servers import BIN, Nginx, run_quiet, stop_process, wait_http
from .servers import Target as Server

if TYPE_CHECKING:
    from .run import Bench

HERE = Path(__file__).resolve().parent
CACHE = HERE / ".cache" / "proxy-wheels"
UPSTREAM = "upstream"
# 30 distributions, closed under their dependencies on CPython 3.11 (pyyaml, markupsafe,
# charset-normalizer and tomli as binary wheels, the rest pure Python).
PROXY_SET = [
    "requests",
    "urllib3",
    "idna",
    "certifi",
    "charset-normalizer",
    "click",
    "jinja2",
    "markupsafe",
    "flask",
    "werkzeug",
    "itsdangerous",
    "blinker",
    "attrs",
    "packaging",
    "six",
    "python-dateutil",
    "pytz",
    "pyyaml",
    "rich",
    "pygments",
    "markdown-it-py",
    "mdurl",
    "tomli",
    "typing-extensions",
    "pytest",
    "pluggy",
    "iniconfig",
    "filelock",
    "platformdirs",
    "tzdata",
]
WARM_PAGE = "requests"
COLD_PROJECTS = ("requests", "rich", "pygments", "click", "pyyaml", "pytz", "jinja2")  # files 60 KB-1.2 MB
HOSTED = "bench-hosted-page"  # registry_index's own page of one wheel, beside the relayed one
JSON_ACCEPT = {"Accept": PIP_ACCEPT}
# The smoke version (no network, registry_index only): 3 wheels built here, a -> b -> c.
SMOKE_SET = ["smoke-proxy-a", "smoke-proxy-b", "smoke-proxy-c"]


@dataclass(frozen=True)
class ProxySet:
    names: Sequence[str]  # what pip and uv install: the whole set
    warm: str  # the page wrk loads
    cold: Sequence[str]  # the pages and files timed cold

    @property
    def cold_label(self) -> str:
        return (
            f"{len(self.cold)} wheels, 60 KB-1.2 MB"
            if self.names is PROXY_SET
            else f"{len(self.cold)} wheels"
        )


FULL = ProxySet(PROXY_SET, WARM_PAGE, COLD_PROJECTS)
SMOKE = ProxySet(SMOKE_SET, SMOKE_SET[0], SMOKE_SET)


def smoke_wheels(dest: Path) -> list[Path]:
    dest.mkdir(parents=True, exist_ok=True)
    deps = [[SMOKE_SET[1]], [SMOKE_SET[2]], []]
    return [
        build_wheel(dest, WheelSpec(name, "1.0.0", requires_dist=dep, requires_python=">=3.8"))
        for name, dep in zip(SMOKE_SET, deps, strict=True)
    ]


# -- the upstream ----------------------------------------------------------------------------


def wheelhouse(dest: Path, say: object = print) -> list[Path]:
    """The 30 wheels, from the cache or ``pip download`` (PyPI) the first time."""
    marker = dest / ".complete"
    wanted = "\n".join(PROXY_SET) + "\n"
    if not (marker.exists() and marker.read_text() == wanted):
        dest.mkdir(parents=True, exist_ok=True)
        if callable(say):
            say(f"proxy: pip download of {len(PROXY_SET)} distributions into {dest} (once)")
        cmd = [sys.executable, "-m", "pip", "download", "--isolated", "-q", "--only-binary=:all:"]
        run_quiet([*cmd, "--dest", dest, *PROXY_SET], timeout=900)
        marker.write_text(wanted)
    return sorted(dest.glob("*.whl"))


def requires_python(wheel: Path) -> str | None:
    with zipfile.ZipFile(wheel) as zf:
        name = next(n for n in zf.namelist() if n.endswith(".dist-info/METADATA"))
        for line in zf.read(name).decode("utf-8", "replace").splitlines():
            if not line:
                break  # the body starts
            if line.lower().startswith("requires-python:"):
                return line.split(":", 1)[1].strip()
    return None


def write_index(wheels: Sequence[Path], root: Path) -> dict[str, Path]:
    """``simple/index.html`` and ``simple/<name>/index.html`` (PEP 503), files under ``files/``."""
    (root / "files").mkdir(parents=True, exist_ok=True)
    projects: dict[str, Path] = {}
    for wheel in wheels:
        name = canonicalize_name(parse_wheel_filename(wheel.name)[0])
        target = root / "files" / wheel.name
        if not target.exists():
            shutil.copyfile(wheel, target)
        sha = hashlib.sha256(target.read_bytes()).hexdigest()
        rp = requires_python(target)
        attr = f' data-requires-python="{html.escape(rp)}"' if rp else ""
        page = root / "simple" / name / "index.html"
        page.parent.mkdir(parents=True, exist_ok=True)
        page.write_text(
            '<!DOCTYPE html>\n<html><head><meta name="pypi:repository-version" content="1.0">'
            f"<title>Links for {name}</title></head><body><h1>Links for {name}</h1>\n"
            f'<a href="../../files/{wheel.name}#sha256={sha}"{attr}>{wheel.name}</a><br/>\n</body></html>\n'
        )
        projects[name] = target
    links = "".join(f'<a href="{n}/">{n}</a><br/>\n' for n in sorted(projects))
    (root / "simple" / "index.html").write_text(
        '<!DOCTYPE html>\n<html><head><meta name="pypi:repository-version" content="1.0">'
        f"<title>Simple index</title></head><body>\n{links}</body></html>\n"
    )
    return projects


class Upstream(Nginx):
    """nginx serving the static index, logging each request's path, status and body bytes."""

    name = UPSTREAM

    def start(self) -> None:
        conf = self.work / "nginx.conf"
        self.log = self.work / "access.log"
        conf.write_text(
            f"""user root;
worker_processes 1;
daemon off;
pid {self.work}/nginx.pid;
error_log {self.work}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    types {{ text/html html; application/octet-stream whl; }}
    log_format bench '$request_method $request_uri $status $body_bytes_sent';
    access_log {self.log} bench;
    sendfile on;
    keepalive_timeout 60s;
    etag on;
    server {{
        listen 127.0.0.1:{self.port};
        root {self.root};
        index index.html;
    }}
}}
"""
        )
        temp = self.work / "tmp"
        temp.mkdir(exist_ok=True)
        cmd = ["nginx", "-p", str(temp), "-c", str(conf), "-e", str(self.work / "error.log")]
        with open(self.work / "server.log", "ab") as log:
            self._process = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
        wait_http(f"{self.url}/simple/", self._process)
        pin_tree(self.pid)

    @property
    def simple(self) -> str:
        return f"{self.url}/simple/"

    def mark(self) -> int:
        return self.log.stat().st_size if self.log.exists() else 0

    def since(self, mark: int) -> tuple[int, int]:
        """(body bytes sent, requests) logged after ``mark``."""
        lines = self.lines(mark)
        return sum(int(line.rsplit(" ", 1)[1]) for line in lines), len(lines)

    def lines(self, mark: int) -> list[str]:
        time.sleep(0.05)  # the server logs a request just after its last byte is sent
        with open(self.log, "rb") as fh:
            fh.seek(mark)
            return [line for line in fh.read().decode().splitlines() if line]


class StaticUpstream(Upstream):
    """The smoke test's upstream: ``python -m http.server`` (no nginx needed).

    Its log has no sizes, so a 200's body bytes are the size of the file it names.
    """

    name = UPSTREAM

    def start(self) -> None:
        self.log = self.work / "access.log"
        cmd = [sys.executable, "-m", "http.server", "--bind", "127.0.0.1", "--directory", self.root]
        self._fh = open(self.log, "ab")  # noqa: SIM115 - open while the server runs
        self._process = subprocess.Popen([str(c) for c in [*cmd, str(self.port)]], stderr=self._fh)
        wait_http(f"{self.url}/simple/", self._process)
        pin_tree(self.pid)

    def stop(self) -> None:
        super().stop()
        self._fh.close()

    def lines(self, mark: int) -> list[str]:
        out = []
        for line in super().lines(mark):
            match = re.search(r'"(\w+) (\S+) HTTP/[\d.]+" (\d+)', line)
            if match is None:
                continue
            method, path, status = match[1], urllib.parse.unquote(match[2].split("?")[0]), match[3]
            local = self.root / path.lstrip("/")
            local = local / "index.html" if local.is_dir() else local
            size = local.stat().st_size if status == "200" and local.is_file() and method == "GET" else 0
            out.append(f"{method} {path} {status} {size}")
        return out


# -- the proxies -----------------------------------------------------------------------------


class OursProxy(Server):
    """``registry-index serve --upstream <nginx>/simple/``, default settings otherwise."""

    name = OURS

    def __init__(self, work: Path, upstream: str) -> None:
        super().__init__(work)
        self.upstream = upstream
        self.storage = str(work / "store")
        self._cm: object = None
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int:
        assert self._process is not None
        return self._process.pid

    def start(self) -> None:
        hosted = self.work / "hosted"
        hosted.mkdir(exist_ok=True)
        build_wheel(hosted, WheelSpec(HOSTED, "1.0.0", requires_python=">=3.8"))
        cli("import", str(hosted), storage=self.storage)
        cm = run_server(self.storage, self.work / "server.log", "--upstream", self.upstream, port=self.port)
        server = cm.__enter__()
        self._cm = cm
        self._process = server.process
        self.url = server.url
        pin_tree(self.pid)

    def stop(self) -> None:
        if self._cm is not None:
            self._cm.__exit__(None, None, None)  # type: ignore[attr-defined]
            self._cm = None


class DevpiProxy(Server):
    """devpi-server with a ``root/pypi`` mirror whose ``mirror_url`` is the upstream.

    ``devpi-init --no-root-pypi`` and then ``devpi index -c root/pypi type=mirror mirror_url=...``:
    the default root/pypi would point at pypi.org, which this bench never asks.
    """

    name = "devpi"

    def __init__(self, work: Path, upstream: str) -> None:
        super().__init__(work)
        self.upstream = upstream
        self.client_env = {**os.environ, "DEVPI_CLIENTDIR": str(work / "client")}
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def simple(self) -> str:
        return f"{self.url}/root/pypi/+simple/"

    @property
    def pid(self) -> int:
        assert self._process is not None
        return self._process.pid

    def start(self) -> None:
        serverdir = self.work / "server"
        run_quiet([BIN / "devpi-init", "--serverdir", serverdir, "--no-root-pypi"])
        run_quiet([BIN / "devpi-gen-secret", "--secretfile", self.work / "secret"])
        cmd: list[str | Path] = [BIN / "devpi-server", "--serverdir", serverdir, "--host", "127.0.0.1"]
        cmd += ["--port", str(self.port), "--secretfile", self.work / "secret"]
        with open(self.work / "server.log", "ab") as log:
            self._process = subprocess.Popen([str(c) for c in cmd], stdout=log, stderr=subprocess.STDOUT)
        wait_http(f"{self.url}/+api", self._process, timeout=180)
        pin_tree(self.pid)
        devpi = [BIN / "devpi"]
        run_quiet([*devpi, "use", self.url], self.client_env)
        run_quiet([*devpi, "login", "root", "--password", ""], self.client_env)
        run_quiet(
            [*devpi, "index", "-c", "root/pypi", "type=mirror", f"mirror_url={self.upstream}"],
            self.client_env,
        )

    def stop(self) -> None:
        stop_process(self._process)
        self._process = None


class ProxpiProxy(Server):
    """proxpi as its Docker image runs it: gunicorn, one worker, 2 threads; files cached on disk."""

    name = "proxpi"

    def __init__(self, work: Path, upstream: str) -> None:
        super().__init__(work)
        self.upstream = upstream
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def simple(self) -> str:
        return f"{self.url}/index/"

    @property
    def pid(self) -> int:
        assert self._process is not None
        return self._process.pid

    def start(self) -> None:
        cache = self.work / "cache"
        cache.mkdir(exist_ok=True)
        env = {**os.environ, "PROXPI_INDEX_URL": self.upstream, "PROXPI_CACHE_DIR": str(cache)}
        env["PROXPI_LOGGING_LEVEL"] = "WARNING"
        cmd = [BIN / "gunicorn", "--threads", "2", "--bind", f"127.0.0.1:{self.port}", "proxpi.server:app"]
        with open(self.work / "server.log", "ab") as log:
            self._process = subprocess.Popen(
                [str(c) for c in cmd], stdout=log, stderr=subprocess.STDOUT, env=env
            )
        wait_http(f"{self.url}/index/", self._process)
        pin_tree(self.pid)

    def stop(self) -> None:
        stop_process(self._process)
        self._process = None


def peer_available(name: str) -> bool:
    import importlib.util

    module = {"devpi": "devpi_server", "proxpi": "proxpi"}[name]
    return importlib.util.find_spec(module) is not None


# -- measurements ------------------------------------------------------------------------------


def file_url(page_url: str, body: bytes) -> str:
    """The first file's absolute URL on a Simple API page, JSON or HTML, without its fragment."""
    text = body.decode("utf-8", "replace")
    if text.lstrip().startswith("{"):
        href = json.loads(text)["files"][0]["url"]
    else:
        match = re.search(r'<a [^>]*href="([^"]+)"', text)
        if match is None:
            raise RuntimeError(f"no file link on {page_url}")
        href = html.unescape(match[1])
    return urllib.parse.urljoin(page_url, href).split("#", 1)[0]


def install(tool: str, index_url: str, home: Path, names: Sequence[str]) -> float:
    target = home / f"target-{tool}"
    shutil.rmtree(target, ignore_errors=True)
    if tool == "pip":
        cmd: list[str | Path] = [sys.executable, "-m", "pip", "install", "--no-cache-dir", "--target", target]
    else:
        cmd = [BIN / "uv", "pip", "install", "--no-cache", "--python", sys.executable, "--target", target]
    seconds = clients.timed([*cmd, "--index-url", index_url, *names], home, timeout=900)
    installed = {p.name for p in target.iterdir() if p.name.endswith(".dist-info")}
    if len(installed) != len(names):
        raise RuntimeError(f"{tool} installed {len(installed)} distributions, not {len(names)}")
    shutil.rmtree(target, ignore_errors=True)
    return seconds


def kib(n: float) -> str:
    return f"{n / 1024:,.0f} KiB" if n >= 10 * 1024 else f"{n / 1024:,.1f} KiB"


class ProxyStage:
    def __init__(self, bench: Bench, say: object) -> None:
        self.bench = bench
        self.say = say if callable(say) else print
        self.results = Results()
        self.work = bench.work / "proxy"
        self.work.mkdir(parents=True, exist_ok=True)
        self._fresh = 0
        self.set = SMOKE if bench.cfg.smoke else FULL

    def fresh(self, make: type[Server], upstream: Upstream) -> Server:
        self._fresh += 1
        return make(self.work / f"{make.name}-{self._fresh}", upstream.simple)  # type: ignore[call-arg]

    def put(self, key: str, label: str, better: str, server: str, value: float | None, text: str) -> None:
        self.results.put(key, label, better, server, value, text)  # type: ignore[arg-type]

    def upstream_rows(self, upstream: Upstream) -> None:
        """The upstream's own latency for the same pages and files, on fresh connections."""
        pages, files = [], []
        for project in self.set.cold:
            url = f"{upstream.simple}{project}/"
            t_page, body = timed_get(url, JSON_ACCEPT)
            t_file, _ = timed_get(file_url(url, body))
            pages.append(t_page)
            files.append(t_file)
        page, file = statistics.median(pages), statistics.median(files)
        self.put("cold-page", self.cold_page_label, "lower", UPSTREAM, page, f"{ms(page)} ms (its own)")
        self.put("cold-file", self.cold_file_label, "lower", UPSTREAM, file, f"{ms(file)} ms (its own)")
        if self.bench.cfg.smoke:
            return  # the smoke version keeps to registry_index's own figures (< 20 s in all)
        self.bench.wait_quiet("proxy: upstream page")
        result = self.bench.gen.measure(f"{upstream.simple}{self.set.warm}/", JSON_ACCEPT)
        self.put("warm", self.warm_label, "higher", UPSTREAM, result.rate, self.load_text(result))

    @property
    def cold_page_label(self) -> str:
        return f"cold project page, first request after a fresh store (median ms of {len(self.set.cold)} projects)"

    @property
    def cold_file_label(self) -> str:
        return f"cold file, first request after its page (median ms of {self.set.cold_label})"

    @property
    def warm_label(self) -> str:
        return f"warm project page `/{self.set.warm}/`, pip's Accept (req/s)"

    @staticmethod
    def load_text(r: LoadResult) -> str:
        text = f"{num(r.rate)}/s · p50 {ms(r.p50_ms)} · p99 {ms(r.p99_ms)} ms"
        return text + (f" ({r.errors} errors)" if r.errors else "")

    def cold_and_warm(self, make: type[Server], upstream: Upstream) -> None:
        proxy = self.fresh(make, upstream)
        name = proxy.name
        with proxy:
            pages, files, page_reqs, file_reqs = [], [], [], []
            first: list[str] = []  # what the upstream logged for the first page and its file
            for project in self.set.cold:
                url = proxy.page(project)
                mark = upstream.mark()
                t_page, body = timed_get(url, JSON_ACCEPT)
                page_reqs.append(upstream.since(mark)[1])
                file_mark = upstream.mark()
                t_file, _ = timed_get(file_url(url, body))
                file_reqs.append(upstream.since(file_mark)[1])
                pages.append(t_page)
                files.append(t_file)
                first = first or upstream.lines(mark)
            shown = "; ".join(f"`{line}`" for line in first)
            self.results.notes.append(
                f"{name}: what the upstream logged for its first cold page and file: {shown}"
            )
            page, file = statistics.median(pages), statistics.median(files)
            self.put(
                "cold-page",
                self.cold_page_label,
                "lower",
                name,
                page,
                f"{ms(page)} ms ({sum(page_reqs)} upstream requests for {len(pages)} pages)",
            )
            self.put(
                "cold-file",
                self.cold_file_label,
                "lower",
                name,
                file,
                f"{ms(file)} ms ({sum(file_reqs)} upstream requests for {len(files)} files)",
            )
            self.put("cold-page:reqs", "", "lower", name, max(page_reqs), "")
            self.put("cold-file:reqs", "", "lower", name, max(file_reqs), "")
            self.say(f"{name}: warm project page")
            url = proxy.page(self.set.warm)
            warm_up(url, JSON_ACCEPT)
            self.bench.wait_quiet(f"proxy: {name}: warm page")
            result = self.bench.gen.measure(url, JSON_ACCEPT)
            note = ""
            if name == OURS:
                self.bench.wait_quiet(f"proxy: {name}: hosted page")
                hosted = self.bench.gen.measure(proxy.page(HOSTED), JSON_ACCEPT)
                label = f"hosted page of one wheel `/{HOSTED}/`, same server, pip's Accept (req/s)"
                self.put("hosted", label, "higher", name, hosted.rate, self.load_text(hosted))
                note = f" = {result.rate / hosted.rate:.2f}x its hosted page"
            self.put("warm", self.warm_label, "higher", name, result.rate, self.load_text(result) + note)

    def installs(self, make: type[Server], upstream: Upstream) -> None:
        runs = self.bench.cfg.install_runs
        names = self.set.names
        for tool in ("uv",) if self.bench.cfg.smoke else ("pip", "uv"):
            proxy = self.fresh(make, upstream)
            name = proxy.name
            home = clients.fresh_home(self.work, f"home-{name}-{tool}")
            command = "pip install --no-cache-dir" if tool == "pip" else "uv pip install --no-cache"
            with proxy:
                self.say(f"{name}: {tool} install of {len(names)} distributions, cold")
                mark = upstream.mark()
                cold = install(tool, proxy.simple, home, names)
                sent, reqs = upstream.since(mark)
                label = f"{command} of the {len(names)}-package set, cold proxy store (s)"
                self.put(f"{tool}-cold", label, "lower", name, cold, f"{cold:.2f} s")
                label = f"bytes fetched upstream during the cold {tool} install (requests)"
                self.put(f"{tool}-cold-bytes", label, "lower", name, sent, f"{kib(sent)} ({reqs})")
                self.say(f"{name}: {tool} install, warm (x{runs})")
                mark = upstream.mark()
                warm = statistics.median(install(tool, proxy.simple, home, names) for _ in range(runs))
                sent, reqs = upstream.since(mark)
                label = f"{command} of the {len(names)}-package set, warm (s, median of {runs})"
                self.put(f"{tool}-warm", label, "lower", name, warm, f"{warm:.2f} s")
                label = f"bytes fetched upstream during the {runs} warm {tool} installs (requests)"
                self.put(f"{tool}-warm-bytes", label, "lower", name, sent, f"{kib(sent)} ({reqs})")

    def run(self, peers: Sequence[str]) -> Results:
        if self.bench.cfg.smoke:  # no network: 3 wheels built here, python -m http.server upstream
            wheels = smoke_wheels(self.work / "wheels")
            upstream: Upstream = StaticUpstream(self.work / "upstream")
            server = "python -m http.server"
        else:
            wheels = wheelhouse(CACHE, self.say)
            upstream = Upstream(self.work / "upstream")
            server = "nginx"
        projects = write_index(wheels, upstream.root)
        total = sum(p.stat().st_size for p in projects.values())
        self.results.notes.append(
            f"upstream: {server} on 127.0.0.1 (core 0, beside the proxy) serving a static PEP 503 index of "
            f"{len(projects)} wheels ({total / 1024**2:.1f} MiB) with `#sha256=` and "
            f"`data-requires-python`: {', '.join(sorted(projects))}"
        )
        makes: list[type[Server]] = [OursProxy]
        for peer in peers:
            if peer_available(peer):
                makes.append(DevpiProxy if peer == "devpi" else ProxpiProxy)
            else:
                self.results.notes.append(f"{peer} skipped: it is not installed in this environment.")
        with upstream:
            self.say("proxy: the upstream's own latency and rate")
            self.upstream_rows(upstream)
            for make in makes:
                try:
                    self.say(f"{make.name}: cold page and file, warm page")
                    self.cold_and_warm(make, upstream)
                    self.installs(make, upstream)
                except Exception as exc:
                    if make is OursProxy:
                        raise
                    self.results.notes.append(f"{make.name} failed part-way: {str(exc)[:300]}")
                    self.say(f"{make.name} FAILED: {exc}")
        return self.results


# -- targets of issue 14 -------------------------------------------------------------------------


def _warm_check(results: Results) -> tuple[bool | None, str]:
    ours, hosted = results.value("warm"), results.value("hosted")
    if ours is None or hosted is None:
        return None, "-"
    evidence = [f"{ours / hosted:.2f}x its hosted page (need ≥ 0.9x)"]
    met = ours >= 0.9 * hosted
    row = results.rows["warm"]
    for peer in ("devpi", "proxpi"):
        adv = row.advantage(peer)
        if adv is not None:
            evidence.append(f"{adv:.3g}x {peer} (need ≥ 1x)")
            met = met and adv >= 1
    return met, "; ".join(evidence)


def _one_trip(key: str, what: str) -> object:
    def check(results: Results) -> tuple[bool | None, str]:
        reqs, ours, up = results.value(f"{key}:reqs"), results.value(key), results.value(key, UPSTREAM)
        if reqs is None or ours is None or up is None:
            return None, "-"
        return reqs <= 1, (
            f"at most {reqs:.0f} upstream request per {what}; {ms(ours)} ms vs the upstream's own "
            f"{ms(up)} ms (+{ms(max(0.0, ours - up))} ms)"
        )

    return check


def proxy_targets() -> list[Target]:
    return [
        Target(
            "Warm relayed page: the same rate as a hosted page (≥ 0.9x), ahead of devpi and proxpi",
            _warm_check,
        ),
        Target(
            "Cold page: one upstream round trip (one request) plus the transfer; the time over the "
            "upstream's own is shown",
            _one_trip("cold-page", "page"),  # type: ignore[arg-type]
        ),
        Target(
            "Cold file: one upstream round trip (one request) plus the transfer; the time over the "
            "upstream's own is shown",
            _one_trip("cold-file", "file"),  # type: ignore[arg-type]
        ),
    ]
