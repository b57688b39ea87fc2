"""Use registry_index as a library: publish, search, inspect, validate, yank, download.

Run it with the project's virtualenv:  .venv/bin/python docs/examples/registry_usage.py [STORE]
STORE is a directory (default: a temporary one), s3://BUCKET/PREFIX, or memory:.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from registry_index.library import SyncRegistry, open_registry
from registry_index.testing import WheelSpec, build_sdist, build_wheel


def main(store: str, workdir: Path) -> None:
    # Two small packages, one depending on the other, built here so the example is self-contained.
    base = build_wheel(workdir, WheelSpec("example-base", "1.0", summary="The base of the example"))
    app = build_wheel(
        workdir,
        WheelSpec(
            "example-app", "2.0", requires_dist=["example-base>=1"], summary="An app that needs example-base"
        ),
    )
    sdist = build_sdist(workdir, "example-app", "2.0")

    with SyncRegistry(open_registry(store)) as registry:
        print("problems in the app wheel:", registry.validate(app) or "none")
        for path in (base, app, sdist):
            result = registry.publish(path, user="example-bot")
            print(f"published {result.filename} (new: {result.created})")

        hits = registry.search("example")
        print("search 'example':", [hit.name for hit in hits])

        info = registry.info("example-app")
        print("latest example-app:", info["info"]["version"], "requires", info["info"]["requires_dist"])

        print("pins for example-app:", registry.resolve("example-app"))
        tree = registry.dependency_tree("example-app")
        print("example-app depends on:", [(n["name"], n["version"]) for n in tree["tree"]])

        registry.yank("example-base", "1.0", reason="superseded")
        print("example-base 1.0 yanked:", registry.project("example-base").releases["1"].yanked)

        data = registry.download("example-app", app.name)
        print(f"downloaded {app.name}: {len(data)} bytes, identical: {data == app.read_bytes()}")


if __name__ == "__main__":
    with tempfile.TemporaryDirectory() as tmp:
        main(sys.argv[1] if len(sys.argv) > 1 else str(Path(tmp) / "store"), Path(tmp))
