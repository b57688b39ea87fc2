"""The synthetic corpus: the same small valid wheels and sdists for every server.

The corpus is laid out by stage, so an index can grow from a hundred projects to the full
count and be measured at each size: ``stage-0100/`` holds the first hundred projects (the
50-file project and the dependency chain among them), ``stage-1000/`` the next nine hundred,
and so on; the 2,000-file project comes after the last stage, from a folder of its own. Every stage is split into
shards by project (every file of a project in one shard), so loaders can work in parallel
without contending for one project's sidecar.
"""

from __future__ import annotations

import hashlib
import json
import random
import shutil
import zipfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from packaging.utils import canonicalize_name

from registry_index.testing import WheelSpec, build_sdist, build_wheel, dist_name

PAGE_50 = "django-audit-trail"  # 25 versions, a wheel and an sdist each: 50 files
PAGE_BIG = "cloud-storage-sdk"  # BIG_FILES / 2 versions: 2,000 files by default
CHAIN = [  # CHAIN[0] depends on CHAIN[1], which depends on CHAIN[2], ...
    "acme-cli",
    "acme-api",
    "acme-http",
    "acme-auth",
    "acme-models",
    "acme-db",
    "acme-cache",
    "acme-config",
    "acme-logging",
    "acme-utils",
]
CHAIN_VERSIONS = ("1.0.0", "1.1.0", "1.2.0")
SHARDS = 2
LAYOUT_VERSION = 5  # bump when the files change, so a cached corpus is rebuilt

_PREFIXES = ["", "py", "django-", "flask-", "pytest-", "sphinx-", "aws-", "azure-", "types-", "jupyter-"]
_WORD_TEXT = (
    "json yaml toml http async cache redis kafka mongo sql orm auth oauth jwt crypto hash image pdf "
    "csv excel xml html markdown template cli config logging metrics trace otel prom grpc proto "
    "graph neo vector embed token text nlp vision audio video stream queue task job worker cron "
    "retry rate limit pool conn socket dns mail smtp imap ftp ssh git docker kube helm terraform "
    "cloud storage blob s3 gcs bucket file path glob watch diff patch merge sync backup archive zip "
    "tar compress lz4 zstd snappy arrow parquet pandas numpy frame table schema model form valid "
    "serial pickle msgpack avro thrift rest api client server proxy router middleware session cookie "
    "cors csrf admin audit log event signal hook plugin loader import build wheel package version "
    "semver date time zone locale i18n color term shell prompt progress table pretty print debug "
    "profile bench test mock fake fixture snapshot coverage lint format style type check stub"
)
_WORDS = _WORD_TEXT.split()
_SUFFIXES = ["", "-utils", "-client", "-sdk", "-tools", "-core", "-cli", "-api", "-plugin", "-lib", "-py"]


@dataclass(frozen=True)
class CorpusSpec:
    stages: tuple[int, ...] = (100, 1000, 10000)  # cumulative project counts
    versions: int = 1  # versions per filler project, each a wheel and an sdist
    big_files: int = 2000  # files of the large project
    chain_payload_kib: int = 256  # incompressible bytes inside each chain wheel
    seed: int = 7

    def key(self) -> str:
        text = json.dumps({**asdict(self), "layout": LAYOUT_VERSION}, sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:12]


@dataclass(frozen=True)
class Corpus:
    root: Path
    spec: CorpusSpec

    def stage_dir(self, index: int) -> Path:
        return self.root / f"stage-{self.spec.stages[index]:06d}"

    def shards(self, index: int) -> list[Path]:
        """The stage's filler shards; the large project has a folder of its own (``big``)."""
        return sorted(p for p in self.stage_dir(index).iterdir() if p.is_dir() and p.name != "big")

    def big(self) -> Path:
        return self.stage_dir(len(self.spec.stages) - 1) / "big"

    def files(self, index: int) -> list[Path]:
        return sorted(p for p in self.stage_dir(index).rglob("*") if p.is_file())


def filler_names(count: int, seed: int, taken: set[str]) -> list[str]:
    """``count`` distinct, realistic-looking project names (deterministic)."""
    rng = random.Random(seed)
    names: list[str] = []
    seen = set(taken)
    while len(names) < count:
        words = rng.sample(_WORDS, rng.choice((1, 2, 2, 3)))
        name = rng.choice(_PREFIXES) + "-".join(words) + rng.choice(_SUFFIXES)
        if rng.random() < 0.15:
            name = name.replace("-", "_")
        key = canonicalize_name(name)
        if key not in seen:
            seen.add(key)
            names.append(name)
    return names


def _write_release(
    directory: Path, name: str, version: str, requires: Sequence[str] = (), payload: bytes = b""
) -> None:
    files = {f"{dist_name(name)}/_data.bin": payload} if payload else {}
    spec = WheelSpec(
        name, version, requires_dist=requires, requires_python=">=3.8", files=files, summary=f"The {name}"
    )
    build_wheel(directory, spec)
    build_sdist(directory, name, version, requires_dist=requires, requires_python=">=3.8")


def _versions(rng: random.Random, count: int) -> Iterator[str]:
    major, minor = rng.randint(0, 4), rng.randint(0, 20)
    for n in range(count):
        yield f"{major}.{minor + n // 10}.{n % 10}"


def build_corpus(spec: CorpusSpec, root: Path, log: Callable[[str], None] = print) -> Corpus:
    """Build the corpus under ``root`` (reused when one with the same spec is there)."""
    corpus = Corpus(root / f"corpus-{spec.key()}", spec)
    if (corpus.root / "done").exists():
        return corpus
    shutil.rmtree(corpus.root, ignore_errors=True)
    rng = random.Random(spec.seed)
    specials = {str(canonicalize_name(n)) for n in (PAGE_50, PAGE_BIG, *CHAIN)}
    fillers = iter(filler_names(spec.stages[-1], spec.seed, specials))
    previous = 0
    for index, total in enumerate(spec.stages):
        stage = corpus.stage_dir(index)
        shards = [stage / f"shard-{n}" for n in range(SHARDS)]
        for shard in shards:
            shard.mkdir(parents=True)
        projects = total - previous
        if index == 0:
            for version in _versions(rng, 25):
                _write_release(shards[-1], PAGE_50, version)
            payload = random.Random(spec.seed + 1).randbytes(spec.chain_payload_kib * 1024)
            for n, name in enumerate(CHAIN):
                nxt = CHAIN[n + 1] if n + 1 < len(CHAIN) else None
                for version in CHAIN_VERSIONS:
                    requires = [f"{nxt}>=1.0"] if nxt else []
                    _write_release(shards[0], name, version, requires, payload)
            projects -= 1 + len(CHAIN)
        if index == len(spec.stages) - 1 and spec.big_files:
            projects -= 1
            (stage / "big").mkdir()
            for version in _versions(rng, spec.big_files // 2):
                _write_release(stage / "big", PAGE_BIG, version)
        for n in range(max(0, projects)):
            name = next(fillers)
            for version in _versions(rng, spec.versions):
                _write_release(shards[n % SHARDS], name, version)
        log(f"corpus: stage {total} projects built in {stage}")
        previous = total
    (corpus.root / "done").write_text("ok\n")
    return corpus


def upload_batch(directory: Path, count: int, prefix: str = "upload-bench") -> list[Path]:
    """``count`` small files (a wheel and an sdist per release) in ten fresh projects."""
    directory.mkdir(parents=True, exist_ok=True)
    releases = max(1, count // 2)
    for n in range(releases):
        _write_release(directory, f"{prefix}-{n % 10}", f"1.0.{n // 10}")
    return sorted(p for p in directory.iterdir() if p.is_file())[:count]


def big_wheel(directory: Path, name: str, size: int) -> Path:
    """A valid wheel of about ``size`` bytes (stored, not compressed), written as a stream."""
    directory.mkdir(parents=True, exist_ok=True)
    version = f"1.0.{size}"  # one file per size, reused by later runs
    base = f"{dist_name(name)}-{version}"
    path = directory / f"{base}-py3-none-any.whl"
    if path.exists():
        return path
    block = random.Random(size).randbytes(4 * 1024 * 1024)
    info = f"{base}.dist-info"
    small = {
        f"{dist_name(name)}/__init__.py": b"",
        f"{info}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n\n".encode(),
        f"{info}/WHEEL": b"Wheel-Version: 1.0\nRoot-Is-Purelib: true\nTag: py3-none-any\n\n",
    }
    record: list[str] = []
    partial = path.with_name(path.name + ".part")
    with zipfile.ZipFile(partial, "w", zipfile.ZIP_STORED, allowZip64=True) as zf:
        digest = hashlib.sha256()
        member = f"{dist_name(name)}/blob.bin"
        written = 0
        with zf.open(member, "w", force_zip64=True) as out:
            while written < size:
                chunk = block[: min(len(block), size - written)]
                out.write(chunk)
                digest.update(chunk)
                written += len(chunk)
        record.append(f"{member},sha256={_b64(digest.digest())},{written}")
        for member, data in small.items():
            zf.writestr(member, data)
            record.append(f"{member},sha256={_b64(hashlib.sha256(data).digest())},{len(data)}")
        record.append(f"{info}/RECORD,,")
        zf.writestr(f"{info}/RECORD", "\n".join(record) + "\n")
    partial.replace(path)
    return path


def _b64(raw: bytes) -> str:
    import base64

    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()
