"""Apple Health, Samsung Health, Health Connect: a token for Terra's mobile SDK, and the providers enabled."""

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.metrics import MetricUnit

from terra_connect.domain.contract import ProvidersResponse, SdkTokenResponse
from terra_connect.http import dependencies
from terra_connect.http.problems import NO_STORE, problem_responses
from terra_connect.platform.observability import metrics

router = Router()  # type: ignore[no-untyped-call]  # Powertools declares no return type on __init__

# The list is the Terra account's, the same for every user: the app may keep it a few minutes.
PROVIDERS_CACHE_CONTROL = {"Cache-Control": "private, max-age=300"}


@router.post(
    "/v1/sdk-tokens",
    summary="Get a token for Terra's mobile SDK (Apple Health, Samsung Health, Health Connect)",
    description="A single-use token, valid 180 s, for the SDK's initConnection(). Initialise the SDK with the "
    "returned `reference_id`: an SDK connection made under any other reference_id, or long after the token, is "
    "kept out of the user's connections. No body.",
    operation_id="createSdkToken",
    tags=["Mobile SDK"],
    status_code=201,
    responses={
        201: {"description": "The token.", "content": {"application/json": {"model": SdkTokenResponse}}},
        **problem_responses(401, 415, 422, 500, 502, 503, 504),
    },
)
def create_sdk_token() -> Response[str]:
    caller = dependencies.signed_in_caller()
    token = dependencies.services().sdk_tokens.issue(caller.reference_id, caller.deadline)
    metrics.add_metric(name="SdkTokensIssued", unit=MetricUnit.Count, value=1)
    return Response(201, "application/json", token.model_dump_json(), headers=NO_STORE)


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
