"""Per-request values the routes declare with Depends()."""

from typing import cast

from aws_lambda_powertools.event_handler import Request
from aws_lambda_powertools.event_handler.api_gateway import BaseRouter
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEventV2

from terra_connect.api.container import get_container
from terra_connect.domain.deadline import Deadline
from terra_connect.domain.identity import reference_id_from_claims
from terra_connect.domain.widget_sessions import WidgetSessionService


def caller_reference_id(request: Request) -> str:
    """The verified JWT claim that becomes Terra's reference_id. Never read from the body, query or headers."""
    event = cast(APIGatewayProxyEventV2, request.resolved_event)
    claims = event.request_context.authorizer.jwt_claim
    return reference_id_from_claims(claims, get_container().settings.reference_id_claim)


def request_deadline() -> Deadline:
    """When the invocation must have answered: the Lambda's remaining time, read from its context."""
    context = BaseRouter.lambda_context
    return Deadline.after(context.get_remaining_time_in_millis() / 1000)


def widget_session_service() -> WidgetSessionService:
    return get_container().widget_sessions
