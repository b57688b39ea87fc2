"""Encryption at rest against real servers on both backends: real wheels, pip, twine, rotation."""

from __future__ import annotations

import contextlib
import hashlib
import re
import secrets
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from botocore.exceptions import ClientError

from registry_index.encryption import MAGIC, Keyring, generate_key_line, parse_header
from registry_index.testing import WheelSpec, build_sdist, build_wheel
from tests.conftest import BACKENDS, BIN, Account, Index, new_bucket
from tests.support.clients import client_env
from tests.support.s3 import S3Server
from tests.support.servers import cli, run_server

KEYS = "REGISTRY_INDEX_ENCRYPTION_KEYS"
MARKER = "ZEBRA-CANARY-7731"  # in the module, the summary and the long description
JSON = {"Accept": "application/vnd.pypi.simple.v1+json"}


def _s3_client(index: Index) -> Any:
    import boto3

    return boto3.client(
        "s3",
        endpoint_url=index.server_env["AWS_ENDPOINT_URL"],
        aws_access_key_id=index.server_env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=index.server_env["AWS_SECRET_ACCESS_KEY"],
        region_name="us-east-1",
    )


def _bucket_prefix(index: Index) -> tuple[str, str]:
    bucket, _, prefix = index.storage.removeprefix("s3://").partition("/")
    return bucket, f"{prefix}/" if prefix else ""


def write_raw(index: Index, key: str, data: bytes) -> None:
    """Replace an object's stored bytes behind the app's back (an attacker with the disk)."""
    if index.backend == "s3":
        bucket, prefix = _bucket_prefix(index)
        _s3_client(index).put_object(Bucket=bucket, Key=prefix + key, Body=data)
    else:
        (Path(index.storage) / key).write_bytes(data)


def add_admin(storage: str, env: dict[str, str]) -> Account:
    """One account is enough here (make_account also creates a token: one more process)."""
    password = "pw" + secrets.token_urlsafe(16)
    cli(
        "user", "add", "alice", "--password-stdin", "--admin", storage=storage, input=password + "\n", env=env
    )
    return Account("alice", password, "")


@contextlib.contextmanager
def start(
    tmp: Path, backend: str, request: pytest.FixtureRequest, ring: str, *args: str, encrypt: str = "all"
) -> Iterator[Index]:
    """Like conftest's index, with the key ring and --encrypt in the environment of the server
    and of every CLI call; servers started by ``restart`` are stopped on exit too."""
    server_env: dict[str, str] = {KEYS: ring}
    if encrypt:
        server_env["REGISTRY_INDEX_ENCRYPT"] = encrypt
    if backend == "s3":
        s3: S3Server = request.getfixturevalue("seaweedfs")
        storage = f"s3://{new_bucket(s3)}/enc"
        server_env.update(s3.env())
    else:
        storage = str(tmp / "store")
    owner = add_admin(storage, server_env)
    home = tmp / "home"
    home.mkdir()
    with contextlib.ExitStack() as stack:
        server = stack.enter_context(run_server(storage, tmp / "server.log", *args, env=server_env))
        index = Index(server, storage, owner, owner, owner, client_env(home), home, backend, server_env)
        _STACKS[id(index)] = stack
        try:
            yield index
        finally:
            del _STACKS[id(index)]


_STACKS: dict[int, contextlib.ExitStack] = {}


@pytest.fixture(params=BACKENDS)
def sealed_index(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Index]:
    """A server with --encrypt all and a one-key ring (k1), its own store."""
    with start(tmp_path, request.param, request, generate_key_line("k1")) as index:
        yield index


def stop(index: Index) -> None:
    index.server.process.terminate()
    index.server.process.wait(10)


def restart(index: Index, log: Path, ring: str) -> None:
    stop(index)
    index.server_env[KEYS] = ring
    index.server = _STACKS[id(index)].enter_context(index.start_server(log))


def pip_install(index: Index, target: Path, *reqs: str) -> None:
    index.run(
        BIN / "pip", "install", "--no-cache-dir", "--target", target, "--index-url", index.simple, *reqs
    )


def files_of(index: Index, project: str) -> dict[str, str]:
    doc = httpx.get(f"{index.simple}{project}/", headers=JSON, timeout=30).json()
    return {f["filename"]: f["url"] for f in doc["files"]}


def download(index: Index, url: str, **headers: str) -> httpx.Response:
    return httpx.get(url if url.startswith("http") else index.url + url, headers=headers, timeout=30)


def key_ids_at_rest(index: Index) -> dict[str, str]:
    out = {}
    for key, data in index.objects().items():
        if key.startswith(".tmp/"):
            continue
        header = parse_header(data, key)
        out[key] = header.key_id if header else "plain"
    return out


def test_sealed_at_rest_identical_downloads_and_key_rotation(sealed_index: Index, tmp_path: Path) -> None:
    index = sealed_index
    k1 = index.server_env[KEYS]
    dist = tmp_path / "dist"
    dist.mkdir()
    spec = WheelSpec(
        "zebra-canary",
        "1.0",
        summary=f"summary {MARKER}",
        files={"zebra_canary/secret.py": f"TOKEN = {MARKER!r}\n".encode()},
    )
    wheel = build_wheel(dist, spec)
    sdist = build_sdist(dist, "zebra-canary", "1.0")
    index.twine(wheel, sdist)

    # At rest: every object sealed, none holds the marker or the project's name.
    stored = index.objects()
    assert any(k.startswith("files/zebra-canary/") for k in stored)
    for key, data in stored.items():
        if key.startswith(".tmp/"):
            continue
        assert data.startswith(MAGIC), key
        assert MARKER.encode() not in data and b"zebra" not in data and b"alice" not in data, key

    # Served: byte-identical, with plaintext hashes, ranges and the core metadata.
    urls = files_of(index, "zebra-canary")
    for path in (wheel, sdist):
        body = download(index, urls[path.name]).content
        assert body == path.read_bytes()
    part = download(index, urls[wheel.name], Range="bytes=100-5000")
    assert part.status_code == 206 and part.content == wheel.read_bytes()[100:5001]
    meta = download(index, urls[wheel.name] + ".metadata")
    assert meta.status_code == 200 and MARKER.encode() in meta.content
    pip_install(index, tmp_path / "t1", "zebra-canary")
    assert MARKER in (tmp_path / "t1" / "zebra_canary" / "secret.py").read_text()

    # Rotation: add k2, restart, upload more; old files still readable, new ones under k2.
    k2 = generate_key_line("k2")
    restart(index, tmp_path / "s2.log", f"{k1}\n{k2}")
    wheel2 = build_wheel(dist, WheelSpec("zebra-canary", "2.0", files={"zebra_canary/x.py": MARKER.encode()}))
    index.twine(wheel2)
    ids = key_ids_at_rest(index)
    assert ids[f"files/zebra-canary/{hashlib.sha256(wheel.read_bytes()).hexdigest()}/{wheel.name}"] == "k1"
    assert ids[f"files/zebra-canary/{hashlib.sha256(wheel2.read_bytes()).hexdigest()}/{wheel2.name}"] == "k2"
    assert download(index, files_of(index, "zebra-canary")[wheel.name]).content == wheel.read_bytes()

    # rekey beside the running server, with progress; then only k2 is in use.
    done = index.cli("rekey")
    assert "keys now in use: k2:" in done.stdout and "0 failed" in done.stdout, done.stdout
    assert "[" in done.stderr and "]" in done.stderr  # the progress bar
    assert set(key_ids_at_rest(index).values()) == {"k2"}
    assert download(index, files_of(index, "zebra-canary")[sdist.name]).content == sdist.read_bytes()

    # Drop k1, restart: everything is still readable.
    restart(index, tmp_path / "s3.log", k2)
    urls = files_of(index, "zebra-canary")
    for path in (wheel, sdist, wheel2):
        assert download(index, urls[path.name]).content == path.read_bytes()
    pip_install(index, tmp_path / "t2", "zebra-canary==1.0")
    assert (tmp_path / "t2" / "zebra_canary" / "secret.py").exists()
    assert "0 problems" in index.cli("fsck").stdout

    # A server with a wrong key, or with none, refuses to start and says which key it lacks.
    stop(index)
    for ring, log in ((generate_key_line("k3"), "wrong.log"), ("", "none.log")):
        env = {**index.server_env, KEYS: ring}
        if not ring:
            env.pop("REGISTRY_INDEX_ENCRYPT")
        with (
            pytest.raises(RuntimeError, match="server exited"),
            run_server(index.storage, tmp_path / log, env=env),
        ):
            pass
        text = (tmp_path / log).read_text()
        assert "Refusing to start" in text and "'k2', which is not in the key ring" in text, text[-2000:]
    restart(index, tmp_path / "s4.log", k2)


def test_tampered_objects_are_never_served(sealed_index: Index, tmp_path: Path) -> None:
    index = sealed_index
    wheel = build_wheel(tmp_path, WheelSpec("tamper-me", "1.0", summary=MARKER))
    other = build_wheel(tmp_path, WheelSpec("tamper-too", "1.0"))
    index.twine(wheel, other)
    urls = files_of(index, "tamper-me")
    key = f"files/tamper-me/{hashlib.sha256(wheel.read_bytes()).hexdigest()}/{wheel.name}"
    stored = index.objects()[key]

    flipped = bytearray(stored)
    flipped[200] ^= 0x01  # in the first chunk's ciphertext
    write_raw(index, key, bytes(flipped))
    resp = download(index, urls[wheel.name])
    assert resp.status_code == 503 and b"unavailable" in resp.content
    log = index.server.log.read_text()
    assert f"refusing to serve {key}" in log and "chunk 0 failed authentication" in log
    report = index.cli("fsck", check=False)
    assert report.returncode == 1 and f"tamper-me/{wheel.name}: cannot decrypt" in report.stdout

    # Another object's sealed bytes under this key: authenticated to that key only.
    other_key = f"files/tamper-too/{hashlib.sha256(other.read_bytes()).hexdigest()}/{other.name}"
    write_raw(index, key, index.objects()[other_key])
    assert download(index, urls[wheel.name]).status_code == 503
    assert download(index, urls[wheel.name] + ".metadata").status_code == 200  # untouched

    meta_key = key + ".metadata"
    write_raw(index, meta_key, index.objects()[meta_key][:-1])  # truncated
    assert download(index, urls[wheel.name] + ".metadata").status_code == 503

    assert "the object is truncated" in index.server.log.read_text()
    write_raw(index, key, stored)
    assert download(index, urls[wheel.name]).content == wheel.read_bytes()

    # The audit log is sealed too: an edited event is reported, not trusted.
    events = sorted(k for k in index.objects() if k.startswith("audit/events/"))
    first = bytearray(index.objects()[events[0]])
    first[-1] ^= 0x01
    write_raw(index, events[0], bytes(first))
    audit = index.cli("audit", "verify", check=False)
    assert audit.returncode == 1 and f"cannot decrypt '{events[0]}'" in audit.stderr


def test_sse_c_on_seaweedfs(seaweedfs: S3Server, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    """SSE-C alone (no client-side sealing): unreadable without the key, identical through the app;
    redirect mode proxies what a presigned URL could not serve."""
    ring = generate_key_line("c1")
    args = ("--s3-sse", "sse-c", "--download", "redirect")
    with start(tmp_path, "s3", request, ring, *args, encrypt="") as index:
        index.server_env["REGISTRY_INDEX_S3_SSE"] = "sse-c"
        wheel = build_wheel(tmp_path, WheelSpec("ssec-demo", "1.0"))
        index.twine(wheel)
        url = files_of(index, "ssec-demo")[wheel.name]
        resp = download(index, url)
        assert resp.status_code == 200 and resp.content == wheel.read_bytes()  # proxied, not 307

        bucket, prefix = _bucket_prefix(index)
        client = _s3_client(index)
        key = f"{prefix}files/ssec-demo/{hashlib.sha256(wheel.read_bytes()).hexdigest()}/{wheel.name}"
        with pytest.raises(ClientError) as no_key:
            client.get_object(Bucket=bucket, Key=key)
        assert no_key.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
        with pytest.raises(ClientError) as wrong_key:
            client.get_object(
                Bucket=bucket, Key=key, SSECustomerAlgorithm="AES256", SSECustomerKey=b"\0" * 32
            )
        assert wrong_key.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
        pip_install(index, tmp_path / "t", "ssec-demo")
        assert (tmp_path / "t" / "ssec_demo").is_dir()
        # Records written before SSE-C was on (the accounts) stay readable; rekey seals them.
        assert "0 failed" in index.cli("rekey").stdout
        with pytest.raises(ClientError):
            client.get_object(Bucket=bucket, Key=f"{prefix}users/alice.json")
        index.twine(build_wheel(tmp_path, WheelSpec("ssec-demo", "2.0")))  # reads alice's record
        assert len(files_of(index, "ssec-demo")) == 2


def test_redirect_mode_proxies_encrypted_projects_only(
    seaweedfs: S3Server, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    ring = generate_key_line("r1")
    env = {"REGISTRY_INDEX_ENCRYPT": "hidden-one", KEYS: ring, **seaweedfs.env()}
    storage = f"s3://{new_bucket(seaweedfs)}/r"
    alice = add_admin(storage, env)
    secret = build_wheel(tmp_path, WheelSpec("hidden-one", "1.0", summary=MARKER))
    public = build_wheel(tmp_path, WheelSpec("open-one", "1.0"))
    home = tmp_path / "home"
    home.mkdir()
    with run_server(storage, tmp_path / "r.log", "--download", "redirect", env=env) as server:
        index = Index(server, storage, alice, alice, alice, client_env(home), home, "s3", env)
        index.twine(secret, public)
        hidden = download(index, files_of(index, "hidden-one")[secret.name])
        assert hidden.status_code == 200 and hidden.content == secret.read_bytes()
        opened = download(index, files_of(index, "open-one")[public.name])
        assert opened.status_code == 307 and opened.headers["location"].startswith(seaweedfs.endpoint)
        assert httpx.get(opened.headers["location"]).content == public.read_bytes()
        stored = index.objects()
        assert all(v.startswith(MAGIC) for k, v in stored.items() if "hidden-one" in k)
        assert all(not v.startswith(MAGIC) for k, v in stored.items() if "open-one" in k)
        pip_install(index, tmp_path / "t", "hidden-one", "open-one")


def test_cli_key_generation_and_start_up_refusals(tmp_path: Path) -> None:
    def run(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "registry_index", *args],
            capture_output=True,
            text=True,
            input=stdin,
            env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
            timeout=60,
        )

    line = run("encryption-key", "generate", "--id", "prod-1").stdout.strip()
    assert re.fullmatch(r"prod-1:[A-Za-z0-9+/]{43}=", line) and Keyring.parse(line).ids == ["prod-1"]
    store = str(tmp_path / "s")
    refused = run("serve", "--storage", store, "--encrypt", "all")
    assert refused.returncode == 1 and "--encrypt all needs keys" in refused.stderr
    ring_file = tmp_path / "ring"
    ring_file.write_text(line + "\n")
    added = run(
        "user", "add", "bob", "--password-stdin", "--storage", store,
        "--encrypt", "all", "--encryption-keys", str(ring_file), stdin="pw-secret-1\n",
    )  # fmt: skip
    assert added.returncode == 0, added.stderr
    assert (tmp_path / "s" / "users" / "bob.json").read_bytes().startswith(MAGIC)
    listed = run("user", "list", "--storage", store, "--encryption-keys", str(ring_file))
    assert listed.stdout.startswith("bob\t")
    blind = run("user", "list", "--storage", store)
    assert blind.returncode == 1 and "'prod-1', which is not in the key ring" in blind.stderr
    rekeyed = run("rekey", "--storage", store)
    assert rekeyed.returncode == 2 and "needs the key ring" in rekeyed.stderr
