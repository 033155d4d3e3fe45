"""Per-request values the routes declare with Depends()."""

from typing import cast

from aws_lambda_powertools.event_handler import Request
from aws_lambda_powertools.event_handler.api_gateway import BaseRouter
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEventV2

from terra_connect.api.container import get_container
from terra_connect.api.media_types import has_non_json_body
from terra_connect.domain.connections_service import ConnectionsService
from terra_connect.domain.deadline import Deadline
from terra_connect.domain.errors import InvalidRequest, ReferenceIdNotAllowed, UnsupportedMediaType
from terra_connect.domain.identity import reference_id_from_claims
from terra_connect.domain.providers import ProvidersService
from terra_connect.domain.reconciliation import SyncService
from terra_connect.domain.sdk import SdkTokenService
from terra_connect.domain.widget_sessions import WidgetSessionService


def _reference_id_named(name: str) -> bool:
    return "referenceid" in name.lower().replace("-", "").replace("_", "")


def strict_request(request: Request) -> None:
    """Refuse what the route does not read: a non-JSON body, any query parameter, an identity-choosing header.

    Runs after Powertools' validation, which would otherwise accept form-encoded bodies; a non-JSON body that
    fails that validation is answered 415 by the resolver's validation-error handler.
    """
    event = cast(APIGatewayProxyEventV2, request.resolved_event)
    if any(_reference_id_named(name) for name in event.headers):
        raise ReferenceIdNotAllowed
    query = event.query_string_parameters or {}
    if any(_reference_id_named(name) for name in query):
        raise ReferenceIdNotAllowed
    if query:
        raise InvalidRequest("This route takes no query parameters.")
    if has_non_json_body(event):
        raise UnsupportedMediaType


def caller_reference_id(request: Request) -> str:
    """The verified JWT claim that becomes Terra's reference_id. Never read from the body, query or headers."""
    event = cast(APIGatewayProxyEventV2, request.resolved_event)
    claims = event.request_context.authorizer.jwt_claim
    return reference_id_from_claims(claims, get_container().settings.reference_id_claim)


def request_deadline() -> Deadline:
    """When the invocation must have answered: the Lambda's remaining time, read from its context."""
    context = BaseRouter.lambda_context
    return Deadline.after(context.get_remaining_time_in_millis() / 1000)


def sync_service() -> SyncService:
    return get_container().sync


def sdk_token_service() -> SdkTokenService:
    return get_container().sdk_tokens


def providers_service() -> ProvidersService:
    return get_container().providers


def widget_session_service() -> WidgetSessionService:
    return get_container().widget_sessions


def connections_service() -> ConnectionsService:
    return get_container().connections
