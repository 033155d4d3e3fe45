"""What a request's Content-Type says about its body; shared by the resolver and the routes' dependencies."""

from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEventV2

_JSON_MEDIA_TYPES = frozenset({"application/json"})


def declares_non_json(event: APIGatewayProxyEventV2) -> bool:
    """The Content-Type names something other than JSON (no Content-Type is taken as JSON)."""
    media_type = (event.headers.get("content-type") or "application/json").split(";")[0].strip().lower()
    return media_type not in _JSON_MEDIA_TYPES


def has_non_json_body(event: APIGatewayProxyEventV2) -> bool:
    return bool(event.body) and declares_non_json(event)
