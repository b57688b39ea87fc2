"""The object-key layout of the store, and its inverse, in one place (docs/storage.md).

Nothing else spells a key or a prefix: code that lists a part of the store takes the prefix
from here, and code that sees a key asks ``project_of`` / ``token_of`` what it names.
"""

from __future__ import annotations

PROJECT_INDEX = "index/projects.json"  # the root index before the change feed (read once, to migrate)
ROOT_INDEX = "index/root.json"  # which snapshot shards make the root index, and at which serial
CHANGES = "changes/"
CHANGES_PER_FOLDER = 10_000
SIDECARS = "projects/"
SEGMENTS = "segments/"
TOMBSTONES = "tombstones/"
FILES = "files/"
USERS = "users/"
UPSTREAM = "upstream/"
TOKENS = "tokens/"
TRUSTED = "trusted/"
TRUSTED_PUBLISHERS = f"{TRUSTED}publishers.json"  # every trusted publisher, in one object (they are few)
_JSON = ".json"


def sidecar(project: str) -> str:
    return f"{SIDECARS}{project}{_JSON}"


def segment(project: str, digest: str) -> str:
    # A big project's sealed run of files (domain/segments.py): content-addressed, create-only.
    return f"{SEGMENTS}{project}/{digest}{_JSON}"


def segments(project: str) -> str:
    """The prefix of a project's segments."""
    return f"{SEGMENTS}{project}/"


def tombstones(project: str) -> str:
    # The names of a deleted project's files, which a project of the same name inherits.
    return f"{TOMBSTONES}{project}{_JSON}"


def artifact(project: str, sha256: str, filename: str) -> str:
    # The digest in the key makes a crashed upload's orphan harmless and keeps keys write-once.
    return f"{FILES}{project}/{sha256}/{filename}"


def core_metadata(artifact_key: str) -> str:
    return f"{artifact_key}.metadata"


def change(serial: int) -> str:
    # Zero-padded, so the store lists a folder in serial order; 10,000 to a folder keeps a
    # local directory small at 10 million changes.
    return f"{CHANGES}{serial // CHANGES_PER_FOLDER:08d}/{serial:012d}{_JSON}"


def root_shard(shard: int, serial: int) -> str:
    # Written once (create-only) for the serial it holds the shard at; the pointer names it.
    return f"index/root/{shard:03d}/{serial:012d}{_JSON}"


def user(name: str) -> str:
    return f"{USERS}{name}{_JSON}"


def token(digest: str) -> str:
    return f"{TOKENS}{digest}{_JSON}"


def spent_identity(digest: str) -> str:
    # An OIDC token exchanged once: create-only, so a replay on any instance loses the race.
    return f"{TRUSTED}spent/{digest[:2]}/{digest}{_JSON}"


def upstream_page(upstream: str, project: str) -> str:
    # An upstream's data lives under its own prefix: the same filename from two origins, or
    # from an upstream and a hosted upload, can never share a key.
    return f"{UPSTREAM}{upstream}/projects/{project}{_JSON}"


def upstream_blob(upstream: str, sha256: str, filename: str) -> str:
    # Content-addressed and create-only, like hosted files; written only after verification.
    return f"{UPSTREAM}{upstream}/blobs/{sha256}/{filename}"


def upstream_pins() -> str:
    # Kept apart from the sidecars: a pinned name is not hosted, and must not look hosted. One
    # object for every pin: pins are few and rare, and a relayed page then never waits on a
    # store read of its own to learn that its name has none.
    return f"{UPSTREAM}pins{_JSON}"


def _json_leaf(key: str, prefix: str) -> str | None:
    """``prefix`` + NAME + ``.json`` → NAME, for a NAME with no slash; None for any other key."""
    if not key.startswith(prefix) or not key.endswith(_JSON):
        return None
    name = key[len(prefix) : -len(_JSON)]
    return name if name and "/" not in name else None


def sidecar_of(key: str) -> str | None:
    """The project whose sidecar ``key`` is, or None (the inverse of ``sidecar``)."""
    return _json_leaf(key, SIDECARS)


def token_of(key: str) -> str | None:
    """The token digest a token record's key holds, or None (the inverse of ``token``)."""
    return _json_leaf(key, TOKENS)


def project_of(key: str) -> str | None:
    """The normalized project a key belongs to, or None for keys of no project.

    A project owns its sidecar and its segments, its tombstones, its files and their core
    metadata; the project index, users, tokens, the audit log and advisories belong to none.
    """
    for prefix in (FILES, SEGMENTS):
        if key.startswith(prefix):
            name, slash, _ = key[len(prefix) :].partition("/")
            return name if name and slash else None
    return sidecar_of(key) or _json_leaf(key, TOMBSTONES)
