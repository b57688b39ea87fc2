"""How long the web UI takes to render a project page with 2,000 files (issue 5: well under 100 ms).

    .venv/bin/python bench/web_render.py [--files 2000] [--runs 40]

Builds an in-memory registry (MemoryStorage), publishes one real wheel with a Markdown README,
then adds the remaining files to the sidecar directly, in two shapes: one release with every
file, and releases of two files each. Each page is requested in-process through the ASGI app
(routing, sidecar cache, grouping, Jinja2, headers), once to warm the caches, then ``--runs``
times; the median and the slowest run are printed. "regrouped" runs also rebuild the page's
per-serial view of the sidecar each time (what the first request after an upload pays).
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import statistics
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from registry_index.app import create_app
from registry_index.domain.model import FileEntry, Project
from registry_index.names import canonical_version
from registry_index.registry import Registry
from registry_index.settings import Settings
from registry_index.storage import MemoryStorage
from registry_index.testing import WheelSpec, build_wheel, metadata_text
from registry_index.web import view

README = "# Big project\n\nA project with many files.\n\n" + "\n".join(
    f"* item {i} with `code` and a [link](https://example.com/{i})" for i in range(50)
)
TAGS = [f"cp3{m}-cp3{m}-{plat}" for m in range(8, 14) for plat in ("manylinux_2_17_x86_64", "win_amd64")]


def _entry(name: str, version: str, n: int, template: FileEntry) -> FileEntry:
    tag = TAGS[n % len(TAGS)]
    filename = f"{name}-{version}-{n}-{tag}.whl"
    digest = hashlib.sha256(filename.encode()).hexdigest()
    return replace(template, filename=filename, version=version, sha256=digest, size=100_000 + n * 37)


async def build(registry: Registry, name: str, files: int, per_release: int, tmp: Path) -> None:
    user = await registry.accounts.get_user("alice") or await registry.accounts.add_user(
        "alice", "password-1"
    )
    text = metadata_text(
        name,
        "0.0.1",
        summary="A project with many files",
        requires_dist=["requests>=2.31", "rich>=13; extra == 'cli'"],
        requires_python=">=3.9",
        extra=[("Description-Content-Type", "text/markdown")],
    )
    await registry.publish_path(build_wheel(tmp, WheelSpec(name, "0.0.1", metadata=text + README)), user)
    project = await registry.project(name)
    template = project.files[0]

    def grow(current: Project | None) -> Project:
        assert current is not None
        releases = dict(current.releases)
        entries = list(current.files)
        for n in range(files - 1):
            version = f"1.{n // per_release}.0"
            key = canonical_version(version)
            if key not in releases:
                releases[key] = replace(current.releases[canonical_version("0.0.1")], version=version)
            entries.append(_entry(name.replace("-", "_"), version, n, template))
        return current.bump(releases=releases, files=tuple(entries))

    await registry.meta.update_project(name, grow)


async def timed(
    client: httpx.AsyncClient, path: str, runs: int, cold: bool = False
) -> tuple[float, float, int]:
    """Median and slowest in ms, and the page size; ``cold`` drops the per-serial view cache each run."""
    response = await client.get(path)
    assert response.status_code == 200, (path, response.status_code)
    samples = []
    for _ in range(runs):
        if cold:
            view._VIEWS.clear()
        start = time.perf_counter()
        response = await client.get(path)
        samples.append(time.perf_counter() - start)
        assert response.status_code == 200
    return statistics.median(samples) * 1000, max(samples) * 1000, len(response.content)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=40)
    args = parser.parse_args()
    registry = Registry(MemoryStorage())
    shapes = [("one-release", args.files), ("many-releases", 2)]
    with tempfile.TemporaryDirectory() as tmp:
        for name, per_release in shapes:
            await build(registry, name, args.files, per_release, Path(tmp))
    app = create_app(Settings(storage="memory:"), registry=registry)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
        print(f"web UI render times, {args.runs} runs each, in-process ASGI (median / slowest):")
        for name, _ in shapes:
            project = await registry.project(name)
            versions = len(project.releases)
            pages = [f"/project/{name}/", f"/project/{name}/{project.files[-1].version}/"]
            for path in pages:
                for cold in (False, True):
                    median, slowest, size = await timed(client, path, args.runs, cold)
                    print(
                        f"  {path:<36} {len(project.files):>5} files, {versions:>4} releases"
                        f"{', regrouped' if cold else ''}: {median:6.1f} ms / {slowest:6.1f} ms"
                        f"  ({size / 1024:.0f} KiB)"
                    )
        for path in ("/", "/projects/", "/search?q=release"):
            median, slowest, size = await timed(client, path, args.runs)
            print(f"  {path:<36} {median:6.1f} ms / {slowest:6.1f} ms  ({size / 1024:.0f} KiB)")


if __name__ == "__main__":
    asyncio.run(main())
