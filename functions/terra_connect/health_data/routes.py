"""GET /v1/data/{type}: the signed-in caller's stored records of one data type, by day or by payload."""

from typing import Annotated

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Path, Query
from aws_lambda_powertools.metrics import MetricUnit

from terra_connect.health_data import queries
from terra_connect.health_data.api_models import DataResponse
from terra_connect.health_data.errors import DataStoreMisconfigured
from terra_connect.health_data.page_tokens import MAX_TOKEN_LENGTH
from terra_connect.http import dependencies
from terra_connect.http.problems import NO_STORE, problem_responses
from terra_connect.platform.observability import metrics

router = Router()  # type: ignore[no-untyped-call]  # Powertools declares no return type on __init__

_DATE = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"
_PARAMETERS = frozenset(queries.PARAMETERS)

DataType = Annotated[
    str,
    Path(
        max_length=40,
        description=f"A data type: {', '.join(queries.READABLE_TYPES)}. Any other answers 404 unknown_data_type.",
        examples=["daily"],
    ),
]
StartDate = Annotated[
    str | None,
    Query(
        pattern=_DATE,
        description="First day (YYYY-MM-DD, the local date Terra wrote), included.",
        examples=["2026-07-01"],
    ),
]
EndDate = Annotated[
    str | None,
    Query(
        pattern=_DATE,
        description="Last day, included; at most 366 days from start_date, both counted.",
        examples=["2026-07-07"],
    ),
]
PayloadId = Annotated[
    str | None,
    Query(
        pattern=r"^[0-9a-f]{32}$",
        description="Instead of a range: the records a payload stored (`payload_id` of a Wearable Data Received "
        "event), as they are now.",
    ),
]
Limit = Annotated[int | None, Query(ge=1, le=queries.MAX_LIMIT, description="Records per page, 1-100 (default 100).")]
PageToken = Annotated[
    str | None,
    Query(
        max_length=MAX_TOKEN_LENGTH,
        description="`next_page_token` of the previous page, with the same type, range and payload.",
    ),
]


@router.get(
    "/v1/data/<type>",
    summary="Read the signed-in user's stored health data of one type",
    description="The caller's own records of the type whose day (the local date of `metadata.start_time`, as Terra "
    "wrote it) lies from `start_date` to `end_date`, both included, or the records of one payload (`payload_id`). "
    "Each record once, its newest copy (a day's `daily` as last delivered), in Terra's own shape. Paginated: follow "
    "`next_page_token` until it is `null`; a page holds at most `limit` records and about 4 MB.",
    operation_id="readData",
    tags=["Health data"],
    responses={
        200: {
            "description": "A page of the caller's records.",
            "content": {"application/json": {"model": DataResponse}},
        },
        **problem_responses(401, 404, 415, 422, 500, 503),
    },
)
def read_data(
    type: DataType,  # the path's name, as the template and the docs give it
    *,
    start_date: StartDate = None,
    end_date: EndDate = None,
    payload_id: PayloadId = None,
    limit: Limit = None,
    page_token: PageToken = None,
) -> Response[str]:
    caller = dependencies.signed_in_caller(_PARAMETERS)
    # Powertools has checked each parameter's form; queries.py reads them again whole, as sent: real dates, the
    # range, which parameters go together, the page token.
    query = queries.data_query(type, dependencies.query_parameters())
    reader = dependencies.services().data
    if reader is None:
        raise DataStoreMisconfigured(log_context={"reason": "no data table or bucket in this deployment"})
    page = reader.read(caller.reference_id, query)
    metrics.add_metric(name="DataPagesRead", unit=MetricUnit.Count, value=1)
    metrics.add_metric(name="DataRecordsRead", unit=MetricUnit.Count, value=len(page.records))
    if page.skipped:
        metrics.add_metric(name="DataRecordsGoneWhileRead", unit=MetricUnit.Count, value=page.skipped)
    return Response(200, "application/json", page.to_json(), headers=NO_STORE)
