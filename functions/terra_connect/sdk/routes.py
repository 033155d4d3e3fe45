"""POST /v1/sdk-tokens: a token for Terra's mobile SDK (Apple Health, Samsung Health, Health Connect)."""

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.metrics import MetricUnit

from terra_connect.http import dependencies
from terra_connect.http.problems import NO_STORE, problem_responses
from terra_connect.platform.observability import metrics
from terra_connect.sdk.models import SdkTokenResponse

router = Router()  # type: ignore[no-untyped-call]  # Powertools declares no return type on __init__


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
