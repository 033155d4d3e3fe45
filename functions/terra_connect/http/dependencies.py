"""Per-request values every JWT route reads first: the checks on the request, the caller and the deadline.

Powertools validates what a route declares (its body model, its path parameters) before the route runs; the checks
here are what every route refuses alike, whatever it declares. Routes call these directly rather than through
Powertools' `Depends()`: the resolver re-reads the type hints of every declared dependency on every request (about
55 µs of a warm invocation), for values that are a few lines each. `services()` is the one place a route reaches the
container (entrypoints/api.py); tests replace it with a container of their own.
"""

import binascii
from dataclasses import dataclass
from typing import TYPE_CHECKING, cast

from aws_lambda_powertools.event_handler.api_gateway import BaseRouter
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEventV2

from terra_connect.http.media_types import declares_non_json, has_non_json_body
from terra_connect.http.resolver import names_reference_id_outside_body
from terra_connect.kernel.deadline import Deadline
from terra_connect.kernel.errors import InvalidRequest, ReferenceIdNotAllowed, ServiceError, UnsupportedMediaType
from terra_connect.kernel.identity import names_reference_id, reference_id_from_claims

if TYPE_CHECKING:  # the entry module imports the routes, which import this module
    from terra_connect.entrypoints.api import ApiContainer


@dataclass(frozen=True, slots=True)
class Caller:
    """The signed-in caller of this request and when the invocation must have answered."""

    reference_id: str
    deadline: Deadline


def services() -> "ApiContainer":
    """This container's services (built once per container, by the API function's entry module)."""
    from terra_connect.entrypoints.api import get_container  # noqa: PLC0415 - imported by then: it imports the routes

    return get_container()


def _body_names_reference_id(event: APIGatewayProxyEventV2) -> bool:
    """A JSON object body with a reference_id field. A route with a body model has refused it already (Powertools'
    validation); a route without one reads no body, so a body that is not a JSON object names nothing and stays
    ignored, as it always was."""
    if not event.body or declares_non_json(event):
        return False
    try:
        document = event.json_body  # the resolver's strict parser, once per request
    except (ServiceError, UnicodeDecodeError, binascii.Error):
        return False
    return isinstance(document, dict) and names_reference_id(document)


def strict_request(event: APIGatewayProxyEventV2, query_parameters: frozenset[str] = frozenset()) -> None:
    """Refuse what no route reads: a reference_id wherever the caller puts it (the identity comes from the token
    only), a query parameter the route does not take (`query_parameters`: those it does), a body that is not JSON."""
    if names_reference_id_outside_body(event) or _body_names_reference_id(event):
        raise ReferenceIdNotAllowed
    query = event.query_string_parameters or {}
    if query and not query_parameters:
        raise InvalidRequest("This route takes no query parameters.")
    unknown = sorted(set(query) - query_parameters)
    if unknown:
        raise InvalidRequest(errors=[{"loc": ["query", name], "type": "extra_forbidden"} for name in unknown])
    if has_non_json_body(event):
        raise UnsupportedMediaType


def caller_reference_id(event: APIGatewayProxyEventV2) -> str:
    """The verified JWT claim that becomes Terra's reference_id. Never read from the body, query or headers."""
    claims = event.request_context.authorizer.jwt_claim
    return reference_id_from_claims(claims, services().settings.reference_id_claim)


def query_parameters() -> dict[str, str]:
    """The current request's query parameters as sent (API Gateway joins a repeated one's values with commas)."""
    event = cast(APIGatewayProxyEventV2, BaseRouter.current_event)
    return dict(event.query_string_parameters or {})


def request_deadline() -> Deadline:
    """When the invocation must have answered: the Lambda's remaining time, read from its context."""
    context = BaseRouter.lambda_context
    return Deadline.after(context.get_remaining_time_in_millis() / 1000)


def signed_in_caller(query_parameters: frozenset[str] = frozenset()) -> Caller:
    """Check the current request, then name its caller: what every JWT route does before anything else."""
    event = cast(APIGatewayProxyEventV2, BaseRouter.current_event)
    strict_request(event, query_parameters)
    return Caller(caller_reference_id(event), request_deadline())
