"""The caller's connections: list, disconnect one, or get a provider's auth URL for a custom UI."""

from typing import Annotated

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Body, Path
from aws_lambda_powertools.metrics import MetricUnit

from terra_connect.connections.models import AuthUrlRequest, AuthUrlResponse, ConnectionsResponse
from terra_connect.http import dependencies
from terra_connect.http.problems import NO_STORE, problem_responses
from terra_connect.platform.observability import metrics
from terra_connect.terra.messages import PROVIDER_PATTERN
from terra_connect.terra.users import TERRA_USER_ID_PATTERN

router = Router()  # type: ignore[no-untyped-call]  # Powertools declares no return type on __init__

# OpenAPI links: where an answer's ids lead (clients and stateful fuzzers follow them).
DISCONNECT_LISTED = {
    "DisconnectFirst": {
        "operationId": "deleteConnection",
        "parameters": {"terra_user_id": "$response.body#/connections/0/terra_user_id"},
        "description": "Disconnect a listed connection.",
    }
}

SYNC_STATUS = "Sync-Status"
SYNCED_AT = "Synced-At"

TerraUserId = Annotated[str, Path(pattern=TERRA_USER_ID_PATTERN, description="A Terra user id from the list.")]
Provider = Annotated[str, Path(pattern=PROVIDER_PATTERN, description="A Terra provider code, e.g. GARMIN (any case).")]
Options = Annotated[AuthUrlRequest | None, Body(description="No body, or `null`, asks for the defaults.")]


@router.get(
    "/v1/connections",
    summary="List the signed-in user's connected wearables",
    description="Connections that are live (`connected`) or need the user to reconnect (`needs_reauth`), and the "
    "outcome of the latest connection attempt.",
    operation_id="listConnections",
    tags=["Connections"],
    responses={
        200: {
            "description": "The caller's connections.",
            "content": {"application/json": {"model": ConnectionsResponse}},
            "links": DISCONNECT_LISTED,
        },
        **problem_responses(401, 415, 422, 500, 503),
    },
)
def list_connections() -> Response[str]:
    caller = dependencies.signed_in_caller()
    answer = dependencies.services().connections.list(caller.reference_id, caller.deadline)
    metrics.add_metric(name="ConnectionsListed", unit=MetricUnit.Count, value=1)
    return Response(200, "application/json", answer.model_dump_json(), headers=NO_STORE)


@router.delete(
    "/v1/connections",
    summary="Erase the signed-in user: disconnect every wearable and forget them",
    description="For account deletion. Asks Terra to deauthenticate every Terra user of the caller (Terra deletes "
    "its data for each; one Terra no longer knows counts as gone), then deletes everything the service stores "
    "for the caller: connections, history, attempts, SDK tokens issued, sync markers, and queues the purge of their "
    "stored health data (records, payloads, backfill state; `Wearable Data Erased` once done; 503 "
    "`data_store_unavailable` when it cannot be queued). Only each erased Terra user "
    "id is kept, for the history retention, to refuse late deliveries about it. Publishes one `User Erased` "
    "event. Safe to retry after any failure; answers 204 when there is nothing (left) to erase. The caller may "
    "connect again afterwards, as a new user.",
    operation_id="eraseUser",
    tags=["Connections"],
    responses={
        204: {"description": "Erased, or nothing to erase.", "content": {}},
        **problem_responses(401, 415, 422, 500, 502, 503, 504),
    },
)
def erase_user() -> Response[None]:
    caller = dependencies.signed_in_caller()
    report = dependencies.services().erasure.erase(caller.reference_id, caller.deadline)
    metrics.add_metric(
        name="UsersErased" if report.erased else "ErasuresWithNothingToErase", unit=MetricUnit.Count, value=1
    )
    return Response(204, headers=NO_STORE)


@router.post(
    "/v1/connections/sync",
    summary="Reconcile the signed-in user's connections with Terra, then list them",
    description="Call it when the widget (or a provider page) redirects back to the app, instead of polling: it "
    "reads Terra's own list of the caller's Terra users, repairs the registry (a missed or late webhook), and "
    "answers exactly what `GET /v1/connections` answers. At most one real sync per caller per 30 s: within that "
    "window the registry answers, with `Sync-Status: recent` and `Retry-After`.",
    operation_id="syncConnections",
    tags=["Connections"],
    responses={
        200: {
            "description": "The caller's connections, after the sync. `Sync-Status` says whether Terra was asked "
            "(`performed`) or a recent sync stands (`recent`); `Synced-At` is when the last sync completed.",
            "content": {"application/json": {"model": ConnectionsResponse}},
            "links": DISCONNECT_LISTED,
        },
        **problem_responses(401, 415, 422, 500, 502, 503, 504),
    },
)
def sync_connections() -> Response[str]:
    caller = dependencies.signed_in_caller()
    result = dependencies.services().sync.sync(caller.reference_id, caller.deadline)
    headers = {**NO_STORE, SYNC_STATUS: "performed" if result.performed else "recent"}
    if result.synced_at is not None:
        headers[SYNCED_AT] = result.synced_at.isoformat().replace("+00:00", "Z")
    if not result.performed:
        headers["Retry-After"] = str(result.retry_after)
    metrics.add_metric(
        name="ConnectionsSynced" if result.performed else "SyncsAnsweredFromRegistry", unit=MetricUnit.Count, value=1
    )
    return Response(200, "application/json", result.connections.model_dump_json(), headers=headers)


@router.delete(
    "/v1/connections/<terra_user_id>",
    summary="Disconnect one of the signed-in user's wearables",
    description="Asks Terra to deauthenticate the user (Terra deletes its data for it). A Terra user that is not the "
    "caller's gets the same 404 as an unknown one.",
    operation_id="deleteConnection",
    tags=["Connections"],
    responses={
        204: {"description": "Disconnected.", "content": {}},
        **problem_responses(401, 404, 415, 422, 500, 502, 503, 504),
    },
)
def delete_connection(terra_user_id: TerraUserId) -> Response[None]:
    caller = dependencies.signed_in_caller()
    dependencies.services().connections.disconnect(caller.reference_id, terra_user_id, caller.deadline)
    metrics.add_metric(name="ConnectionsDisconnected", unit=MetricUnit.Count, value=1)
    return Response(204, headers=NO_STORE)


@router.post(
    "/v1/connections/<provider>/auth-url",
    summary="Start connecting one provider from the app's own UI",
    description="Returns the provider's sign-in URL (Terra authenticateUser) bound to the caller, with the same "
    "redirect rules as widget sessions. Open it in an in-app browser, never a WebView.",
    operation_id="createAuthUrl",
    tags=["Connections"],
    status_code=201,
    responses={
        201: {
            "description": "The provider's sign-in URL.",
            "content": {"application/json": {"model": AuthUrlResponse}},
        },
        **problem_responses(400, 401, 404, 413, 415, 422, 500, 502, 503, 504),
    },
)
def create_auth_url(
    provider: Provider,
    request: Options = None,
) -> Response[str]:
    caller = dependencies.signed_in_caller()
    answer = dependencies.services().connections.auth_url(
        caller.reference_id, provider, request or AuthUrlRequest(), caller.deadline
    )
    metrics.add_metric(name="AuthUrlsCreated", unit=MetricUnit.Count, value=1)
    return Response(201, "application/json", answer.model_dump_json(exclude_none=True), headers=NO_STORE)
