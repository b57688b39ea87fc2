"""S3-compatible object storage (AWS, MinIO, SeaweedFS, Ceph) through boto3.

boto3 blocks, so every call runs in a bounded thread pool off the event loop. botocore's
errors are translated here, once, into the storage protocol's own; nothing above this
module imports botocore. Endpoint, region and credentials come from boto3's standard chain
(AWS_ENDPOINT_URL, AWS_ACCESS_KEY_ID, profiles, instance roles), nothing project-specific.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import boto3
from anyio import CapacityLimiter, to_thread
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from .base import Blob, ObjectConflict, ObjectInfo, ObjectNotFound, StorageError

T = TypeVar("T")

PART_SIZE = 8 * 1024 * 1024  # S3's minimum part is 5 MiB; 8 MiB keeps memory flat and calls few
_CHUNK = 256 * 1024
_NOT_FOUND = {"NoSuchKey", "404", "NotFound", "NoSuchUpload"}
_CONFLICT = {"PreconditionFailed", "412", "ConditionalRequestConflict", "409"}


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
    rest = url.removeprefix("s3://")
    bucket, _, prefix = rest.partition("/")
    if not bucket:
        raise ValueError(f"--storage {url}: name a bucket, as in s3://BUCKET or s3://BUCKET/PREFIX")
    return bucket, prefix.strip("/")


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
    ) -> None:
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
            resp = self.client.get_object(**kwargs)
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
        resp = await self._run(key, lambda: self.client.head_object(Bucket=self.bucket, Key=self._key(key)))
        return ObjectInfo(key, int(resp["ContentLength"]), resp["ETag"], resp["LastModified"].timestamp())

    async def stream(self, key: str, start: int = 0, end: int | None = None) -> AsyncIterator[bytes]:
        kwargs: dict[str, Any] = {"Bucket": self.bucket, "Key": self._key(key)}
        if start or end is not None:
            kwargs["Range"] = f"bytes={start}-{'' if end is None else end - 1}"
        if end is not None and end <= start:
            return
        resp = await self._run(key, lambda: self.client.get_object(**kwargs))
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
        cond = self._conditions(create_only, if_match)
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
        if size <= self.part_size:
            with open(path, "rb") as fh:
                resp = self.client.put_object(Bucket=self.bucket, Key=full, Body=fh, **cond)
            return ObjectInfo(key, size, resp["ETag"])
        # Multipart: one part in memory at a time, so a 1 GiB file costs 8 MiB of RSS.
        upload_id = self.client.create_multipart_upload(Bucket=self.bucket, Key=full)["UploadId"]
        try:
            parts = []
            with open(path, "rb") as fh:
                number = 1
                while chunk := fh.read(self.part_size):
                    part = self.client.upload_part(
                        Bucket=self.bucket, Key=full, UploadId=upload_id, PartNumber=number, Body=chunk
                    )
                    parts.append({"ETag": part["ETag"], "PartNumber": number})
                    number += 1
                    del chunk
            resp = self.client.complete_multipart_upload(
                Bucket=self.bucket, Key=full, UploadId=upload_id, MultipartUpload={"Parts": parts}, **cond
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
