"""S3 server-side encryption (``--s3-sse``): the request parameters each mode adds, as data.

Pure: S3Storage (s3.py) merges these into its boto3 calls. SSE-S3 and SSE-KMS name the
mode on writes only; SSE-C sends the customer key on every write and read, and reads try
each key of the ring because an object keeps the key it was written with.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

SSE_MODES = ("", "sse-s3", "sse-kms", "sse-c")


def _customer_key(key: bytes) -> dict[str, Any]:
    return {"SSECustomerAlgorithm": "AES256", "SSECustomerKey": key}  # boto3 adds the MD5


class ServerSideEncryption:
    """One ``--s3-sse`` mode with its key id (SSE-KMS) or key ring (SSE-C, oldest first)."""

    def __init__(
        self, mode: str = "", kms_key_id: str = "", c_keys: Sequence[tuple[str, bytes]] = ()
    ) -> None:
        if mode not in SSE_MODES:
            raise ValueError(f"--s3-sse: expected one of sse-s3, sse-kms, sse-c, got {mode!r}")
        if mode == "sse-c" and not c_keys:
            raise ValueError(
                "--s3-sse sse-c needs keys: set --encryption-keys or REGISTRY_INDEX_ENCRYPTION_KEYS"
            )
        if kms_key_id and mode != "sse-kms":
            raise ValueError("--s3-sse-kms-key-id needs --s3-sse sse-kms")
        self.mode = mode
        self.kms_key_id = kms_key_id
        self._c_keys = list(c_keys)

    def __repr__(self) -> str:  # never the customer keys
        return f"ServerSideEncryption({self.mode or 'off'})"

    @property
    def key_ids(self) -> list[str]:
        return [key_id for key_id, _ in self._c_keys]

    def write_params(self) -> dict[str, Any]:
        """For PutObject and CreateMultipartUpload."""
        if self.mode == "sse-s3":
            return {"ServerSideEncryption": "AES256"}
        if self.mode == "sse-kms":
            kms: dict[str, Any] = {"ServerSideEncryption": "aws:kms"}
            if self.kms_key_id:
                kms["SSEKMSKeyId"] = self.kms_key_id
            return kms
        if self.mode == "sse-c":
            return _customer_key(self._c_keys[-1][1])
        return {}

    def part_params(self) -> dict[str, Any]:
        """For UploadPart and CompleteMultipartUpload: only SSE-C repeats its key there."""
        return _customer_key(self._c_keys[-1][1]) if self.mode == "sse-c" else {}

    def read_attempts(self) -> list[dict[str, Any]]:
        """For GET and HEAD, in the order to try: with SSE-C each key of the ring, newest first,
        then none (an object written before SSE-C was switched on)."""
        if self.mode != "sse-c":
            return [{}]
        return [_customer_key(key) for _, key in reversed(self._c_keys)] + [{}]
