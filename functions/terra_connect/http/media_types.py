"""What a request's Content-Type says about its body; shared by the resolver and the routes' dependencies."""

from typing import Any

from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEventV2

_JSON_MEDIA_TYPES = frozenset({"application/json"})


def declares_non_json(event: APIGatewayProxyEventV2) -> bool:
    """The Content-Type names something other than JSON (no Content-Type is taken as JSON)."""
    media_type = (event.headers.get("content-type") or "application/json").split(";")[0].strip().lower()
    return media_type not in _JSON_MEDIA_TYPES


def has_non_json_body(event: APIGatewayProxyEventV2) -> bool:
    return bool(event.body) and declares_non_json(event)


def as_validation_reads_it(event: dict[str, Any]) -> dict[str, Any]:
    """The event with its Content-Type as Powertools' validation must see it to read it as this API always has.

    Powertools compares the media type case-sensitively, and checks it even when there is no body: `APPLICATION/JSON`
    and a body-less request labelled `text/plain` would be refused (415). Media types are case-insensitive (RFC 9110),
    and a request without a body has no media type to check. The event is copied, never changed in place.
    """
    headers: dict[str, str] = event.get("headers") or {}
    name = next((key for key in headers if key.lower() == "content-type"), None)
    if name is None:
        return event
    if not event.get("body"):
        return {**event, "headers": {key: value for key, value in headers.items() if key != name}}
    media_type, separator, parameters = headers[name].partition(";")
    if media_type == media_type.lower():
        return event
    return {**event, "headers": {**headers, name: media_type.lower() + separator + parameters}}
