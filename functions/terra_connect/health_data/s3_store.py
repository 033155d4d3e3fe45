"""The data bucket (S3, versioned, SSE-KMS): the raw archive and the record objects (ports.RawArchive, RecordObjects).

Every put asks for SSE-KMS with the stack's key (the bucket's policy refuses any other) and sends the body's
SHA-256, which S3 checks before it stores anything, so a body damaged on the way is refused rather than kept.
Raw bodies are written once (`If-None-Match: *`): a redelivery finds the first copy and gets its version. Deletes
name versions, which removes them for good - a versioned bucket keeps nothing behind and leaves no delete marker.

A missing object answers 404 only to a role that may list the bucket (`s3:ListBucket`); without it S3 answers 403,
which alone could only be read as a misconfiguration. The functions are not given `s3:ListBucket`, so whether a key
exists is asked of the version listing (`s3:ListBucketVersions`, granted per prefix), never with HeadObject; a raw
body read that is refused is looked up there too before it counts as a misconfiguration (it may have been erased).
"""

import base64
import contextlib
import hashlib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from terra_connect.health_data.errors import ArchivedBodyGone, DataStoreMisconfigured, DataStoreUnavailable
from terra_connect.health_data.models import ObjectVersion
from terra_connect.platform.aws_clients import aws_client

CLIENT_CONFIG = Config(connect_timeout=2, read_timeout=10, retries={"mode": "standard", "max_attempts": 3})
JSON = "application/json"
# A streamed body is held one part at a time: S3's smallest multipart part is 5 MiB (the last may be less).
PART_SIZE = 8 * 1024 * 1024
MAX_DELETE = 1000  # DeleteObjects' limit per call
UNVERSIONED = "null"  # the version id S3 gives objects of a bucket without versioning
_EXISTS = frozenset({"PreconditionFailed", "ConditionalRequestConflict"})
_GONE = frozenset({"NoSuchKey", "NoSuchVersion", "404"})
_MISCONFIGURED = frozenset({"NoSuchBucket", "AccessDenied", "AllAccessDisabled", "InvalidAccessKeyId"})


class _Bucket:
    def __init__(
        self,
        bucket: str,
        *,
        kms_key_id: str,
        endpoint_url: str | None = None,
        config: Config = CLIENT_CONFIG,
        part_size: int = PART_SIZE,
    ) -> None:
        self.bucket = bucket
        self._kms_key_id = kms_key_id
        self._part_size = part_size
        self._client = aws_client("s3", config=config, endpoint_url=endpoint_url)

    def close(self) -> None:
        self._client.close()

    def _encryption(self) -> dict[str, Any]:
        return {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": self._kms_key_id, "BucketKeyEnabled": True}

    def _put(self, key: str, body: bytes, **extra: Any) -> ObjectVersion:
        answer = self._call(
            "put_object",
            Key=key,
            Body=body,
            ContentType=JSON,
            ChecksumSHA256=_sha256_b64(body),
            **self._encryption(),
            **extra,
        )
        return ObjectVersion(key, answer.get("VersionId") or UNVERSIONED)

    def _get(self, location: ObjectVersion) -> bytes | None:
        try:
            answer = self._raw("get_object", Key=location.key, VersionId=location.version_id)
            body: bytes = answer["Body"].read()
        except ClientError as error:
            if _code(error) in _GONE:
                return None
            raise _translate(error) from None
        except BotoCoreError as error:  # the body's stream broke off
            raise DataStoreUnavailable(log_context={"s3_error": type(error).__name__}) from None
        return body

    def _versions(self, prefix: str) -> Iterator[ObjectVersion]:
        marker: dict[str, str] = {}
        while True:
            page = self._call("list_object_versions", Prefix=prefix, **marker)
            for entry in (*page.get("Versions", []), *page.get("DeleteMarkers", [])):
                yield ObjectVersion(entry["Key"], entry["VersionId"])
            if not page.get("IsTruncated"):
                return
            marker = {"KeyMarker": page["NextKeyMarker"], "VersionIdMarker": page["NextVersionIdMarker"]}

    def delete_versions(self, locations: Sequence[ObjectVersion]) -> None:
        unique = sorted(set(locations))
        for start in range(0, len(unique), MAX_DELETE):
            batch = unique[start : start + MAX_DELETE]
            answer = self._call(
                "delete_objects",
                Delete={"Objects": [{"Key": v.key, "VersionId": v.version_id} for v in batch], "Quiet": True},
            )
            failed = [error.get("Code") for error in answer.get("Errors", []) if error.get("Code") not in _GONE]
            if failed:
                raise DataStoreUnavailable(log_context={"s3_error": sorted(set(map(str, failed)))})

    def _call(self, operation: str, **kwargs: Any) -> dict[str, Any]:
        try:
            return self._raw(operation, **kwargs)
        except ClientError as error:
            raise _translate(error) from None

    def _raw(self, operation: str, **kwargs: Any) -> dict[str, Any]:
        try:
            result: dict[str, Any] = getattr(self._client, operation)(Bucket=self.bucket, **kwargs)
        except BotoCoreError as error:
            raise DataStoreUnavailable(log_context={"s3_error": type(error).__name__}) from None
        return result


class S3RawArchive(_Bucket):
    """`raw/...`: the bodies Terra delivered, byte for byte."""

    def put(self, key: str, body: bytes, *, metadata: Mapping[str, str]) -> ObjectVersion:
        try:
            return self._put(key, body, IfNoneMatch="*", Metadata=dict(metadata))
        except _Exists:
            return self._existing(key)

    def put_stream(self, key: str, chunks: Iterable[bytes], *, size: int, metadata: Mapping[str, str]) -> ObjectVersion:
        stream = _Counted(chunks, size)
        first = stream.read(self._part_size)
        if stream.at_end():
            stream.check()
            return self.put(key, first, metadata=metadata)
        upload = self._call(
            "create_multipart_upload",
            Key=key,
            ContentType=JSON,
            Metadata=dict(metadata),
            ChecksumAlgorithm="SHA256",
            **self._encryption(),
        )["UploadId"]
        try:
            parts = [self._upload_part(key, upload, 1, first)]
            while not stream.at_end():
                parts.append(self._upload_part(key, upload, len(parts) + 1, stream.read(self._part_size)))
            stream.check()
            answer = self._raw(
                "complete_multipart_upload",
                Key=key,
                UploadId=upload,
                MultipartUpload={"Parts": parts},
                IfNoneMatch="*",
            )
        except ClientError as error:
            self._abort(key, upload)
            if _code(error) in _EXISTS:
                return self._existing(key)
            raise _translate(error) from None
        except BaseException:
            self._abort(key, upload)
            raise
        return ObjectVersion(key, answer.get("VersionId") or UNVERSIONED)

    def find(self, key: str) -> ObjectVersion | None:
        """The version under `key` (raw keys only ever hold one), or None: listed, as a key that does not exist yet
        answers HeadObject 403 to a role without `s3:ListBucket`."""
        page = self._call("list_object_versions", Prefix=key, MaxKeys=1)
        for entry in page.get("Versions", []):
            if entry["Key"] == key and entry.get("IsLatest", True):
                return ObjectVersion(key, entry["VersionId"] or UNVERSIONED)
        return None

    def get(self, location: ObjectVersion) -> bytes:
        try:
            body = self._get(location)
        except DataStoreMisconfigured:
            # 403 is also S3's answer for a version that no longer exists: misconfigured only if it is still listed.
            if self._listed(location):
                raise
            body = None
        if body is None:
            raise ArchivedBodyGone(location.key)
        return body

    def _listed(self, location: ObjectVersion) -> bool:
        return any(version == location for version in self._versions(location.key))

    def _existing(self, key: str) -> ObjectVersion:
        found = self.find(key)
        if found is None:  # a concurrent create (409) not finished yet: the retry will find it
            raise DataStoreUnavailable(log_context={"s3_error": "ConditionalRequestConflict"})
        return found

    def _upload_part(self, key: str, upload: str, number: int, body: bytes) -> dict[str, Any]:
        checksum = _sha256_b64(body)
        answer = self._raw(
            "upload_part", Key=key, UploadId=upload, PartNumber=number, Body=body, ChecksumSHA256=checksum
        )
        return {"PartNumber": number, "ETag": answer["ETag"], "ChecksumSHA256": checksum}

    def _abort(self, key: str, upload: str) -> None:
        # Best effort: the bucket's lifecycle rule removes an upload left incomplete after a day.
        with contextlib.suppress(ClientError, DataStoreUnavailable):
            self._raw("abort_multipart_upload", Key=key, UploadId=upload)


class S3RecordObjects(_Bucket):
    """`records/...`: one object per copy of a record."""

    def put(self, key: str, body: bytes) -> ObjectVersion:
        return self._put(key, body)

    def get(self, location: ObjectVersion) -> bytes | None:
        return self._get(location)

    def list_versions(self, key: str) -> list[ObjectVersion]:
        return [version for version in self._versions(key) if version.key == key]


class _Exists(Exception):
    pass


class _Counted:
    """Chunks read as parts, counting bytes; never reads past `size` + one chunk, so an endless body stops early."""

    def __init__(self, chunks: Iterable[bytes], size: int) -> None:
        self._chunks = iter(chunks)
        self._size = size
        self._buffer = bytearray()
        self._count = 0
        self._exhausted = False

    def read(self, limit: int) -> bytes:
        while len(self._buffer) < limit and self._pull():
            pass
        part = bytes(self._buffer[:limit])
        del self._buffer[:limit]
        return part

    def at_end(self) -> bool:
        return not self._buffer and not self._pull()

    def check(self) -> None:
        if self._count != self._size:
            raise ValueError(f"{self._count} bytes arrived, {self._size} announced")

    def _pull(self) -> bool:
        """Append the next chunk; False once there is none."""
        if self._exhausted:
            return False
        chunk = next(self._chunks, None)
        if chunk is None:
            self._exhausted = True
            return False
        self._count += len(chunk)
        if self._count > self._size:
            raise ValueError(f"more than the {self._size} bytes announced")
        self._buffer += chunk
        return True


def _translate(error: ClientError) -> Exception:
    code = _code(error)
    if code in _EXISTS:
        return _Exists(code)
    if code in _MISCONFIGURED or code.startswith("KMS."):
        return DataStoreMisconfigured(log_context={"reason": "the data bucket cannot be used", "s3_error": code})
    return DataStoreUnavailable(log_context={"s3_error": code})


def _code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", "Unknown"))


def _sha256_b64(body: bytes) -> str:
    return base64.b64encode(hashlib.sha256(body).digest()).decode("ascii")
