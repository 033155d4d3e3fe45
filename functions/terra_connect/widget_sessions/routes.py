"""POST /v1/widget-sessions: a Terra widget URL for the signed-in caller."""

from typing import Annotated

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Body
from aws_lambda_powertools.metrics import MetricUnit

from terra_connect.http import dependencies
from terra_connect.http.problems import NO_STORE, problem_responses
from terra_connect.platform.observability import metrics
from terra_connect.widget_sessions.models import WidgetSessionRequest, WidgetSessionResponse

router = Router()  # type: ignore[no-untyped-call]  # Powertools declares no return type on __init__

Options = Annotated[WidgetSessionRequest | None, Body(description="No body, or `null`, asks for Terra's defaults.")]


@router.post(
    "/v1/widget-sessions",
    summary="Create a Terra widget session for the signed-in user",
    description=(
        "Returns a short-lived Terra widget URL bound to the caller's verified identity. "
        "Open it in an in-app browser (ASWebAuthenticationSession, Custom Tabs), never a WebView."
    ),
    operation_id="createWidgetSession",
    tags=["Widget sessions"],
    status_code=201,
    responses={
        201: {
            "description": "The widget session was created.",
            "content": {"application/json": {"model": WidgetSessionResponse}},
        },
        **problem_responses(400, 401, 413, 415, 422, 500, 502, 503, 504),
    },
)
def create_widget_session(
    request: Options = None,
) -> Response[str]:
    caller = dependencies.signed_in_caller()
    session = dependencies.services().widget_sessions.create(
        caller.reference_id, request or WidgetSessionRequest(), caller.deadline
    )
    metrics.add_metric(name="WidgetSessionsCreated", unit=MetricUnit.Count, value=1)
    return Response(
        status_code=201,
        content_type="application/json",
        body=session.model_dump_json(exclude_none=True),
        headers=NO_STORE,
    )
