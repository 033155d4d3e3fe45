"""How keeping health data fails, in the service's one hierarchy (kernel/errors.py), so that every caller - the API's
error mapping, a queue consumer deciding between retrying and giving up - reads the same classes.

- `DataStoreUnavailable`: S3 or DynamoDB is down, throttling or unreachable; retrying later helps (a 503 for the API,
  a failed record for a queue consumer).
- `DataStoreMisconfigured`: the bucket, table or key cannot be used (missing, access denied); an operator must act.
- `PayloadFetchFailed` and its kinds: an `s3_payload` URL could not be read. Only `PayloadUnavailable` is worth
  retrying; the others are final (the URL expired, is not one Terra's payloads use, or holds more than is kept).
"""

from terra_connect.kernel.errors import ConfigurationError, UpstreamUnavailable


class DataStoreUnavailable(UpstreamUnavailable):
    code = "data_store_unavailable"
    default_detail = "The data store is unavailable; retry later."


class DataStoreMisconfigured(ConfigurationError):
    code = "data_store_misconfigured"
    default_detail = "The data store is not configured correctly."


class ArchivedBodyGone(Exception):
    """An archived body's version no longer exists (erased, or expired by the retention rule): nothing to process."""


class PayloadFetchFailed(Exception):
    """A presigned payload URL could not be read into the archive. The message never holds the URL: it is a
    credential for as long as it lives."""

    retryable = False


class PayloadUnavailable(PayloadFetchFailed):
    """The host failed, timed out, cut the body short or answered 5xx: another try before the URL expires may work."""

    retryable = True


class PayloadUrlExpired(PayloadFetchFailed):
    """The URL's lifetime had passed before it could be read (or S3 said so): nothing can revive it."""


class PayloadUrlRefused(PayloadFetchFailed):
    """Not an https URL on an allowed host, or it answered with a redirect or a refusal: never followed."""


class PayloadOversized(PayloadFetchFailed):
    """The body is larger than the ingest function keeps."""
