"""Per-request values every JWT route reads first: the checks on the request, the caller and the deadline.

Routes call these directly rather than through Powertools' `Depends()`: the resolver re-reads the type hints of
every declared dependency on every request (about 55 µs of a warm invocation), for values that are a few lines
each. `services()` is the one place a route reaches the container; tests replace it with a container of their own.
"""

from dataclasses import dataclass
from typing import Any, cast

from aws_lambda_powertools.event_handler.api_gateway import BaseRouter
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEventV2

from terra_connect.api.container import Container, get_container
from terra_connect.api.media_types import has_non_json_body
from terra_connect.domain.contract import Schema, ValidationErrors, check
from terra_connect.domain.deadline import Deadline
from terra_connect.domain.errors import InvalidRequest, ReferenceIdNotAllowed, UnsupportedMediaType
from terra_connect.domain.identity import reference_id_from_claims


@dataclass(frozen=True, slots=True)
class Caller:
    """The signed-in caller of this request and when the invocation must have answered."""

    reference_id: str
    deadline: Deadline
    body: dict[str, Any] | None = None  # the request body, valid against the route's schema (None: no body)


def services() -> Container:
    """This container's services (built once per container)."""
    return get_container()


def _reference_id_named(name: str) -> bool:
    return "referenceid" in name.lower().replace("-", "").replace("_", "")


def strict_request(event: APIGatewayProxyEventV2) -> None:
    """Refuse what the route does not read: a non-JSON body, any query parameter, an identity-choosing header.

    Runs after the body's validation, so a body naming reference_id is answered as such.
    """
    if any(_reference_id_named(name) for name in event.raw_event.get("headers") or {}):
        raise ReferenceIdNotAllowed
    query = event.query_string_parameters or {}
    if any(_reference_id_named(name) for name in query):
        raise ReferenceIdNotAllowed
    if query:
        raise InvalidRequest("This route takes no query parameters.")
    if has_non_json_body(event):
        raise UnsupportedMediaType


def caller_reference_id(event: APIGatewayProxyEventV2) -> str:
    """The verified JWT claim that becomes Terra's reference_id. Never read from the body, query or headers."""
    claims = event.request_context.authorizer.jwt_claim
    return reference_id_from_claims(claims, services().settings.reference_id_claim)


def request_deadline() -> Deadline:
    """When the invocation must have answered: the Lambda's remaining time, read from its context."""
    context = BaseRouter.lambda_context
    return Deadline.after(context.get_remaining_time_in_millis() / 1000)


def _refuse(errors: ValidationErrors) -> None:
    if any(e["type"] == "extra_forbidden" and e["loc"][-1:] == ["reference_id"] for e in errors):
        raise ReferenceIdNotAllowed
    if errors:
        raise InvalidRequest(errors=errors)


def validated_body(event: APIGatewayProxyEventV2, schema: Schema) -> dict[str, Any] | None:
    """The JSON body, valid against `schema`; None when there is none (an absent, empty or `null` body)."""
    if has_non_json_body(event):
        raise UnsupportedMediaType
    if not event.body:
        return None
    document: dict[str, Any] | None = event.json_body  # the resolver's strict parser: 400, 413, or an object
    if document is None:
        return None
    _refuse(check(schema, document, ("body",)))
    return document


def validated_path(name: str, value: str, schema: Schema) -> str:
    """A path parameter as the resolver matched it, valid against `schema`."""
    _refuse(check(schema, value, ("path", name)))
    return value


def signed_in_caller(body: Schema | None = None) -> Caller:
    """Check the current request, then name its caller: what every JWT route does before anything else.

    `body`: the route's request schema; a route without one reads no body (a JSON body is ignored).
    """
    event = cast(APIGatewayProxyEventV2, BaseRouter.current_event)
    document = validated_body(event, body) if body is not None else None
    strict_request(event)
    return Caller(caller_reference_id(event), request_deadline(), document)
