"""The data bucket's adapters on emulated S3: raw bodies written once, encrypted with the stack's key and checked by
SHA-256; streamed bodies stored only whole; versions deleted for good."""

import base64
import hashlib
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from terra_connect.health_data.errors import ArchivedBodyGone, DataStoreMisconfigured
from terra_connect.health_data.models import ObjectVersion
from terra_connect.health_data.s3_store import S3RawArchive, S3RecordObjects
from tests.unit.health_data.conftest import KMS_KEY, DataResources

BODY = b'{"type":"daily","data":[]}'
MIB = 1024 * 1024


@pytest.fixture
def archive(data_aws: DataResources) -> S3RawArchive:
    return S3RawArchive(data_aws.bucket, kms_key_id=KMS_KEY, part_size=5 * MIB)


@pytest.fixture
def objects(data_aws: DataResources) -> S3RecordObjects:
    return S3RecordObjects(data_aws.bucket, kms_key_id=KMS_KEY)


def sent_params(client: Any, operation: str) -> list[dict[str, Any]]:
    """The parameters of every `operation` call the adapter's client makes from now on."""
    seen: list[dict[str, Any]] = []
    client.meta.events.register(f"provide-client-params.s3.{operation}", lambda params, **_: seen.append(dict(params)))
    return seen


def versions(bucket: str, prefix: str = "") -> list[tuple[str, str]]:
    answer = boto3.client("s3").list_object_versions(Bucket=bucket, Prefix=prefix)
    found = [(v["Key"], v["VersionId"]) for v in answer.get("Versions", [])]
    return found + [(m["Key"], m["VersionId"]) for m in answer.get("DeleteMarkers", [])]


def test_a_raw_body_is_stored_byte_for_byte_with_the_stacks_key_and_its_checksum(
    archive: S3RawArchive, data_aws: DataResources
) -> None:
    puts = sent_params(archive._client, "PutObject")
    stored = archive.put("raw/dt=2026-07-01/abc.json", BODY, metadata={"trace-id": "t-1"})

    assert archive.get(stored) == BODY
    head = boto3.client("s3").head_object(Bucket=data_aws.bucket, Key=stored.key, VersionId=stored.version_id)
    assert head["ServerSideEncryption"] == "aws:kms"
    assert head["SSEKMSKeyId"] == KMS_KEY
    assert head["Metadata"] == {"trace-id": "t-1"}
    assert puts[0]["ChecksumSHA256"] == base64.b64encode(hashlib.sha256(BODY).digest()).decode()
    assert puts[0]["IfNoneMatch"] == "*"


def test_a_raw_body_archived_again_keeps_the_first_copy(archive: S3RawArchive, data_aws: DataResources) -> None:
    first = archive.put("raw/dt=2026-07-01/abc.json", BODY, metadata={})
    again = archive.put("raw/dt=2026-07-01/abc.json", b"something else", metadata={})

    assert again == first
    assert archive.get(again) == BODY
    assert versions(data_aws.bucket) == [(first.key, first.version_id)]


def test_a_deleted_body_is_gone_for_good(archive: S3RawArchive, data_aws: DataResources) -> None:
    stored = archive.put("raw/dt=2026-07-01/abc.json", BODY, metadata={})
    archive.delete_versions([stored, stored])

    assert versions(data_aws.bucket) == []  # no version left behind, and no delete marker
    with pytest.raises(ArchivedBodyGone):
        archive.get(stored)
    assert archive.find(stored.key) is None


def chunked(body: bytes, size: int = 64 * 1024) -> Iterator[bytes]:
    for start in range(0, len(body), size):
        yield body[start : start + size]


@pytest.mark.parametrize("size", [0, 1, 5 * MIB, 5 * MIB + 1, 11 * MIB + 17])
def test_a_streamed_body_of_the_announced_size_is_stored_whole(
    archive: S3RawArchive, data_aws: DataResources, size: int
) -> None:
    body = bytes(i % 251 for i in range(size))
    stored = archive.put_stream("raw/fetched/abc.json", chunked(body), size=size, metadata={"trace-id": "t-1"})

    assert archive.get(stored) == body
    head = boto3.client("s3").head_object(Bucket=data_aws.bucket, Key=stored.key)
    assert head["ServerSideEncryption"] == "aws:kms"
    assert head["Metadata"] == {"trace-id": "t-1"}


@pytest.mark.parametrize(
    ("actual", "announced"), [(100, 101), (101, 100), (6 * MIB, 6 * MIB + 1), (6 * MIB + 1, 6 * MIB)]
)
def test_a_streamed_body_of_another_size_stores_nothing(
    archive: S3RawArchive, data_aws: DataResources, actual: int, announced: int
) -> None:
    with pytest.raises(ValueError, match="announced"):
        archive.put_stream("raw/fetched/abc.json", chunked(b"x" * actual), size=announced, metadata={})

    assert versions(data_aws.bucket) == []
    assert boto3.client("s3").list_multipart_uploads(Bucket=data_aws.bucket).get("Uploads", []) == []


def test_a_stream_that_breaks_off_stores_nothing(archive: S3RawArchive, data_aws: DataResources) -> None:
    def breaking() -> Iterator[bytes]:
        yield b"x" * (6 * MIB)
        raise ConnectionError("reset")

    with pytest.raises(ConnectionError):
        archive.put_stream("raw/fetched/abc.json", breaking(), size=7 * MIB, metadata={})

    assert versions(data_aws.bucket) == []
    assert boto3.client("s3").list_multipart_uploads(Bucket=data_aws.bucket).get("Uploads", []) == []


def test_a_streamed_body_already_archived_keeps_the_first(archive: S3RawArchive) -> None:
    first = archive.put_stream("raw/fetched/abc.json", chunked(b"a" * (6 * MIB)), size=6 * MIB, metadata={})
    again = archive.put_stream("raw/fetched/abc.json", chunked(b"b" * (6 * MIB)), size=6 * MIB, metadata={})

    assert again == first
    assert archive.get(first) == b"a" * (6 * MIB)


def test_each_record_copy_is_a_new_version_listed_under_exactly_its_key(
    objects: S3RecordObjects, data_aws: DataResources
) -> None:
    key = "records/type=daily/day=2026-07-01/a.json"
    first, second = objects.put(key, b"1\n"), objects.put(key, b"2\n")
    objects.put(key + ".other", b"3\n")

    assert first.version_id != second.version_id
    assert sorted(objects.list_versions(key)) == sorted([first, second])
    assert objects.get(first) == b"1\n"
    objects.delete_versions([first])
    assert objects.get(first) is None
    assert objects.list_versions(key) == [second]
    assert objects.get(ObjectVersion("records/none.json", second.version_id)) is None


def test_a_bucket_that_does_not_exist_is_a_misconfiguration(data_aws: DataResources) -> None:
    archive = S3RawArchive("no-such-bucket-here", kms_key_id=KMS_KEY)
    with pytest.raises(DataStoreMisconfigured):
        archive.put("raw/x.json", BODY, metadata={})


def test_whether_a_raw_key_exists_is_listed_never_asked_with_head_object(archive: S3RawArchive) -> None:
    # Without s3:ListBucket, S3 answers HeadObject on a key that does not exist yet with 403, not 404.
    heads = sent_params(archive._client, "HeadObject")
    listings = sent_params(archive._client, "ListObjectVersions")
    key = "raw/fetched/abc.json"

    assert archive.find(key) is None
    stored = archive.put(key, BODY, metadata={})
    archive.put(key + ".other", BODY, metadata={})
    assert archive.find(key) == stored
    assert archive.put(key, b"again", metadata={}) == stored

    assert heads == []
    assert listings[:2] == [{"Bucket": archive.bucket, "Prefix": key, "MaxKeys": 1}] * 2


def test_a_raw_body_read_refused_because_it_is_gone_is_gone(archive: S3RawArchive) -> None:
    # S3 answers 403 for an erased version to a role that may not list the bucket.
    stored = archive.put("raw/dt=2026-07-01/abc.json", BODY, metadata={})

    def refuse(**_: Any) -> None:
        error = {"Error": {"Code": "AccessDenied", "Message": "Access Denied"}}
        raise ClientError(error, "GetObject")  # type: ignore[arg-type]

    archive._client.meta.events.register("before-call.s3.GetObject", refuse)
    with pytest.raises(DataStoreMisconfigured):  # still listed: the role really may not read it
        archive.get(stored)
    archive.delete_versions([stored])
    with pytest.raises(ArchivedBodyGone):
        archive.get(stored)
