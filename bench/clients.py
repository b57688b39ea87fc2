"""Clients: pip, uv and twine runs, a streaming uploader, and a byte-counting TCP proxy."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import http.client
import secrets
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from registry_index.testing import upload_fields
from tests.support.clients import client_env

from .load import client_prefix

BIN = Path(sys.executable).parent
_CHUNK = 1024 * 1024


def timed(cmd: Sequence[str | Path], home: Path, timeout: float = 600) -> float:
    """Run a client command on the client core in an isolated environment; wall seconds."""
    start = time.perf_counter()
    proc = subprocess.run(
        [*client_prefix(), *(str(c) for c in cmd)],
        env=client_env(home),
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        shown = " ".join(map(str, cmd[:10])) + (" …" if len(cmd) > 10 else "")
        raise RuntimeError(f"{shown} failed:\n{proc.stdout[-2000:]}{proc.stderr[-2000:]}")
    return elapsed


def pip_install(index_url: str, requirement: str, home: Path) -> float:
    with tempfile.TemporaryDirectory(dir=home) as target:
        cmd: list[str | Path] = [sys.executable, "-m", "pip", "install", "--no-cache-dir", "--target", target]
        return timed([*cmd, "--index-url", index_url, requirement], home)


def uv_install(index_url: str, requirement: str, home: Path) -> float:
    with tempfile.TemporaryDirectory(dir=home) as target:
        cmd: list[str | Path] = [
            BIN / "uv",
            "pip",
            "install",
            "--no-cache",
            "--python",
            sys.executable,
            "--target",
            target,
        ]
        return timed([*cmd, "--index-url", index_url, requirement], home)


def uv_compile(index_url: str, requirement: str, home: Path) -> float:
    req = home / "requirements.in"
    req.write_text(requirement + "\n")
    cmd: list[str | Path] = [
        BIN / "uv",
        "pip",
        "compile",
        "--no-cache",
        "--python",
        sys.executable,
        "--no-header",
    ]
    return timed([*cmd, "--index-url", index_url, "-o", home / "requirements.txt", req], home)


def twine_upload(upload_url: str, user: str, password: str, files: Sequence[Path], home: Path) -> float:
    cmd: list[str | Path] = [BIN / "twine", "upload", "--disable-progress-bar", "--non-interactive"]
    cmd += ["--repository-url", upload_url, "-u", user, "-p", password]
    return timed([*cmd, *files], home, timeout=1800)


# -- streaming upload of one file -----------------------------------------------------------


def _digests(path: Path) -> tuple[str, str]:
    sha, blake = hashlib.sha256(), hashlib.blake2b(digest_size=32)
    with open(path, "rb") as fh:
        while chunk := fh.read(_CHUNK):
            sha.update(chunk)
            blake.update(chunk)
    return sha.hexdigest(), blake.hexdigest()


def upload_file(upload_url: str, user: str, password: str, path: Path, timeout: float = 1800) -> float:
    """POST the form twine sends, streaming the file from disk; returns wall seconds.

    Built here rather than with twine so that a 1 GiB file costs the client no memory and
    the time is the request alone.
    """
    fields = upload_fields(path, *_digests(path))
    boundary = "bench" + secrets.token_hex(16)
    head = b"".join(
        f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode()
        for k, v in fields.items()
    )
    head += (
        f'--{boundary}\r\nContent-Disposition: form-data; name="content"; filename="{path.name}"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n"
    ).encode()
    tail = f"\r\n--{boundary}--\r\n".encode()
    size = len(head) + path.stat().st_size + len(tail)
    url = urllib.parse.urlsplit(upload_url)
    auth = base64.b64encode(f"{user}:{password}".encode()).decode()
    conn = http.client.HTTPConnection(url.hostname or "127.0.0.1", url.port, timeout=timeout)
    start = time.perf_counter()
    try:
        conn.putrequest("POST", url.path or "/")
        conn.putheader("Content-Type", f"multipart/form-data; boundary={boundary}")
        conn.putheader("Content-Length", str(size))
        conn.putheader("Authorization", f"Basic {auth}")
        conn.endheaders()
        conn.send(head)
        with open(path, "rb") as fh:
            while chunk := fh.read(_CHUNK):
                conn.send(chunk)
        conn.send(tail)
        resp = conn.getresponse()
        body = resp.read()
    finally:
        conn.close()
    elapsed = time.perf_counter() - start
    if resp.status >= 300:
        raise RuntimeError(f"upload of {path.name} to {upload_url}: {resp.status} {body[:300]!r}")
    return elapsed


# -- counting proxy ------------------------------------------------------------------------


@dataclass
class Counts:
    down: int = 0  # bytes from the server to the client: headers and bodies, as on the wire
    up: int = 0
    requests: int = 0
    connections: int = 0


@contextlib.contextmanager
def counting_proxy(target_port: int) -> Iterator[tuple[int, Counts]]:
    """A TCP proxy on a free loopback port that counts the bytes each way.

    The client's Host header passes through unchanged, so a server that builds absolute
    URLs from it sends the client back through the proxy too. Requests are counted as
    request lines seen at the start of each client write (every client here sends GETs
    without bodies).
    """
    counts = Counts()
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    port_box: list[int] = []
    stop = asyncio.Event()

    async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, down: bool) -> None:
        try:
            while data := await reader.read(65536):
                if down:
                    counts.down += len(data)
                else:
                    counts.up += len(data)
                    counts.requests += sum(data.count(verb) for verb in (b"GET /", b"HEAD /", b"POST /"))
                writer.write(data)
                await writer.drain()
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            with contextlib.suppress(Exception):
                writer.close()

    async def handle(client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        counts.connections += 1
        server_r, server_w = await asyncio.open_connection("127.0.0.1", target_port)
        await asyncio.gather(pipe(client_r, server_w, False), pipe(server_r, client_w, True))

    async def main() -> None:
        server = await asyncio.start_server(handle, "127.0.0.1", 0)
        port_box.append(server.sockets[0].getsockname()[1])
        ready.set()
        async with server:
            await stop.wait()

    thread = threading.Thread(target=lambda: loop.run_until_complete(main()), daemon=True)
    thread.start()
    ready.wait(10)
    try:
        yield port_box[0], counts
    finally:
        loop.call_soon_threadsafe(stop.set)
        thread.join(10)


def proxied(url: str, port: int) -> str:
    parts = urllib.parse.urlsplit(url)
    return parts._replace(netloc=f"127.0.0.1:{port}").geturl()


def fresh_home(parent: Path, name: str) -> Path:
    home = parent / name
    shutil.rmtree(home, ignore_errors=True)
    home.mkdir(parents=True)
    return home
