"""Per-request values every JWT route reads first: the checks on the request, the caller and the deadline.

Routes call these directly rather than through Powertools' `Depends()`: the resolver re-reads the type hints of
every declared dependency on every request (about 55 µs of a warm invocation), for values that are a few lines
each. `services()` is the one place a route reaches the container; tests replace it with a container of their own.
"""

from dataclasses import dataclass
from typing import cast

from aws_lambda_powertools.event_handler.api_gateway import BaseRouter
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEventV2

from terra_connect.api.container import Container, get_container
from terra_connect.api.media_types import has_non_json_body
from terra_connect.domain.deadline import Deadline
from terra_connect.domain.errors import InvalidRequest, ReferenceIdNotAllowed, UnsupportedMediaType
from terra_connect.domain.identity import reference_id_from_claims


@dataclass(frozen=True, slots=True)
class Caller:
    """The signed-in caller of this request and when the invocation must have answered."""

    reference_id: str
    deadline: Deadline


def services() -> Container:
    """This container's services (built once per container)."""
    return get_container()


def _reference_id_named(name: str) -> bool:
    return "referenceid" in name.lower().replace("-", "").replace("_", "")


def strict_request(event: APIGatewayProxyEventV2) -> None:
    """Refuse what the route does not read: a non-JSON body, any query parameter, an identity-choosing header.

    Runs after Powertools' validation, which would otherwise accept form-encoded bodies; a non-JSON body that
    fails that validation is answered 415 by the resolver's validation-error handler.
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


def signed_in_caller() -> Caller:
    """Check the current request, then name its caller: what every JWT route does before anything else."""
    event = cast(APIGatewayProxyEventV2, BaseRouter.current_event)
    strict_request(event)
    return Caller(caller_reference_id(event), request_deadline())
