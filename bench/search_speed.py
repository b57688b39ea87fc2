"""How long a search takes over tens of thousands of projects (the in-memory index).

    .venv/bin/python bench/search_speed.py [PROJECTS]

Prints the median of five runs per query. Not a test: figures depend on the machine.
"""

from __future__ import annotations

import statistics
import sys
import time

from registry_index.domain.model import Project, Release
from registry_index.search.rank import Query, document, search
from registry_index.testing import placeholder_entry


def project(n: int) -> Project:
    version = f"1.{n % 7}"
    entry = placeholder_entry(f"pkg_{n}-{version}.tar.gz", version)
    release = Release(version, summary=f"summary number {n} about things", metadata={"keywords": ["alpha"]})
    return Project(f"pkg-{n}", f"pkg-{n}", "x", releases={version: release}, files=(entry,))


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 30_000
    docs = [d for d in (document(project(n)) for n in range(count)) if d is not None]
    print(f"{count} projects")
    for q in (f"pkg-{count - 1}", "number 123", "things", "nothing-matches"):
        times = []
        for _ in range(5):
            start = time.perf_counter()
            hits = search(docs, Query(q=q))
            times.append((time.perf_counter() - start) * 1000)
        print(f"  q={q!r:22} {len(hits):>6} results  median {statistics.median(times):6.1f} ms")


if __name__ == "__main__":
    main()
