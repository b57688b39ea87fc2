"""The object-key layout of the store, in one place (documented in docs/storage.md)."""

from __future__ import annotations

PROJECT_INDEX = "index/projects.json"


def sidecar(project: str) -> str:
    return f"projects/{project}.json"


def tombstones(project: str) -> str:
    # The names of a deleted project's files, which a project of the same name inherits.
    return f"tombstones/{project}.json"


def artifact(project: str, sha256: str, filename: str) -> str:
    # The digest in the key makes a crashed upload's orphan harmless and keeps keys write-once.
    return f"files/{project}/{sha256}/{filename}"


def core_metadata(artifact_key: str) -> str:
    return f"{artifact_key}.metadata"


def user(name: str) -> str:
    return f"users/{name}.json"


def token(digest: str) -> str:
    return f"tokens/{digest}.json"
