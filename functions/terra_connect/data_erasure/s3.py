"""The purge's side of the data bucket (S3, versioned): ports.PurgeObjects.

Every version of a key is found by listing the versions under the key itself (a key's listing also holds longer
keys it is a prefix of: those are left alone), and deleted by version id, which removes it for good - no delete
marker is left behind. Needs s3:ListBucketVersions (on raw/ and records/) and s3:DeleteObjectVersion, no KMS.
"""

from collections.abc import Sequence
from typing import Any

from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from terra_connect.health_data.errors import DataStoreMisconfigured, DataStoreUnavailable
from terra_connect.health_data.models import ObjectVersion
from terra_connect.platform.aws_clients import aws_client

CLIENT_CONFIG = Config(connect_timeout=2, read_timeout=10, retries={"mode": "standard", "max_attempts": 3})
MAX_DELETE = 1000  # DeleteObjects' limit per call
_GONE = frozenset({"NoSuchKey", "NoSuchVersion"})
_MISCONFIGURED = frozenset({"NoSuchBucket", "AccessDenied", "AllAccessDisabled", "InvalidAccessKeyId"})


class S3PurgeObjects:
    def __init__(self, bucket: str, *, endpoint_url: str | None = None, config: Config = CLIENT_CONFIG) -> None:
        self.bucket = bucket
        self._client = aws_client("s3", config=config, endpoint_url=endpoint_url)

    def versions(self, keys: Sequence[str]) -> list[ObjectVersion]:
        found: list[ObjectVersion] = []
        for key in keys:
            request: dict[str, Any] = {"Bucket": self.bucket, "Prefix": key}
            while True:
                page = self._call("list_object_versions", **request)
                for entry in [*page.get("Versions", []), *page.get("DeleteMarkers", [])]:
                    if entry["Key"] == key:
                        found.append(ObjectVersion(key, entry["VersionId"]))
                if not page.get("IsTruncated"):
                    break
                request |= {"KeyMarker": page["NextKeyMarker"], "VersionIdMarker": page["NextVersionIdMarker"]}
        return found

    def delete(self, versions: Sequence[ObjectVersion]) -> None:
        unique = sorted(set(versions))
        for start in range(0, len(unique), MAX_DELETE):
            batch = unique[start : start + MAX_DELETE]
            answer = self._call(
                "delete_objects",
                Bucket=self.bucket,
                Delete={"Objects": [{"Key": v.key, "VersionId": v.version_id} for v in batch], "Quiet": True},
            )
            failed = {str(error.get("Code")) for error in answer.get("Errors", [])} - _GONE
            if failed:
                raise DataStoreUnavailable(log_context={"s3_error": sorted(failed)})

    def _call(self, operation: str, **kwargs: Any) -> dict[str, Any]:
        try:
            result: dict[str, Any] = getattr(self._client, operation)(**kwargs)
        except ClientError as error:
            code = str(error.response.get("Error", {}).get("Code", "Unknown"))
            if code in _MISCONFIGURED:
                raise DataStoreMisconfigured(
                    log_context={"reason": "the data bucket cannot be used", "s3_error": code}
                ) from None
            raise DataStoreUnavailable(log_context={"s3_error": code}) from None
        except BotoCoreError as error:
            raise DataStoreUnavailable(log_context={"s3_error": type(error).__name__}) from None
        return result
