"""Every failure the service answers for: one hierarchy, each class with its HTTP status and stable code.

`detail` is shown to the caller, so it never holds a secret, a token or an upstream message;
`log_context` is for the operator's log line and never leaves the function.
"""

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar


class ServiceError(Exception):
    status: ClassVar[int] = 500
    code: ClassVar[str] = "internal_error"
    default_detail: ClassVar[str] = "The request could not be completed."

    def __init__(self, detail: str | None = None, *, log_context: Mapping[str, Any] | None = None) -> None:
        self.detail = detail or self.default_detail
        self.log_context: Mapping[str, Any] = log_context or {}
        super().__init__(self.detail)

    @property
    def headers(self) -> dict[str, str]:
        return {}


# 4xx: the caller can fix the request.


class MalformedBody(ServiceError):
    status = 400
    code = "malformed_body"
    default_detail = "The request body is not a valid UTF-8 JSON document."


class Unauthenticated(ServiceError):
    status = 401
    code = "unauthenticated"
    default_detail = "The access token does not identify a user."


class InvalidSignature(ServiceError):
    status = 401
    code = "invalid_signature"
    default_detail = "The webhook signature is missing, malformed, stale or wrong."


class NotFound(ServiceError):
    status = 404
    code = "not_found"
    default_detail = "No such resource."


class UnknownProvider(NotFound):
    code = "unknown_provider"
    default_detail = "Terra does not know this provider, or it is not enabled for this app."


class UnknownDataType(NotFound):
    code = "unknown_data_type"
    default_detail = "No such data type."


class PayloadTooLarge(ServiceError):
    status = 413
    code = "payload_too_large"
    default_detail = "The request body is too large."


class UnsupportedMediaType(ServiceError):
    status = 415
    code = "unsupported_media_type"
    default_detail = "Send the body as application/json."


class InvalidRequest(ServiceError):
    status = 422
    code = "validation_error"
    default_detail = "The request is not valid."

    def __init__(
        self,
        detail: str | None = None,
        *,
        errors: Sequence[Mapping[str, Any]] = (),
        log_context: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(detail, log_context=log_context)
        # Where and how the request breaks its schema ({"loc": [...], "type": ...}), never the values.
        self.errors = [dict(error) for error in errors]


class ReferenceIdNotAllowed(InvalidRequest):
    code = "reference_id_not_allowed"
    default_detail = "reference_id is taken from the access token and cannot be chosen by the caller."


class RedirectNotAllowed(InvalidRequest):
    code = "redirect_not_allowed"
    default_detail = "The redirect URL is not one of the configured destinations."


class InvalidDateRange(InvalidRequest):
    code = "invalid_date_range"
    default_detail = "end_date is before start_date, or the range is longer than 366 days."


class InvalidPageToken(InvalidRequest):
    code = "invalid_page_token"
    default_detail = "The page token is not one this query gave; start again without it."


# 5xx: the operator or an upstream has to act.


class ConfigurationError(ServiceError):
    status = 500
    code = "configuration_error"
    default_detail = "The service is not configured correctly."


class TerraRejected(ServiceError):
    status = 502
    code = "terra_rejected"
    default_detail = "Terra rejected the request."


class StaleConnectedUsers(TerraRejected):
    """Terra refused the widget's connected_uids pre-fill (400): some ids are no longer live Terra users.

    `invalid_user_ids` are the ids Terra named; empty when its answer named none.
    """

    def __init__(self, invalid_user_ids: tuple[str, ...], *, log_context: Mapping[str, Any] | None = None) -> None:
        super().__init__(log_context=log_context)
        self.invalid_user_ids = invalid_user_ids


class TerraBadResponse(ServiceError):
    status = 502
    code = "terra_bad_response"
    default_detail = "Terra answered with something that could not be used."


class UpstreamUnavailable(ServiceError):
    """A dependency is down or throttling; the caller may retry after `retry_after` seconds."""

    status = 503

    def __init__(
        self,
        detail: str | None = None,
        *,
        retry_after: int = 1,
        log_context: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(detail, log_context=log_context)
        self.retry_after = max(1, retry_after)

    @property
    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after)}


class TerraUnavailable(UpstreamUnavailable):
    code = "terra_unavailable"
    default_detail = "Terra is unavailable or throttling requests; retry later."


class SecretsUnavailable(UpstreamUnavailable):
    code = "secrets_unavailable"
    default_detail = "The credential store is unavailable; retry later."


class RegistryUnavailable(UpstreamUnavailable):
    code = "registry_unavailable"
    default_detail = "The connection registry is unavailable; retry later."


class TerraTimeout(ServiceError):
    status = 504
    code = "terra_timeout"
    default_detail = "Terra did not answer in time."


class RegistryRejected(ServiceError):
    """A request the registry's table refuses as invalid (an id beyond the registry's bounds, an item over
    DynamoDB's limits, a table without the stack's key schema). Retrying cannot help, so a webhook carrying it is
    acknowledged and counted; an API request gets this 500 and the log says why."""

    code = "registry_rejected"
    default_detail = "The connection registry refused the request."


class EventsUnavailable(Exception):
    """EventBridge refused or could not take lifecycle events (the stream retries the record). Never an HTTP
    answer: only the events function, which no caller waits on, publishes them."""

    def __init__(self, *, log_context: Mapping[str, Any] | None = None) -> None:
        self.log_context: Mapping[str, Any] = log_context or {}
        super().__init__("The lifecycle events could not be published.")
