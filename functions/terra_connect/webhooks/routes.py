"""POST /v1/terra/webhooks: Terra's signed deliveries (no JWT: the signature is the authentication)."""

import base64
import binascii

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.metrics import MetricUnit

from terra_connect.health_data.errors import DataStoreMisconfigured, DataStoreUnavailable
from terra_connect.http.problems import problem_responses
from terra_connect.kernel.errors import MalformedBody, PayloadTooLarge
from terra_connect.platform.observability import logger, metrics
from terra_connect.terra.users import TERRA_USER_ID_PATTERN
from terra_connect.webhooks.processor import PARSERS
from terra_connect.webhooks.receiver import WebhookReceiver

router = Router()  # type: ignore[no-untyped-call]  # Powertools declares no return type on __init__

# Lambda takes a synchronous event of at most 6 MB, the body JSON-escaped inside it: no larger body can arrive.
MAX_WEBHOOK_BYTES = 6 * 1024 * 1024

# The body is read raw (the signature covers its exact bytes), so the document describes it here instead of a model:
# the fields of Terra's events this service reads. Other types and fields are accepted and ignored.
_NULLABLE_STRING = {"anyOf": [{"type": "string"}, {"type": "null"}]}
_TERRA_USER = {
    "type": "object",
    "properties": {
        "user_id": {"type": "string", "pattern": TERRA_USER_ID_PATTERN},
        "provider": {"type": "string"},
        "reference_id": _NULLABLE_STRING,
        "scopes": _NULLABLE_STRING,
        "active": {"type": "boolean"},
        "created_at": _NULLABLE_STRING,
    },
    "required": ["user_id", "provider"],
}
_WEBHOOK_DOCUMENTATION = {
    "security": [],  # no JWT: the signature authenticates (Powertools drops an empty `security=` argument)
    "parameters": [
        {
            "name": "terra-signature",
            "in": "header",
            "required": True,
            "description": '`t=<unix seconds>,v1=<hex HMAC-SHA256 of "t.body">` with the destination\'s signing '
            "secret (`X-Terra-Signature` is read too). Deliveries older than the tolerance are refused.",
            "schema": {"type": "string", "pattern": r"^t=[0-9]+,v1=[0-9a-f]{64}$"},
        },
        {
            "name": "x-terra-trace-id",
            "in": "header",
            "required": False,
            "description": "Terra's delivery id: a delivery seen before is acknowledged without being applied twice.",
            "schema": {"type": "string", "maxLength": 256},
        },
    ],
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "description": "A Terra webhook event. Connection-lifecycle types ("
                    + ", ".join(sorted(PARSERS))
                    + ") change the connection registry; `healthcheck` is acknowledged. Every other type - data "
                    "(`activity`, `sleep`, `daily`, `body`, ...), large-request announcements, `s3_payload`, types "
                    "Terra adds later - is archived exactly as received and queued for processing before the 200 "
                    "(when the stack keeps data; without a data store it is acknowledged and ignored).",
                    "required": ["type"],
                    "properties": {
                        # Not an enum: types Terra adds later are kept too.
                        "type": {"type": "string"},
                        "status": {"type": "string"},
                        "user": _TERRA_USER,
                        "old_user": {"anyOf": [_TERRA_USER, {"type": "null"}]},
                        "new_user": _TERRA_USER,
                        "reference_id": _NULLABLE_STRING,
                        "provider": {"type": "string"},
                        "reason": {"type": "string"},
                        "scopes_added": _NULLABLE_STRING,
                        "scopes_removed": _NULLABLE_STRING,
                    },
                }
            }
        },
    },
}


def webhook_receiver() -> WebhookReceiver:
    """This container's receiver (built once per container, by the webhook function's entry module)."""
    from terra_connect.entrypoints.webhook import get_webhook_container  # noqa: PLC0415 - it imports this module

    return get_webhook_container().receiver


def raw_body() -> bytes:
    """The exact bytes Terra signed: base64-decoded when API Gateway marked them so, never re-serialised."""
    event = router.current_event
    body = event.body or ""
    if event.is_base64_encoded:
        try:
            return base64.b64decode(body, validate=True)
        except binascii.Error:
            raise MalformedBody("The body is marked base64 but is not.") from None
    # A lone surrogate cannot come from API Gateway (its bodies are UTF-8 or base64), but a hand-made event may
    # hold one: it is kept as bytes no signature will match, not an error.
    return body.encode("utf-8", "surrogatepass")


@router.post(
    "/v1/terra/webhooks",
    summary="Receive Terra's webhooks",
    description="Register this URL as a webhook destination in Terra's dashboard. Deliveries must carry a valid "
    "`terra-signature` (or `X-Terra-Signature`) made with the destination's signing secret.",
    operation_id="receiveTerraWebhook",
    tags=["Webhooks"],
    responses={
        200: {"description": "Accepted: applied to the registry, or archived and queued (a data event)."},
        # No authorizer on this route: its 401 is the function's (the signature), only a 413 can be API Gateway's.
        **problem_responses(400, 401, 413, 500, 503, gateway=frozenset({413})),
    },
    openapi_extensions=_WEBHOOK_DOCUMENTATION,
)
def receive_webhook() -> dict[str, str]:
    body = raw_body()
    if len(body) > MAX_WEBHOOK_BYTES:
        raise PayloadTooLarge("The webhook body is larger than 6 MiB.")
    headers = router.current_event.headers
    delivery_id = next((v for k, v in headers.items() if k.lower() == "x-terra-trace-id"), None)
    try:
        outcome = webhook_receiver().receive(headers, body, delivery_id)
    except (DataStoreUnavailable, DataStoreMisconfigured) as error:
        # Terra redelivers on the 503 (the same trace id lands on the same archive key).
        logger.warning("Data event not kept; Terra will redeliver it", extra={"code": error.code, **error.log_context})
        metrics.add_metric(name="ClaimCheckFailures", unit=MetricUnit.Count, value=1)
        raise
    details = {"event_type": outcome.event_type, "action": outcome.action, "changed": outcome.changed}
    if outcome.archived:
        logger.info("Data event archived", extra={**details, "bytes": len(body)})
        metrics.add_metric(name="DataEventsArchived", unit=MetricUnit.Count, value=1)
    elif outcome.unstorable:
        # Authentic, but never storable: answering an error would only make Terra retry it for hours.
        logger.warning("Webhook event acknowledged but not stored", extra={**details, "why": outcome.unstorable})
        metrics.add_metric(name="WebhooksNotStored", unit=MetricUnit.Count, value=1)
    else:
        logger.info("Webhook processed", extra=details)
        metrics.add_metric(name="WebhooksProcessed", unit=MetricUnit.Count, value=1)
    return {"status": "ok"}
