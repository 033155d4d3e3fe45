"""RFC 9457 problem details: the one shape every error answer takes.

`type` is "about:blank" (so `title` is the HTTP status phrase) and the stable, machine-readable
`code` says which problem it is; docs/api.md lists every code.
"""

import json
from collections.abc import Mapping, Sequence
from http import HTTPStatus
from typing import Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse

# The answers below are built here, not from models (the webhook function, which answers them too, imports no
# pydantic): their JSON Schemas are written out, and tooling/openapi.py adds them to the OpenAPI document.
Schema = Mapping[str, Any]

PROBLEM_JSON = "application/problem+json"
NO_STORE = {"Cache-Control": "no-store"}

PROBLEM_DETAILS: Schema = {
    "type": "object",
    "description": "RFC 9457 problem details, as every error answer carries them.",
    "required": ["type", "title", "status", "detail", "code", "request_id"],
    "properties": {
        "type": {"type": "string", "examples": ["about:blank"]},
        "title": {"type": "string", "examples": ["Unprocessable Content"]},
        "status": {"type": "integer", "examples": [422]},
        "detail": {"type": "string", "examples": ["The redirect URL is not one of the configured destinations."]},
        "code": {
            "type": "string",
            "description": "Stable, machine-readable error code (see docs/api.md).",
            "examples": ["redirect_not_allowed"],
        },
        "request_id": {
            "anyOf": [{"type": "string"}, {"type": "null"}],
            "description": "API Gateway request id, also in the logs.",
        },
        "errors": {
            "type": "array",
            "description": "Validation errors: location and type (never the value).",
            "items": {
                "type": "object",
                "required": ["loc", "type"],
                "properties": {
                    "loc": {"type": "array", "items": {"anyOf": [{"type": "string"}, {"type": "integer"}]}},
                    "type": {"type": "string", "examples": ["string_pattern_mismatch"]},
                },
            },
        },
    },
}
GATEWAY_MESSAGE: Schema = {
    "type": "object",
    "description": 'API Gateway\'s own answer, before any function runs (`{"message": "Unauthorized"}`).',
    "required": ["message"],
    "properties": {"message": {"type": "string", "examples": ["Unauthorized"]}},
}
SCHEMAS: dict[str, Schema] = {"ProblemDetails": PROBLEM_DETAILS, "GatewayMessage": GATEWAY_MESSAGE}


# Answered by API Gateway itself as well: its JWT authorizer refusing the token, a body over its 10 MB quota; and
# only by it: a valid token without the scope the routes require (with the stack's own user pool, an ID token).
_GATEWAY_ANSWERS = {
    401: "API Gateway's JWT authorizer: no token, or one it refuses",
    403: "API Gateway's JWT authorizer: a token without the required scope (an ID token instead of the access token)",
    413: "over API Gateway's 10 MB",
}
_GATEWAY_ONLY = frozenset({403})

_DESCRIPTIONS = {
    400: "malformed_body",
    401: "unauthenticated, invalid_signature",
    404: "not_found, unknown_provider, unknown_data_type",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_error, reference_id_not_allowed, redirect_not_allowed, invalid_date_range, invalid_page_token",
    500: "configuration_error, registry_rejected, data_store_misconfigured, internal_error",
    502: "terra_rejected, terra_bad_response",
    503: "terra_unavailable, secrets_unavailable, registry_unavailable, data_store_unavailable (with Retry-After)",
    504: "terra_timeout",
}


def problem_responses(
    *statuses: int, gateway: frozenset[int] = frozenset({401, 403, 413})
) -> dict[int, OpenAPIResponse]:
    """OpenAPI entries for a route's error answers: problem+json from the function, and - for the statuses API
    Gateway itself answers on this route (`gateway`) - its `{"message": ...}` JSON."""
    responses: dict[int, OpenAPIResponse] = {}
    for status in sorted(set(statuses) | (gateway & _GATEWAY_ONLY)):
        gateways = f"`application/json` from {_GATEWAY_ANSWERS[status]}" if status in gateway else ""
        content: dict[str, Any] = {}
        if status in statuses:
            content[PROBLEM_JSON] = {"schema": {"$ref": "#/components/schemas/ProblemDetails"}}
        if gateways:
            content["application/json"] = {"schema": {"$ref": "#/components/schemas/GatewayMessage"}}
        functions = _DESCRIPTIONS[status] if status in statuses else ""
        description = f"{HTTPStatus(status).phrase}: {'; or '.join(filter(None, (functions, gateways)))}"
        responses[status] = {"description": description, "content": content}
    return responses


def problem_response(
    status: int,
    code: str,
    detail: str,
    request_id: str | None,
    *,
    headers: Mapping[str, str] | None = None,
    errors: Sequence[Mapping[str, Any]] | None = None,
) -> Response[str]:
    body: dict[str, Any] = {
        "type": "about:blank",
        "title": HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
        "code": code,
        "request_id": request_id,
    }
    if errors:
        body["errors"] = list(errors)
    # Powertools serialises only application/json bodies, so problem+json is serialised here.
    return Response(
        status_code=status,
        content_type=PROBLEM_JSON,
        body=json.dumps(body, separators=(",", ":")),
        headers={**NO_STORE, **(headers or {})},
    )
