"""What a backend may offer beyond the Storage protocol, as Protocols to test with isinstance.

Callers ask ``isinstance(store, SupportsPresign)`` instead of probing with ``getattr``: the
name of the feature and its signature live here once, mypy checks the call, and a
third-party backend sees in one place what it can add. Every one is optional; a store
without it still serves the index.

The encryption wrapper (``registry_index.encryption.EncryptedStorage``) always has the three
methods and forwards each to its inner store: ``check`` does nothing and
``abort_stale_uploads`` returns 0 when the inner store lacks them, and ``presigned_url``
raises PresignUnavailable, as it does for any object it keeps encrypted. It declares
``conditional_writes`` only when its inner store does.
"""

from __future__ import annotations

from typing import Literal, Protocol, runtime_checkable

__all__ = [
    "ConditionalReach",
    "SupportsConditionalWrites",
    "SupportsHealthCheck",
    "SupportsPresign",
    "SupportsServerSideEncryption",
    "SupportsStaleUploadCleanup",
    "declared_conditional_writes",
]


@runtime_checkable
class SupportsPresign(Protocol):
    """Short-lived URLs to an object's stored bytes, for ``--download redirect``."""

    async def presigned_url(self, key: str, expires: int) -> str:
        """A URL that serves ``key`` for ``expires`` seconds.

        Raises PresignUnavailable (storage.base) for an object the URL would serve wrongly,
        e.g. encrypted at rest; the caller then streams the object itself.
        """
        ...


@runtime_checkable
class SupportsHealthCheck(Protocol):
    """A direct round trip to the backend for readiness probes (``/readyz``)."""

    async def check(self) -> None:
        """Return if the backend answers; raise StorageError saying what is wrong otherwise."""
        ...


@runtime_checkable
class SupportsStaleUploadCleanup(Protocol):
    """Removal of partial uploads a killed process left behind (S3 multipart uploads)."""

    async def abort_stale_uploads(self, older_than: float) -> int:
        """Abort partial uploads started more than ``older_than`` seconds ago; how many."""
        ...


@runtime_checkable
class SupportsServerSideEncryption(Protocol):
    """A backend that encrypts on its side (S3 ``--s3-sse``) and knows each object's state."""

    async def encryption_is_current(self, key: str) -> bool:
        """Whether ``key`` is stored with today's settings; ``rekey`` rewrites it if not."""
        ...


# Between which writers a backend enforces both conditional writes in its own code.
# "process": the tasks of one process (memory:). "host": the processes of one host (a local
# directory, through link() and flock; not NFS). "shared": every client of the backend,
# on any host (a database, or a server the backend's authors vouch for).
ConditionalReach = Literal["process", "host", "shared"]


@runtime_checkable
class SupportsConditionalWrites(Protocol):
    """A backend that itself guarantees ``create_only`` and ``if_match``, atomically.

    Every Storage takes both arguments, and correctness rests on them (storage.base). What
    differs is who enforces them. A backend with this capability does so in its own code,
    for the writers ``conditional_writes`` names, so the guarantee is the backend's own
    and holds whatever it runs on. A backend without it forwards the conditions to a server
    that may ignore them (S3: ``If-None-Match: *`` and ``If-Match`` are honoured by AWS,
    SeaweedFS and MinIO, not by every S3-compatible server); only the start-up probe
    (storage/probe.py), which ``serve`` always runs, shows that such a store refuses both.
    """

    @property
    def conditional_writes(self) -> ConditionalReach: ...


def declared_conditional_writes(store: object) -> ConditionalReach | None:
    """Between which writers ``store`` guarantees conditional writes itself; None: it does not say."""
    return store.conditional_writes if isinstance(store, SupportsConditionalWrites) else None
