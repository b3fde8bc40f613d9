"""Files in S3 or an S3-compatible server (`CRM_STORAGE_URL=s3://bucket/prefix`).

Credentials and region come from the standard AWS settings (environment, shared files,
instance roles); `CRM_S3_ENDPOINT_URL` points at another server (MinIO, Ceph, moto, ...).
A stream larger than one part goes up as a multipart upload, one part at a time, so memory
stays at one part whatever the file's size; a failed upload is aborted and leaves nothing.
boto3 blocks, so every call runs in a thread.
"""

from collections.abc import AsyncIterable, AsyncIterator
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from services.storage import (
    READ_CHUNK_BYTES,
    Blocking,
    Hashing,
    ObjectMissingError,
    ObjectReader,
    PresignedUpload,
    Storage,
    StorageUnavailableError,
    StoredObject,
    batched,
    check_key,
    clean_up,
    content_disposition,
)

# S3 wants parts of at least 5 MiB (but the last); one part is held in memory at a time.
PART_BYTES = 8 * 1024 * 1024
_MISSING = ("NoSuchKey", "404", "NotFound")


def _config(endpoint_url: str | None) -> Config:
    return Config(
        signature_version="s3v4",
        # S3-compatible servers seldom have a DNS name per bucket.
        s3={"addressing_style": "path"} if endpoint_url else {},
        connect_timeout=5,
        read_timeout=60,
        retries={"mode": "standard", "max_attempts": 3},
        # Checksums only where S3 requires them: many S3-compatible servers refuse the newer
        # default ones, presigned uploads included.
        request_checksum_calculation="when_required",
        response_checksum_validation="when_required",
    )


def _is_missing(exc: ClientError) -> bool:
    return str(exc.response.get("Error", {}).get("Code")) in _MISSING


def _translated(exc: BaseException) -> BaseException:
    """boto3's errors as the storage's: a missing object, or the storage being unusable."""
    if isinstance(exc, ClientError):
        if _is_missing(exc):
            return ObjectMissingError(str(exc))
        code = exc.response.get("Error", {}).get("Code", "an error")
        return StorageUnavailableError(f"S3 refused the request ({code})")
    if isinstance(exc, BotoCoreError):
        return StorageUnavailableError(f"S3 cannot be reached: {exc}")
    return exc


class S3Storage(Storage):
    direct_upload = True

    def __init__(self, client: Any, bucket: str, prefix: str) -> None:
        self._client = client
        self.bucket = bucket
        self.prefix = prefix

    @classmethod
    async def connect(cls, url: str, *, endpoint_url: str | None) -> "S3Storage":
        bucket, _, prefix = url.removeprefix("s3://").partition("/")
        prefix = prefix.strip("/")

        def client() -> Any:
            # A session of its own: boto3's default session is module-global.
            session = boto3.session.Session()
            return session.client("s3", endpoint_url=endpoint_url, config=_config(endpoint_url))

        return cls(await Blocking().run(client), bucket, f"{prefix}/" if prefix else "")

    def _key(self, key: str) -> str:
        return self.prefix + check_key(key)

    async def _call(self, method: str, **parameters: Any) -> Any:
        try:
            return await Blocking().run(getattr(self._client, method), **parameters)
        except (ClientError, BotoCoreError) as exc:
            raise _translated(exc) from exc

    async def put(self, key: str, chunks: AsyncIterable[bytes], *, max_size: int) -> StoredObject:
        object_key = self._key(key)
        hashing = Hashing(max_size)
        blocking = Blocking()
        upload: _MultipartUpload | None = None
        try:
            async for batch in batched(chunks, PART_BYTES):
                if upload is None and len(batch) < PART_BYTES:
                    # The whole stream fits in one request.
                    await blocking.run(self._put_whole, object_key, hashing, batch)
                    return hashing.result()
                if upload is None:
                    upload = _MultipartUpload(self._client, self.bucket, object_key)
                    await blocking.run(upload.begin)
                await blocking.run(upload.add, hashing, batch)
            if upload is None:  # an empty stream
                await blocking.run(self._put_whole, object_key, hashing, bytearray())
            else:
                await blocking.run(upload.complete)
        except BaseException as exc:
            await clean_up(self._abandon(blocking, object_key, upload))
            translated = _translated(exc)
            if translated is exc:
                raise
            raise translated from exc
        return hashing.result()

    def _put_whole(self, object_key: str, hashing: Hashing, data: bytearray) -> None:
        hashing.update(data)
        self._client.put_object(Bucket=self.bucket, Key=object_key, Body=data)

    async def _abandon(
        self, blocking: Blocking, object_key: str, upload: "_MultipartUpload | None"
    ) -> None:
        """Leave nothing behind a failed put: parts uploaded so far, or an object that a
        request reported as failed may still have written."""
        await blocking.settle()

        def abandon() -> None:
            try:
                if upload is not None and upload.upload_id is not None:
                    upload.abort()
                self._client.delete_object(Bucket=self.bucket, Key=object_key)
            except (ClientError, BotoCoreError):
                pass  # S3 is down: nothing more can be done from here

        await Blocking().run(abandon)

    async def open(self, key: str, start: int = 0, end: int | None = None) -> ObjectReader:
        parameters: dict[str, Any] = {"Bucket": self.bucket, "Key": self._key(key)}
        if start or end is not None:
            parameters["Range"] = f"bytes={start}-{'' if end is None else end - 1}"
        response = await self._call("get_object", **parameters)
        return _BodyReader(response["Body"], int(response["ContentLength"]))

    async def size(self, key: str) -> int | None:
        try:
            response = await self._call("head_object", Bucket=self.bucket, Key=self._key(key))
        except ObjectMissingError:
            return None
        return int(response["ContentLength"])

    async def delete(self, key: str) -> None:
        await self._call("delete_object", Bucket=self.bucket, Key=self._key(key))

    async def copy(self, source: str, target: str) -> None:
        # The managed copy: one request up to 5 GB, a multipart copy beyond, all within S3.
        await self._call(
            "copy",
            CopySource={"Bucket": self.bucket, "Key": self._key(source)},
            Bucket=self.bucket,
            Key=self._key(target),
        )

    async def digest(self, key: str) -> StoredObject:
        object_key = self._key(key)

        def digest() -> StoredObject:
            hashing = Hashing(max_size=2**63)
            body = self._client.get_object(Bucket=self.bucket, Key=object_key)["Body"]
            try:
                while data := body.read(READ_CHUNK_BYTES):
                    hashing.update(data)
            finally:
                body.close()
            return hashing.result()

        try:
            return await Blocking().run(digest)
        except (ClientError, BotoCoreError) as exc:
            raise _translated(exc) from exc

    async def presigned_get(
        self, key: str, *, filename: str, content_type: str, expires_in: int
    ) -> str | None:
        parameters = {
            "Bucket": self.bucket,
            "Key": self._key(key),
            "ResponseContentDisposition": content_disposition(filename),
            "ResponseContentType": content_type,
        }
        url: str = await self._call(
            "generate_presigned_url",
            ClientMethod="get_object",
            Params=parameters,
            ExpiresIn=expires_in,
        )
        return url

    async def presigned_put(
        self, key: str, *, content_type: str, expires_in: int
    ) -> PresignedUpload | None:
        parameters = {"Bucket": self.bucket, "Key": self._key(key), "ContentType": content_type}
        url: str = await self._call(
            "generate_presigned_url",
            ClientMethod="put_object",
            Params=parameters,
            ExpiresIn=expires_in,
        )
        return PresignedUpload(url, {"Content-Type": content_type})

    async def close(self) -> None:
        await Blocking().run(self._client.close)


class _MultipartUpload:
    """One multipart upload, driven from a thread a call at a time."""

    def __init__(self, client: Any, bucket: str, key: str) -> None:
        self._client = client
        self._bucket = bucket
        self._key = key
        self.upload_id: str | None = None
        self._parts: list[dict[str, Any]] = []

    def begin(self) -> None:
        response = self._client.create_multipart_upload(Bucket=self._bucket, Key=self._key)
        self.upload_id = response["UploadId"]

    def add(self, hashing: Hashing, data: bytearray) -> None:
        hashing.update(data)
        number = len(self._parts) + 1
        response = self._client.upload_part(
            Bucket=self._bucket,
            Key=self._key,
            UploadId=self.upload_id,
            PartNumber=number,
            Body=data,
        )
        self._parts.append({"PartNumber": number, "ETag": response["ETag"]})

    def complete(self) -> None:
        self._client.complete_multipart_upload(
            Bucket=self._bucket,
            Key=self._key,
            UploadId=self.upload_id,
            MultipartUpload={"Parts": self._parts},
        )

    def abort(self) -> None:
        self._client.abort_multipart_upload(
            Bucket=self._bucket, Key=self._key, UploadId=self.upload_id
        )


class _BodyReader(ObjectReader):
    def __init__(self, body: Any, length: int) -> None:
        self._body = body
        self._blocking = Blocking()
        self.length = length

    async def chunks(self) -> AsyncIterator[bytes]:
        while True:
            try:
                data: bytes = await self._blocking.run(self._body.read, READ_CHUNK_BYTES)
            except (ClientError, BotoCoreError) as exc:
                raise _translated(exc) from exc
            if not data:
                return
            yield data

    async def close(self) -> None:
        await self._blocking.settle()
        await self._blocking.run(self._body.close)
