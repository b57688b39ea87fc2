"""S3-compatible object storage (AWS, MinIO, SeaweedFS, Ceph) through boto3.

boto3 blocks, so every call runs in a bounded thread pool off the event loop. botocore's
errors are translated here, once, into the storage protocol's own; nothing above this
module imports botocore. Endpoint, region and credentials come from boto3's standard chain
(AWS_ENDPOINT_URL, AWS_ACCESS_KEY_ID, profiles, instance roles), nothing project-specific.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, TypeVar

import boto3
from anyio import CapacityLimiter, to_thread
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from .base import (
    Blob,
    DecryptionError,
    ObjectConflict,
    ObjectInfo,
    ObjectNotFound,
    PresignUnavailable,
    StorageError,
)
from .s3_sse import ServerSideEncryption

T = TypeVar("T")

PART_SIZE = 8 * 1024 * 1024  # S3's minimum part is 5 MiB; 8 MiB keeps memory flat and calls few
_CHUNK = 256 * 1024
_NOT_FOUND = {"NoSuchKey", "404", "NotFound", "NoSuchUpload"}
_CONFLICT = {"PreconditionFailed", "412", "ConditionalRequestConflict", "409"}


def _status(exc: ClientError) -> str:
    return str(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", ""))


@contextlib.contextmanager
def _translate(key: str) -> Iterator[None]:
    try:
        yield
    except ClientError as exc:
        code = str(exc.response.get("Error", {}).get("Code", ""))
        status = str(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", ""))
        if code == "NoSuchBucket":
            raise StorageError(
                f"the bucket does not exist ({exc}); create it, or fix --storage s3://BUCKET"
            ) from None
        if code in _NOT_FOUND or status == "404":
            raise ObjectNotFound(key) from None
        if code in _CONFLICT or status in ("409", "412"):
            raise ObjectConflict(key) from None
        raise StorageError(f"S3 {code or status} on {key!r}: {exc}") from None
    except BotoCoreError as exc:
        raise StorageError(f"S3 unreachable for {key!r}: {exc}") from None


def parse_url(url: str) -> tuple[str, str]:
    """``s3://BUCKET[/PREFIX]`` → (bucket, prefix without slashes at the ends)."""
    scheme, sep, rest = url.partition("://")
    if scheme.lower() != "s3" or not sep:
        raise ValueError(f"--storage {url}: write s3://BUCKET or s3://BUCKET/PREFIX")
    bucket, _, prefix = rest.partition("/")
    if not bucket:
        raise ValueError(f"--storage {url}: name a bucket, as in s3://BUCKET or s3://BUCKET/PREFIX")
    return bucket, prefix.strip("/")


def open_url(
    url: str,
    *,
    s3_public_endpoint: str | None = None,
    s3_sse: str = "",
    s3_sse_kms_key_id: str = "",
    s3_sse_c_keys: Sequence[tuple[str, bytes]] = (),
    **options: Any,
) -> S3Storage:
    """The ``s3`` entry point: ``s3://BUCKET[/PREFIX]`` with the ``--s3-*`` settings.

    ``s3_sse_c_keys`` is the ring of SSE-C keys (see S3Storage); options of other backends
    are ignored.
    """
    return S3Storage.from_url(
        url,
        public_endpoint=s3_public_endpoint or None,
        sse=s3_sse,
        sse_kms_key_id=s3_sse_kms_key_id,
        sse_c_keys=s3_sse_c_keys,
    )


class S3Storage:
    def __init__(
        self,
        bucket: str,
        prefix: str = "",
        *,
        client: Any = None,
        max_workers: int = 16,
        part_size: int = PART_SIZE,
        public_endpoint: str | None = None,
        sse: str = "",
        sse_kms_key_id: str = "",
        sse_c_keys: Sequence[tuple[str, bytes]] = (),
    ) -> None:
        """``sse``: server-side encryption of every write: ``sse-s3`` (the provider's keys),
        ``sse-kms`` (optionally with ``sse_kms_key_id``), or ``sse-c`` with ``sse_c_keys``, a
        ring of (id, 32-byte key), oldest first: the newest seals writes, reads try each."""
        self._sse = ServerSideEncryption(sse, sse_kms_key_id, sse_c_keys)
        self.sse = sse
        self.sse_kms_key_id = sse_kms_key_id
        self.bucket = bucket
        self.prefix = f"{prefix}/" if prefix else ""
        self.part_size = part_size
        self._limiter = CapacityLimiter(max_workers)
        if client is None:
            config = Config(
                max_pool_connections=max_workers,
                connect_timeout=3,
                read_timeout=30,
                retries={"max_attempts": 2, "mode": "standard"},
            )
            region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
            session = boto3.session.Session()
            client = session.client(
                "s3", config=config, region_name=region or session.region_name or "us-east-1"
            )
        self.client = client
        # Presigned URLs must name a host the clients reach, which may not be the one we use.
        self.presign_client = (
            boto3.session.Session().client(
                "s3",
                endpoint_url=public_endpoint,
                region_name=client.meta.region_name,
                config=Config(signature_version="s3v4"),
            )
            if public_endpoint
            else client
        )

    @classmethod
    def from_url(cls, url: str, **kwargs: Any) -> S3Storage:
        bucket, prefix = parse_url(url)
        return cls(bucket, prefix, **kwargs)

    def __repr__(self) -> str:
        return f"S3Storage(s3://{self.bucket}/{self.prefix})"

    def _key(self, key: str) -> str:
        return self.prefix + key

    # -- server-side encryption ------------------------------------------------------------

    def _read(self, key: str, fn: Callable[..., T], **kwargs: Any) -> T:
        """A GET or HEAD; with SSE-C, tried with each key of the ring, newest first, then with
        none (an object written before SSE-C was switched on)."""
        if self.sse != "sse-c":
            return fn(**kwargs)
        attempts = self._sse.read_attempts()
        for n, extra in enumerate(attempts):
            try:
                return fn(**kwargs, **extra)
            except ClientError as exc:
                # A wrong customer key is 403, a missing or unneeded one 400.
                if _status(exc) not in ("400", "403"):
                    raise
                if n + 1 == len(attempts):
                    ids = ", ".join(self._sse.key_ids)
                    raise DecryptionError(
                        key,
                        f"SSE-C: no key in the key ring ({ids}) opens it; "
                        "was it written with a key since removed from the ring?",
                    ) from None
        raise AssertionError("unreachable")

    async def encryption_is_current(self, key: str) -> bool:
        """Whether the object is stored with today's --s3-sse (for rekey)."""
        full = self._key(key)
        if self.sse == "sse-c":
            newest = self._sse.write_params()
            try:
                resp = await self._run(
                    key, lambda: self.client.head_object(Bucket=self.bucket, Key=full, **newest)
                )
            except ObjectNotFound:
                raise
            except StorageError:
                return False  # sealed with an older key of the ring
            # Some servers answer a plain object even when a key is sent: check it is sealed.
            return bool(resp.get("SSECustomerAlgorithm") == "AES256")
        if self.sse in ("sse-s3", "sse-kms"):
            resp = await self._run(key, lambda: self.client.head_object(Bucket=self.bucket, Key=full))
            return bool(resp.get("ServerSideEncryption") == self._sse.write_params()["ServerSideEncryption"])
        return True

    async def _run(self, key: str, fn: Callable[..., T], *args: Any) -> T:
        def call() -> T:
            with _translate(key):
                return fn(*args)

        return await to_thread.run_sync(call, limiter=self._limiter)

    # -- reads -------------------------------------------------------------------------

    def _get_sync(self, key: str, unless_etag: str | None) -> Blob | None:
        kwargs: dict[str, Any] = {"Bucket": self.bucket, "Key": self._key(key)}
        if unless_etag is not None:
            kwargs["IfNoneMatch"] = unless_etag
        try:
            resp = self._read(key, self.client.get_object, **kwargs)
        except ClientError as exc:
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            if status == 304 or exc.response.get("Error", {}).get("Code") == "304":
                return None
            raise
        with contextlib.closing(resp["Body"]) as body:
            return Blob(body.read(), resp["ETag"])

    async def get(self, key: str) -> Blob:
        blob = await self._run(key, self._get_sync, key, None)
        assert blob is not None
        return blob

    async def get_if_changed(self, key: str, etag: str) -> Blob | None:
        return await self._run(key, self._get_sync, key, etag)

    async def check(self) -> None:
        """The bucket exists and answers (readiness); raises StorageError otherwise."""
        try:
            await self._run("", lambda: self.client.head_bucket(Bucket=self.bucket))
        except ObjectNotFound:
            raise StorageError(f"the bucket {self.bucket!r} does not exist; create it first") from None

    async def head(self, key: str) -> ObjectInfo:
        resp = await self._run(
            key, lambda: self._read(key, self.client.head_object, Bucket=self.bucket, Key=self._key(key))
        )
        return ObjectInfo(key, int(resp["ContentLength"]), resp["ETag"], resp["LastModified"].timestamp())

    async def stream(self, key: str, start: int = 0, end: int | None = None) -> AsyncIterator[bytes]:
        kwargs: dict[str, Any] = {"Bucket": self.bucket, "Key": self._key(key)}
        if start or end is not None:
            kwargs["Range"] = f"bytes={start}-{'' if end is None else end - 1}"
        if end is not None and end <= start:
            return
        resp = await self._run(key, lambda: self._read(key, self.client.get_object, **kwargs))
        body = resp["Body"]
        try:
            while True:
                chunk = await self._run(key, body.read, _CHUNK)
                if not chunk:
                    break
                yield chunk
        finally:
            body.close()

    # -- writes ------------------------------------------------------------------------

    @staticmethod
    def _conditions(create_only: bool, if_match: str | None) -> dict[str, str]:
        if create_only:
            return {"IfNoneMatch": "*"}
        if if_match is not None:
            return {"IfMatch": if_match}
        return {}

    async def put(
        self, key: str, data: bytes, *, create_only: bool = False, if_match: str | None = None
    ) -> str:
        cond = {**self._conditions(create_only, if_match), **self._sse.write_params()}
        try:
            resp = await self._run(
                key,
                lambda: self.client.put_object(Bucket=self.bucket, Key=self._key(key), Body=data, **cond),
            )
        except ObjectNotFound:
            # Some servers answer If-Match on a missing key with 404 rather than 412.
            raise ObjectConflict(key) from None
        return str(resp["ETag"])

    def _put_file_sync(self, key: str, path: Path, create_only: bool) -> ObjectInfo:
        size = path.stat().st_size
        cond = self._conditions(create_only, None)
        full = self._key(key)
        sse, part_sse = self._sse.write_params(), self._sse.part_params()
        if size <= self.part_size:
            with open(path, "rb") as fh:
                resp = self.client.put_object(Bucket=self.bucket, Key=full, Body=fh, **cond, **sse)
            return ObjectInfo(key, size, resp["ETag"])
        # Multipart: one part in memory at a time, so a 1 GiB file costs 8 MiB of RSS.
        upload_id = self.client.create_multipart_upload(Bucket=self.bucket, Key=full, **sse)["UploadId"]
        try:
            parts = []
            with open(path, "rb") as fh:
                number = 1
                while chunk := fh.read(self.part_size):
                    part = self.client.upload_part(
                        Bucket=self.bucket,
                        Key=full,
                        UploadId=upload_id,
                        PartNumber=number,
                        Body=chunk,
                        **part_sse,
                    )
                    parts.append({"ETag": part["ETag"], "PartNumber": number})
                    number += 1
                    del chunk
            resp = self.client.complete_multipart_upload(
                Bucket=self.bucket,
                Key=full,
                UploadId=upload_id,
                MultipartUpload={"Parts": parts},
                **cond,
                **part_sse,
            )
        except BaseException:
            with contextlib.suppress(Exception):
                self.client.abort_multipart_upload(Bucket=self.bucket, Key=full, UploadId=upload_id)
            raise
        return ObjectInfo(key, size, resp["ETag"])

    async def put_file(self, key: str, path: Path, *, create_only: bool = False) -> ObjectInfo:
        return await self._run(key, self._put_file_sync, key, path, create_only)

    async def delete(self, key: str) -> None:
        await self._run(key, lambda: self.client.delete_object(Bucket=self.bucket, Key=self._key(key)))

    def _list_page(self, prefix: str, token: str | None) -> tuple[list[ObjectInfo], str | None]:
        kwargs: dict[str, Any] = {"Bucket": self.bucket, "Prefix": self._key(prefix)}
        if token:
            kwargs["ContinuationToken"] = token
        resp = self.client.list_objects_v2(**kwargs)
        infos = [
            ObjectInfo(
                obj["Key"][len(self.prefix) :],
                int(obj["Size"]),
                obj["ETag"],
                obj["LastModified"].timestamp(),
            )
            for obj in resp.get("Contents", ())
        ]
        return infos, resp.get("NextContinuationToken") if resp.get("IsTruncated") else None

    async def list(self, prefix: str) -> AsyncIterator[ObjectInfo]:
        token: str | None = None
        while True:
            infos, token = await self._run(prefix, self._list_page, prefix, token)
            for info in infos:
                yield info
            if not token:
                return

    async def presigned_url(self, key: str, expires: int) -> str:
        if self.sse == "sse-c":
            # The URL's user would have to send the customer key: pip and uv cannot.
            raise PresignUnavailable(f"{key!r} is stored with SSE-C; only the app holds the key")
        # No response-content-disposition: the filename is already the key's last segment,
        # and some S3 servers (SeaweedFS 4.x) mis-verify signatures that include it.
        params = {"Bucket": self.bucket, "Key": self._key(key)}
        return str(
            await self._run(
                key,
                lambda: self.presign_client.generate_presigned_url(
                    "get_object", Params=params, ExpiresIn=expires
                ),
            )
        )

    async def abort_stale_uploads(self, older_than: float) -> int:
        """Abort multipart uploads a killed process left behind; returns how many."""
        import time

        cutoff = time.time() - older_than
        resp = await self._run(
            "", lambda: self.client.list_multipart_uploads(Bucket=self.bucket, Prefix=self.prefix)
        )
        count = 0
        for upload in resp.get("Uploads", ()):
            if upload["Initiated"].timestamp() < cutoff:
                await self._run(
                    upload["Key"],
                    lambda u=upload: self.client.abort_multipart_upload(
                        Bucket=self.bucket, Key=u["Key"], UploadId=u["UploadId"]
                    ),
                )
                count += 1
        return count

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            await to_thread.run_sync(self.client.close)
