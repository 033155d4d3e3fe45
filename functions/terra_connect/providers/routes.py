"""GET /v1/providers: the providers enabled for the Terra account, for an app with its own provider picker."""

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.metrics import MetricUnit

from terra_connect.http import dependencies
from terra_connect.http.problems import problem_responses
from terra_connect.platform.observability import metrics
from terra_connect.providers.models import ProvidersResponse

router = Router()  # type: ignore[no-untyped-call]  # Powertools declares no return type on __init__

# The list is the Terra account's, the same for every user: the app may keep it a few minutes.
PROVIDERS_CACHE_CONTROL = {"Cache-Control": "private, max-age=300"}


@router.get(
    "/v1/providers",
    summary="List the providers enabled for the Terra account",
    description="For an app with its own provider picker: `providers` connect through "
    "`POST /v1/connections/{provider}/auth-url` (or the widget), `sdk_providers` through Terra's mobile SDK with a "
    "token from `POST /v1/sdk-tokens`. From Terra's `/integrations`, cached for 15 minutes.",
    operation_id="listProviders",
    tags=["Mobile SDK"],
    responses={
        200: {
            "description": "The providers.",
            "content": {"application/json": {"model": ProvidersResponse}},
            "links": {
                "AuthUrlForFirst": {
                    "operationId": "createAuthUrl",
                    "parameters": {"provider": "$response.body#/providers/0"},
                    "description": "Start connecting a listed provider from the app's own UI.",
                }
            },
        },
        **problem_responses(401, 415, 422, 500, 502, 503, 504),
    },
)
def list_providers() -> Response[str]:
    caller = dependencies.signed_in_caller()  # the list is the account's, but only for a signed-in caller
    answer = dependencies.services().providers.list(caller.deadline)
    metrics.add_metric(name="ProvidersListed", unit=MetricUnit.Count, value=1)
    return Response(200, "application/json", answer.model_dump_json(), headers=PROVIDERS_CACHE_CONTROL)
