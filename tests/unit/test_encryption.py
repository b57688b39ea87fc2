"""Encryption at rest: the chunk format, ranges, tamper detection, the key ring, rekey."""

from __future__ import annotations

import base64
import contextlib
import os
import tracemalloc
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from registry_index.encryption import (
    MAGIC,
    EncryptedStorage,
    Keyring,
    KeyringError,
    MissingKeyError,
    Selector,
    check_settings,
    generate_key_line,
    load_keyring,
    open_bytes,
    open_store,
    parse_header,
    seal_bytes,
    startup_problem,
)
from registry_index.encryption import rekey as enc
from registry_index.settings import Settings, SettingsError
from registry_index.storage import (
    DecryptionError,
    LocalStorage,
    MemoryStorage,
    ObjectConflict,
    PresignUnavailable,
    StorageError,
)
from registry_index.storage.s3 import S3Storage

K1 = ("k1", bytes(range(32)))
K2 = ("k2", bytes(range(32, 64)))
RING1 = Keyring([K1])
RING12 = Keyring([K1, K2])
RING2 = Keyring([K2])
KEY = "files/demo/abc/demo-1.0-py3-none-any.whl"
SECRET = b"TOP-SECRET-MARKER " * 300  # 5400 bytes: six 1 KiB chunks


def b64(key: bytes) -> str:
    return base64.b64encode(key).decode()


async def read_all(storage: Any, key: str, start: int = 0, end: int | None = None) -> bytes:
    return b"".join([chunk async for chunk in storage.stream(key, start, end)])


# -- the key ring and the selector -------------------------------------------------------------


def test_keyring_formats_newest_last() -> None:
    text = f"# rotated 2026-01\nk1:{b64(K1[1])}\n\nk2:{b64(K2[1])}  # current\n"
    ring = Keyring.parse(text)
    assert ring.ids == ["k1", "k2"] and ring.newest == K2 and ring.get("k1") == K1[1]
    same = Keyring.parse(f"k1:{b64(K1[1])}, k2:{base64.urlsafe_b64encode(K2[1]).decode().rstrip('=')}")
    assert same.ids == ring.ids and same.newest == ring.newest
    assert b64(K1[1]) not in repr(ring) and "k1" in repr(ring)


@pytest.mark.parametrize(
    "text, message",
    [
        ("no-colon-here", "expected ID:BASE64KEY"),
        ("k1:***", "not valid base64"),
        (f"k1:{b64(b'x' * 16)}", "16 bytes"),
        (f"k1:{b64(K1[1])},k1:{b64(K2[1])}", "appears twice"),
        (f"bad id:{b64(K1[1])}", "key id"),
    ],
)
def test_keyring_errors(text: str, message: str) -> None:
    with pytest.raises(KeyringError, match=message):
        Keyring.parse(text)


def test_generated_key_lines() -> None:
    first, second = generate_key_line(), generate_key_line("prod-2027")
    ring = Keyring.parse(f"{first}\n{second}")
    assert ring.newest[0] == "prod-2027" and len(ring.newest[1]) == 32
    assert ring.get(ring.ids[0]) != ring.newest[1]
    with pytest.raises(KeyringError):
        generate_key_line("no spaces")


def test_selector() -> None:
    everything = Selector.parse("all")
    assert everything.covers("users/alice.json") and everything.covers("index/projects.json")
    some = Selector.parse(" Secret.Pkg , other_one")
    assert some.projects == {"secret-pkg", "other-one"}
    assert some.covers("files/secret-pkg/ab/secret_pkg-1.0.tar.gz")
    assert some.covers("files/secret-pkg/ab/secret_pkg-1.0-py3-none-any.whl.metadata")
    assert some.covers("projects/secret-pkg.json")
    assert not some.covers("projects/public.json") and not some.covers("files/public/ab/x.whl")
    assert not some.covers("index/projects.json") and not some.covers("users/alice.json")
    assert not Selector.parse("") and not Selector.parse(" , ")
    with pytest.raises(ValueError):
        Selector.parse("all,secret")


@pytest.mark.parametrize(
    "key, covered",
    [
        ("tombstones/secret.json", False),  # deleted files' names: never covered by a project
        ("projects/secret/x.json", False),
        ("tokens/secret.json", False),
        ("audit/events/000000000001.json", False),
    ],
)
def test_selector_covers_only_a_projects_files_and_sidecar(key: str, covered: bool) -> None:
    assert Selector.parse("secret").covers(key) is covered
    assert Selector.parse("all").covers(key)


def test_selector_samples_the_index_the_named_sidecars_and_a_user() -> None:
    some = Selector.parse("b,a")
    assert some.sample_keys() == [
        "index/root.json",
        "index/projects.json",
        "projects/a.json",
        "projects/b.json",
    ]
    assert some.sample_prefixes() == ["projects/", "users/"]


# -- the format ----------------------------------------------------------------------------------


@pytest.mark.parametrize("size", [0, 1, 1023, 1024, 1025, 5400])
def test_round_trip_and_header(size: int) -> None:
    data = SECRET[:size]
    sealed = seal_bytes(data, KEY, RING12, chunk_size=1024)
    header = parse_header(sealed, KEY)
    assert header is not None and sealed.startswith(MAGIC)
    assert (header.key_id, header.plain_size, header.chunk_size) == ("k2", size, 1024)
    assert header.chunks == max(1, -(-size // 1024))
    assert len(sealed) == header.stored_size == header.length + size + 16 * header.chunks
    assert open_bytes(sealed, KEY, RING12) == data
    assert open_bytes(sealed, KEY, RING2) == data  # only the sealing key is needed
    if size:
        assert b"TOP-SECRET" not in sealed
    assert seal_bytes(data, KEY, RING12) != seal_bytes(data, KEY, RING12)  # a fresh nonce each time


def test_plaintext_is_read_as_it_is() -> None:
    for data in (b"", b"{}", b"PK\x03\x04zip", b"Metadata-Version: 2.1\n", MAGIC[:5]):
        assert parse_header(data, KEY) is None
        assert open_bytes(data, KEY, RING1) == data


def test_every_flipped_byte_is_detected() -> None:
    sealed = seal_bytes(SECRET[:3000], KEY, RING1, chunk_size=1024)
    for offset in range(len(sealed)):
        tampered = bytearray(sealed)
        tampered[offset] ^= 0x01
        with pytest.raises(DecryptionError):
            open_bytes(bytes(tampered), KEY, RING1)


def _chunks(sealed: bytes) -> tuple[bytes, list[bytes]]:
    header = parse_header(sealed, KEY)
    assert header is not None
    spans = [header.stored_chunk(i) for i in range(header.chunks)]
    return sealed[: header.length], [sealed[a:b] for a, b in spans]


def test_swapped_dropped_and_spliced_chunks_are_detected() -> None:
    sealed = seal_bytes(SECRET[:4096], KEY, RING1, chunk_size=1024)
    head, chunks = _chunks(sealed)
    swapped = head + chunks[1] + chunks[0] + b"".join(chunks[2:])
    dropped_last = head + b"".join(chunks[:-1])
    dropped_middle = head + chunks[0] + b"".join(chunks[2:]) + chunks[-1]
    _, other_chunks = _chunks(seal_bytes(SECRET[:4096], KEY, RING1, chunk_size=1024))
    spliced = head + other_chunks[0] + b"".join(chunks[1:])  # same key, another object's chunk
    for bad in (swapped, dropped_last, dropped_middle, spliced, sealed[:-1], sealed + b"\0", head):
        with pytest.raises(DecryptionError):
            open_bytes(bad, KEY, RING1)


def test_truncation_with_a_rewritten_size_is_detected() -> None:
    sealed = seal_bytes(SECRET[:4096], KEY, RING1, chunk_size=1024)
    head, chunks = _chunks(sealed)
    header = parse_header(sealed, KEY)
    assert header is not None
    short = bytearray(head)
    short[-8:] = (3072).to_bytes(8, "big")  # claim three chunks, keep three
    with pytest.raises(DecryptionError):
        open_bytes(bytes(short) + b"".join(chunks[:3]), KEY, RING1)


def test_an_object_moved_to_another_key_is_detected() -> None:
    sealed = seal_bytes(SECRET, KEY, RING1)
    with pytest.raises(DecryptionError, match="failed authentication"):
        open_bytes(sealed, "files/demo/abc/other-1.0-py3-none-any.whl", RING1)


def test_wrong_and_missing_keys() -> None:
    sealed = seal_bytes(SECRET, KEY, RING1)
    impostor = Keyring([("k1", bytes(32))])
    with pytest.raises(DecryptionError, match="'k1'") as wrong:
        open_bytes(sealed, KEY, impostor)
    assert not isinstance(wrong.value, MissingKeyError)
    with pytest.raises(MissingKeyError, match="'k1', which is not in the key ring \\(k2\\)"):
        open_bytes(sealed, KEY, RING2)
    with pytest.raises(MissingKeyError, match="the key ring is empty"):
        open_bytes(sealed, KEY, Keyring())


# -- the wrapper ---------------------------------------------------------------------------------


def wrapped(
    ring: Keyring = RING1, selector: Selector | None = None, inner: Any = None, chunk: int = 1024
) -> EncryptedStorage:
    return EncryptedStorage(
        inner if inner is not None else MemoryStorage(),
        ring,
        selector if selector is not None else Selector(everything=True),
        chunk_size=chunk,
    )


async def test_wrapper_seals_at_rest_and_reports_plaintext_sizes() -> None:
    store = wrapped()
    etag = await store.put(KEY, SECRET)
    raw = await store.inner.get(KEY)
    assert raw.etag == etag and b"TOP-SECRET" not in raw.data and raw.data.startswith(MAGIC)
    assert (await store.get(KEY)).data == SECRET
    info = await store.head(KEY)
    assert (info.size, info.etag) == (len(SECRET), etag)
    assert await read_all(store, KEY) == SECRET
    assert await store.get_if_changed(KEY, etag) is None


async def test_every_range_matches_the_plaintext() -> None:
    store = wrapped()
    await store.put(KEY, SECRET[:3500])
    data = SECRET[:3500]
    for start in range(0, 3600, 97):
        for end in [*range(start + 1, 3600, 211), None]:
            assert await read_all(store, KEY, start, end) == data[start:end], (start, end)
    assert await read_all(store, KEY, 1024, 2048) == data[1024:2048]  # exactly one chunk
    assert await read_all(store, KEY, 10, 10) == b""


async def test_a_tampered_chunk_stops_the_stream_before_its_bytes() -> None:
    store = wrapped()
    await store.put(KEY, SECRET)
    raw = bytearray((await store.inner.get(KEY)).data)
    header = parse_header(bytes(raw), KEY)
    assert header is not None
    lo, _ = header.stored_chunk(2)
    raw[lo + 5] ^= 0xFF
    await store.inner.put(KEY, bytes(raw))
    got: list[bytes] = []
    with pytest.raises(DecryptionError, match="chunk 2"):
        async for piece in store.stream(KEY):
            got.append(piece)
    assert b"".join(got) == SECRET[:2048]  # chunks 0 and 1, authenticated, and nothing after
    assert await read_all(store, KEY, 0, 1000) == SECRET[:1000]  # untouched chunks stay readable
    for start, end in ((2048, 2049), (1000, 3000), (2500, None)):
        with pytest.raises(DecryptionError):
            await read_all(store, KEY, start, end)
    with pytest.raises(DecryptionError):
        await store.get(KEY)


async def test_selected_projects_only() -> None:
    store = wrapped(selector=Selector.parse("secret"))
    await store.put("files/secret/ab/secret-1.0.tar.gz", b"sdist bytes")
    await store.put("projects/secret.json", b'{"name": "secret"}')
    await store.put("files/public/ab/public-1.0.tar.gz", b"public bytes")
    await store.put("index/projects.json", b'{"projects": {}}')
    raw = {info.key: (await store.inner.get(info.key)).data async for info in store.list("")}
    assert raw["files/secret/ab/secret-1.0.tar.gz"].startswith(MAGIC)
    assert raw["projects/secret.json"].startswith(MAGIC)
    assert raw["files/public/ab/public-1.0.tar.gz"] == b"public bytes"
    assert raw["index/projects.json"] == b'{"projects": {}}'


async def test_plaintext_that_looks_sealed_is_sealed_or_refused() -> None:
    tricky = MAGIC + b"not really a header"
    store = wrapped(selector=Selector())
    await store.put("files/public/x", tricky)
    assert (await store.get("files/public/x")).data == tricky
    with pytest.raises(StorageError, match="starts like an encrypted object"):
        await wrapped(Keyring(), Selector()).put("files/public/y", tricky)


async def test_without_the_key_nothing_is_served() -> None:
    sealed = wrapped()
    await sealed.put(KEY, SECRET)
    blind = wrapped(Keyring(), Selector(), inner=sealed.inner)
    with pytest.raises(MissingKeyError):
        await blind.get(KEY)
    with pytest.raises(MissingKeyError):
        await read_all(blind, KEY)
    with pytest.raises(MissingKeyError):
        await read_all(blind, KEY, 100, 200)
    await sealed.put("index/projects.json", b"{}")
    problem = await blind.key_problem()
    assert problem is not None and "'k1'" in problem and "not in the key ring" in problem


async def test_start_up_check_names_the_key() -> None:
    store = wrapped()
    await store.put("index/projects.json", b'{"projects": {}}')
    assert await startup_problem(store) is None
    message = await startup_problem(wrapped(RING2, inner=store.inner))
    assert message is not None and message.startswith("Refusing to start") and "'k1'" in message
    impostor = Keyring([("k1", bytes(32))])
    message = await startup_problem(wrapped(impostor, inner=store.inner))
    assert message is not None and "failed authentication" in message
    # A sealed sidecar of a project named in --encrypt is checked too.
    some = wrapped(selector=Selector.parse("secret"))
    await some.put("projects/secret.json", b"{}")
    assert await wrapped(RING2, Selector.parse("secret"), inner=some.inner).key_problem() is not None


async def test_put_file_seals_through_a_temp_file(tmp_path: Path) -> None:
    src = tmp_path / "big.whl"
    data = os.urandom(300_000) + b"TOP-SECRET-MARKER"
    src.write_bytes(data)
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    store = EncryptedStorage(
        LocalStorage(tmp_path / "store"), RING1, Selector(everything=True), tmp_dir=scratch
    )
    info = await store.put_file(KEY, src, create_only=True)
    assert info.size == len(data) and list(scratch.iterdir()) == []
    at_rest = (tmp_path / "store" / KEY).read_bytes()
    assert b"TOP-SECRET-MARKER" not in at_rest and len(at_rest) > len(data)
    assert await read_all(store, KEY) == data
    with pytest.raises(ObjectConflict):
        await store.put_file(KEY, src, create_only=True)
    assert list(scratch.iterdir()) == []


async def test_memory_stays_flat_for_large_objects(tmp_path: Path) -> None:
    size = 24 * 1024 * 1024
    src = tmp_path / "huge.bin"
    src.write_bytes(os.urandom(size))
    store = EncryptedStorage(LocalStorage(tmp_path / "store"), RING1, Selector(everything=True))
    tracemalloc.start()
    try:
        await store.put_file("files/huge/x/huge.bin", src)
        _, put_peak = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        total = 0
        async for chunk in store.stream("files/huge/x/huge.bin"):
            total += len(chunk)
        _, stream_peak = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        async for chunk in store.stream("files/huge/x/huge.bin", size - 100_000, size - 10):
            total += len(chunk)
        _, range_peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert total == size + 99_990
    assert max(put_peak, stream_peak, range_peak) < 4 * 1024 * 1024, (put_peak, stream_peak, range_peak)


class Presigning(MemoryStorage):
    async def presigned_url(self, key: str, expires: int) -> str:
        return f"https://bucket.example/{key}?expires={expires}"


async def test_no_presigned_urls_for_encrypted_content() -> None:
    store = wrapped(selector=Selector.parse("secret"), inner=Presigning())
    await store.put("files/public/a/p-1.0.tar.gz", b"plain")
    await store.put("files/secret/a/s-1.0.tar.gz", b"sealed")
    assert (await store.presigned_url("files/public/a/p-1.0.tar.gz", 60)).startswith("https://")
    with pytest.raises(PresignUnavailable):
        await store.presigned_url("files/secret/a/s-1.0.tar.gz", 60)
    # Sealed earlier, not covered any more: still refused, by its header.
    narrowed = wrapped(selector=Selector(), inner=store.inner)
    with pytest.raises(PresignUnavailable):
        await narrowed.presigned_url("files/secret/a/s-1.0.tar.gz", 60)
    with pytest.raises(PresignUnavailable):
        await wrapped().presigned_url("files/public/a/p-1.0.tar.gz", 60)  # no presigning inner


# -- rekey ---------------------------------------------------------------------------------------


async def test_rekey_rotates_seals_and_keeps_everything_readable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(enc, "SMALL_OBJECT", 4000)  # the 5400-byte artifact takes the large path
    inner = MemoryStorage()
    old = wrapped(RING1, Selector.parse("secret"), inner=inner)
    await old.put(KEY.replace("demo", "secret"), SECRET)
    await old.put("projects/secret.json", b'{"name": "secret"}')
    await inner.put("projects/later.json", b'{"name": "later"}')  # plain: covered only from now on
    await inner.put("files/public/a/p.tar.gz", b"public")  # never covered
    await inner.put("_probe/abc", b"1")

    new = wrapped(RING12, Selector.parse("secret,later"), inner=inner)
    seen: list[tuple[int, int]] = []
    report = await new.rekey(progress=lambda done, total, _key: seen.append((done, total)))
    assert report.failed == [] and report.examined == 4 and seen[-1] == (4, 4)
    assert (report.rewritten, report.unchanged) == (3, 1)
    assert report.key_ids == {"k2": 3, "plain": 1}
    for key in (KEY.replace("demo", "secret"), "projects/secret.json", "projects/later.json"):
        header = parse_header((await inner.get(key)).data, key)
        assert header is not None and header.key_id == "k2", key
    assert (await inner.get("files/public/a/p.tar.gz")).data == b"public"

    only_new = wrapped(RING2, Selector.parse("secret,later"), inner=inner)
    assert (await only_new.get(KEY.replace("demo", "secret"))).data == SECRET
    assert await read_all(only_new, KEY.replace("demo", "secret"), 100, 5000) == SECRET[100:5000]
    assert (await only_new.get("projects/later.json")).data == b'{"name": "later"}'
    again = await only_new.rekey()
    assert again.rewritten == 0 and again.unchanged == 4


async def test_rekey_reports_what_it_cannot_open() -> None:
    inner = MemoryStorage()
    await wrapped(RING1, inner=inner).put("projects/a.json", b"{}")
    report = await wrapped(RING2, inner=inner).rekey()
    assert len(report.failed) == 1 and "'k1'" in report.failed[0]


class RacingStore(MemoryStorage):
    """A store where another writer changes the object between rekey's read and its write."""

    def __init__(self) -> None:
        super().__init__()
        self.raced = False

    async def put(
        self, key: str, data: bytes, *, create_only: bool = False, if_match: str | None = None
    ) -> str:
        if if_match is not None and not self.raced:
            self.raced = True
            await super().put(key, seal_bytes(b'{"changed": true}', key, RING12))
        return await super().put(key, data, create_only=create_only, if_match=if_match)


async def test_rekey_never_overwrites_a_concurrent_change() -> None:
    inner = RacingStore()
    await wrapped(RING1, inner=inner).put("projects/a.json", b'{"changed": false}')
    report = await wrapped(RING12, inner=inner).rekey()
    assert inner.raced and report.failed == [] and report.unchanged == 1  # the writer's version won
    assert (await wrapped(RING2, inner=inner).get("projects/a.json")).data == b'{"changed": true}'


# -- settings ------------------------------------------------------------------------------------


def test_keyring_from_file_or_environment(tmp_path: Path) -> None:
    ring_file = tmp_path / "keys"
    ring_file.write_text(f"k1:{b64(K1[1])}\n")
    from_file = load_keyring(Settings(encryption_keys_file=str(ring_file)), {})
    assert from_file.ids == ["k1"]
    from_env = load_keyring(
        Settings(), {"REGISTRY_INDEX_ENCRYPTION_KEYS": f"k1:{b64(K1[1])},k2:{b64(K2[1])}"}
    )
    assert from_env.newest[0] == "k2"
    with pytest.raises(SettingsError, match="given twice"):
        load_keyring(Settings(encryption_keys_file=str(ring_file)), {"REGISTRY_INDEX_ENCRYPTION_KEYS": "x"})
    with pytest.raises(SettingsError, match="cannot read"):
        load_keyring(Settings(encryption_keys_file=str(tmp_path / "missing")), {})
    with pytest.raises(SettingsError, match="REGISTRY_INDEX_ENCRYPTION_KEYS"):
        load_keyring(Settings(), {"REGISTRY_INDEX_ENCRYPTION_KEYS": "k1:short"})


@pytest.mark.parametrize(
    "settings, message",
    [
        (Settings(encrypt="all"), "needs keys"),
        (Settings(s3_sse="sse-s3"), "needs an s3:// store"),
        (Settings(storage="s3://b", s3_sse="sse-c"), "needs keys"),
        (Settings(storage="s3://b", s3_sse="sse-s3", s3_sse_kms_key_id="k"), "needs --s3-sse sse-kms"),
    ],
)
def test_settings_refused(settings: Settings, message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        check_settings(settings, {})


def test_settings_from_environment() -> None:
    settings = Settings.from_env(
        {
            "REGISTRY_INDEX_ENCRYPT": "all",
            "REGISTRY_INDEX_S3_SSE": "sse-c",
            "REGISTRY_INDEX_STORAGE": "s3://b",
        }
    )
    assert (settings.encrypt, settings.s3_sse) == ("all", "sse-c")
    with pytest.raises(SettingsError, match="REGISTRY_INDEX_S3_SSE"):
        Settings.from_env({"REGISTRY_INDEX_S3_SSE": "rot13"})


def test_open_store_always_wraps(tmp_path: Path) -> None:
    store = open_store(Settings(storage=str(tmp_path / "s")), {})
    assert isinstance(store, EncryptedStorage) and not store.selector and len(store.keyring) == 0


# -- S3 server-side encryption parameters (moto; SSE-C on a real server is a functional test) ----


@pytest.fixture
def moto_client() -> Any:
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket="sse")
        yield client


def record_calls(client: Any) -> list[tuple[str, dict[str, Any]]]:
    calls: list[tuple[str, dict[str, Any]]] = []

    def hook(params: dict[str, Any], model: Any, **_: Any) -> None:
        calls.append((model.name, dict(params)))

    client.meta.events.register("provide-client-params.s3.*", hook)
    return calls


async def _write_small_and_multipart(store: S3Storage, tmp_path: Path) -> None:
    await store.put("small", b"x", create_only=True)
    big = tmp_path / "big"
    big.write_bytes(os.urandom(5 * 1024 * 1024 + 10))
    await store.put_file("big", big)


async def test_sse_kms_parameters_pass_through(moto_client: Any, tmp_path: Path) -> None:
    calls = record_calls(moto_client)
    store = S3Storage(
        "sse", client=moto_client, part_size=5 * 1024 * 1024, sse="sse-kms", sse_kms_key_id="alias/ri"
    )
    with contextlib.suppress(StorageError):  # moto may want the KMS key to exist: the parameters count
        await _write_small_and_multipart(store, tmp_path)
    writes = [params for name, params in calls if name in ("PutObject", "CreateMultipartUpload")]
    assert writes and all(
        p["ServerSideEncryption"] == "aws:kms" and p["SSEKMSKeyId"] == "alias/ri" for p in writes
    )


async def test_sse_s3_parameters_and_currency(moto_client: Any, tmp_path: Path) -> None:
    calls = record_calls(moto_client)
    store = S3Storage("sse", client=moto_client, part_size=5 * 1024 * 1024, sse="sse-s3")
    await _write_small_and_multipart(store, tmp_path)
    writes = [params for name, params in calls if name in ("PutObject", "CreateMultipartUpload")]
    assert len(writes) == 2 and all(p["ServerSideEncryption"] == "AES256" for p in writes)
    assert await store.encryption_is_current("small")
    moto_client.put_object(Bucket="sse", Key="old", Body=b"written before --s3-sse")
    assert not await store.encryption_is_current("old")


async def test_sse_c_key_on_every_call(moto_client: Any, tmp_path: Path) -> None:
    calls = record_calls(moto_client)
    ring = [("k1", b"\x01" * 32), ("k2", b"\x02" * 32)]
    store = S3Storage("sse", client=moto_client, part_size=5 * 1024 * 1024, sse="sse-c", sse_c_keys=ring)
    await _write_small_and_multipart(store, tmp_path)
    await store.head("small")
    await read_all(store, "small")
    await store.get("small")
    names = {name for name, params in calls if "SSECustomerKey" in params}
    assert names >= {
        "PutObject",
        "CreateMultipartUpload",
        "UploadPart",
        "CompleteMultipartUpload",
        "HeadObject",
        "GetObject",
    }
    assert {p["SSECustomerKey"] for _, p in calls if "SSECustomerKey" in p} == {b"\x02" * 32}  # the newest
    with pytest.raises(PresignUnavailable):
        await store.presigned_url("small", 60)
