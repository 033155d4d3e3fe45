"""GET /v1/data/{type} through the real handlers: data delivered to the webhook and stored by the ingest function is
read back by its owner only, a day's newest copy, every record exactly once whatever the page size; a bad query is
refused before anything is read."""

import json
import time
from collections.abc import Callable
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support.builders import ApiAnswer, AwsCalls, api_event, webhook_event
from tests.support.data_stack import DataStack, delete_received, received
from tests.support.terra_data import activity, data_event, day_record, terra_user

Invoke = Callable[..., ApiAnswer]
Deliver = Callable[[dict[str, Any]], ApiAnswer]
Ingest = Callable[[list[dict[str, Any]]], dict[str, Any]]
ALICE, BOB = "alice", "bob"
TERRA_IDS = {ALICE: "40f7b0e1-89e2-43ac-a5b8-1e29c8d47cad", BOB: "9b2e4c61-0d3f-4a7e-b5c8-2f1e6d9a0c47"}
READS = ("Query", "GetObject", "BatchGetItem", "GetItem")
# Twelve activities over July 2026, two a day on some days.
ACTIVITIES = [(f"run-{n:02d}", f"2026-07-{1 + n // 2:02d}T0{n % 2 + 6}:00:00.000000+02:00") for n in range(12)]


def read(invoke: Invoke, who: str, data_type: str = "activity", query: str = "") -> ApiAnswer:
    return invoke(api_event(method="GET", path=f"/v1/data/{data_type}", query=query, claims={"sub": who}))


def july(extra: str = "") -> str:
    return "start_date=2026-07-01&end_date=2026-07-31" + extra


def store(deliver: Deliver, ingest: Ingest, stack: DataStack, who: str, event: dict[str, Any], **options: Any) -> None:
    """Deliver a data event of `who`'s Terra user and run the ingest function over the queue until it is empty."""
    assert deliver(webhook_event(event, **options)).status == 200
    while messages := received(stack):
        assert ingest(messages) == {"batchItemFailures": []}
        delete_received(stack, messages)


def connect(deliver: Deliver, who: str) -> dict[str, Any]:
    user = terra_user(reference_id=who, user_id=TERRA_IDS[who])
    assert (
        deliver(webhook_event({"type": "auth", "status": "success", "user": user, "reference_id": who})).status == 200
    )
    return user


def runs(who: str) -> list[dict[str, Any]]:
    return [activity(f"{who}-{key}", start, start.replace("T0", "T1")) for key, start in ACTIVITIES]


@pytest.fixture
def alice_and_bob(data_stack: DataStack, deliver: Deliver, ingest: Ingest) -> DataStack:
    for who in (ALICE, BOB):
        user = connect(deliver, who)
        store(deliver, ingest, data_stack, who, data_event("activity", runs(who), user=user))
    return data_stack


def every_page(invoke: Invoke, who: str, query: str, *, limit: int) -> list[list[dict[str, Any]]]:
    pages: list[list[dict[str, Any]]] = []
    token: str | None = None
    while True:
        answer = read(invoke, who, query=f"{query}&limit={limit}" + (f"&page_token={token}" if token else ""))
        assert answer.status == 200, answer.body
        pages.append(answer.json["data"])
        token = answer.json["next_page_token"]
        if token is None:
            return pages


def test_a_caller_reads_their_records_in_terra_shape_by_day(alice_and_bob: DataStack, invoke: Invoke) -> None:
    answer = read(invoke, ALICE, query="start_date=2026-07-02&end_date=2026-07-03")

    assert answer.status == 200
    assert answer.headers["Cache-Control"] == "no-store"
    assert answer.json["next_page_token"] is None
    expected = [
        record for record in runs(ALICE) if record["metadata"]["start_time"][:10] in {"2026-07-02", "2026-07-03"}
    ]
    assert answer.json["data"] == expected  # Terra's own shape, every field kept, by day


def test_another_user_never_sees_them_not_even_with_their_page_token(alice_and_bob: DataStack, invoke: Invoke) -> None:
    first = read(invoke, ALICE, query=july("&limit=5"))
    token = first.json["next_page_token"]

    bobs = [r for page in every_page(invoke, BOB, july(), limit=100) for r in page]
    with_alices_token = read(invoke, BOB, query=july(f"&limit=5&page_token={token}"))

    assert {r["metadata"]["summary_id"].split("-")[0] for r in bobs} == {BOB}
    assert with_alices_token.status == 200
    # The token only says where to continue: the partition is the caller's, so Bob continues in his own records.
    assert all(r["metadata"]["summary_id"].startswith(f"{BOB}-") for r in with_alices_token.json["data"])
    assert read(invoke, "mallory", query=july()).json == {"data": [], "next_page_token": None}


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(limit=st.integers(min_value=1, max_value=14))
def test_paging_gives_every_record_exactly_once_for_any_limit(
    alice_and_bob: DataStack, invoke: Invoke, limit: int
) -> None:
    pages = every_page(invoke, ALICE, july(), limit=limit)

    ids = [record["metadata"]["summary_id"] for page in pages for record in page]
    assert ids == [record["metadata"]["summary_id"] for record in runs(ALICE)]
    assert all(len(page) <= limit for page in pages)
    assert len(pages) == max(1, -(-len(ids) // limit))


def test_a_range_of_366_days_is_read_and_the_first_and_last_days_are_included(
    alice_and_bob: DataStack, invoke: Invoke
) -> None:
    answer = read(invoke, ALICE, query="start_date=2025-07-07&end_date=2026-07-07")
    single = read(invoke, ALICE, query="start_date=2026-07-06&end_date=2026-07-06")

    assert answer.status == 200
    assert len(answer.json["data"]) == len(ACTIVITIES)
    assert [r["metadata"]["summary_id"] for r in single.json["data"]] == [f"{ALICE}-run-10", f"{ALICE}-run-11"]


def test_a_newer_daily_replaces_the_older_copy(
    data_stack: DataStack, deliver: Deliver, ingest: Ingest, invoke: Invoke
) -> None:
    user = connect(deliver, ALICE)
    now = int(time.time())
    day = "2026-07-04T00:00:00.000000+02:00", "2026-07-05T00:00:00.000000+02:00"

    def daily(steps: int, signed_at: int) -> None:
        event = data_event("daily", [day_record("daily", *day, steps=steps)], user=user)
        store(deliver, ingest, data_stack, ALICE, event, timestamp=signed_at)

    daily(4000, now - 60)
    daily(9000, now)  # the day's later, larger copy
    daily(6000, now - 30)  # a copy older than the stored one, delivered late: changes nothing

    answer = read(invoke, ALICE, "daily", "start_date=2026-07-04&end_date=2026-07-04")

    assert [r["distance_data"]["steps"] for r in answer.json["data"]] == [9000]


def test_a_version_deleted_since_it_was_listed_is_left_out(alice_and_bob: DataStack, invoke: Invoke) -> None:
    dynamodb = boto3.client("dynamodb")
    item = dynamodb.get_item(
        TableName=alice_and_bob.table,
        Key={"pk": {"S": f"u#{ALICE}"}, "sk": {"S": f"r#activity#GARMIN#s:{ALICE}-run-00"}},
    )["Item"]
    boto3.client("s3").delete_object(
        Bucket=alice_and_bob.bucket, Key=item["s3_key"]["S"], VersionId=item["version_id"]["S"]
    )

    answer = read(invoke, ALICE, query="start_date=2026-07-01&end_date=2026-07-01")

    assert answer.status == 200
    assert [r["metadata"]["summary_id"] for r in answer.json["data"]] == [f"{ALICE}-run-01"]


def test_a_payload_is_read_by_its_id_by_its_owner_only(
    data_stack: DataStack, deliver: Deliver, ingest: Ingest, invoke: Invoke
) -> None:
    user = connect(deliver, ALICE)
    store(deliver, ingest, data_stack, ALICE, data_event("activity", runs(ALICE)[:3], user=user))
    scanned = boto3.client("dynamodb").scan(TableName=data_stack.table)["Items"]
    (part,) = [item for item in scanned if item["sk"]["S"].startswith("p#")]
    payload_id = part["payload_id"]["S"]

    mine = every_page(invoke, ALICE, f"payload_id={payload_id}", limit=2)
    theirs = read(invoke, BOB, query=f"payload_id={payload_id}")
    other_type = read(invoke, ALICE, "sleep", f"payload_id={payload_id}")

    assert [r["metadata"]["summary_id"] for page in mine for r in page] == [f"{ALICE}-run-0{n}" for n in range(3)]
    assert (theirs.status, theirs.code) == (404, "not_found")
    assert (other_type.status, other_type.code) == (404, "not_found")


@pytest.mark.parametrize(
    ("data_type", "query", "status", "code"),
    [
        ("activity", "start_date=2026-07-10&end_date=2026-07-01", 422, "invalid_date_range"),
        ("activity", "start_date=2025-07-05&end_date=2026-07-06", 422, "invalid_date_range"),
        ("activity", "start_date=2026-02-30&end_date=2026-03-01", 422, "validation_error"),
        ("activity", "start_date=2026-7-1&end_date=2026-07-02", 422, "validation_error"),
        ("activity", "start_date=2026-07-01", 422, "validation_error"),
        ("activity", "", 422, "validation_error"),
        ("activity", july("&limit=0"), 422, "validation_error"),
        ("activity", july("&limit=101"), 422, "validation_error"),
        ("activity", july("&limit=%2B5"), 422, "validation_error"),
        ("activity", july("&sort=desc"), 422, "validation_error"),
        ("activity", july("&page_token=bm90LWEtdG9rZW4"), 422, "invalid_page_token"),
        ("activity", july("&page_token=%24%24%24"), 422, "invalid_page_token"),
        ("activity", july("&reference_id=alice"), 422, "reference_id_not_allowed"),
        ("activity", "reference_id=alice&start_date=bad", 422, "reference_id_not_allowed"),
        ("activity", "payload_id=0123456789abcdef0123456789abcdef&start_date=2026-07-01", 422, "validation_error"),
        ("steps", july(), 404, "unknown_data_type"),
        ("Activity", july(), 404, "unknown_data_type"),
    ],
)
def test_a_bad_query_is_refused_before_anything_is_read(
    data_stack: DataStack, invoke: Invoke, aws_calls: AwsCalls, data_type: str, query: str, status: int, code: str
) -> None:
    answer = read(invoke, BOB, data_type, query)

    assert (answer.status, answer.code) == (status, code)
    assert answer.headers["Content-Type"] == "application/problem+json"
    assert not [operation for operation in aws_calls.operations if operation in READS]


def test_a_page_token_of_another_range_or_type_is_refused(alice_and_bob: DataStack, invoke: Invoke) -> None:
    token = read(invoke, ALICE, query=july("&limit=3")).json["next_page_token"]

    other_range = read(invoke, ALICE, query=f"start_date=2026-07-01&end_date=2026-07-30&page_token={token}")
    other_type = read(invoke, ALICE, "sleep", july(f"&page_token={token}"))

    assert (other_range.status, other_range.code) == (422, "invalid_page_token")
    assert (other_type.status, other_type.code) == (422, "invalid_page_token")


@pytest.mark.parametrize("operation", ["Query", "GetObject"])
def test_a_store_outage_is_a_503_with_retry_after(
    alice_and_bob: DataStack, invoke: Invoke, aws_calls: AwsCalls, operation: str
) -> None:
    throttled: Any = {"Error": {"Code": "ThrottlingException" if operation == "Query" else "SlowDown", "Message": "x"}}
    aws_calls.failures[operation] = ClientError(throttled, operation)

    answer = read(invoke, ALICE, query=july())

    assert (answer.status, answer.code) == (503, "data_store_unavailable")
    assert "Retry-After" in answer.headers
    assert "run-" not in answer.body


def test_without_a_data_store_the_route_says_so(invoke: Invoke) -> None:
    answer = read(invoke, ALICE, query=july())

    assert (answer.status, answer.code) == (500, "data_store_misconfigured")
    assert json.loads(answer.body)["request_id"]


def _refused_where_listed(monkeypatch: pytest.MonkeyPatch, stack: DataStack, sort_key: str) -> dict[str, Any]:
    """S3's answer to a reader that may not list the bucket, for the copy the index names under `sort_key`: 403."""
    from terra_connect.health_data.errors import DataStoreMisconfigured  # noqa: PLC0415
    from terra_connect.health_data.s3_store import S3RecordObjects  # noqa: PLC0415

    item: dict[str, Any] = boto3.client("dynamodb").get_item(
        TableName=stack.table, Key={"pk": {"S": f"u#{ALICE}"}, "sk": {"S": sort_key}}
    )["Item"]
    real = S3RecordObjects.get

    def get(self: S3RecordObjects, location: Any) -> bytes | None:
        if location.version_id == item["version_id"]["S"]:
            raise DataStoreMisconfigured(log_context={"code": "AccessDenied"})
        return real(self, location)

    monkeypatch.setattr(S3RecordObjects, "get", get)
    return item


def test_a_copy_replaced_between_listing_and_reading_is_left_out_though_s3_refuses_rather_than_misses_it(
    alice_and_bob: DataStack, invoke: Invoke, monkeypatch: pytest.MonkeyPatch
) -> None:
    sort_key = f"r#activity#GARMIN#s:{ALICE}-run-00"
    listed = _refused_where_listed(monkeypatch, alice_and_bob, sort_key)
    real_query = boto3.client("dynamodb")
    # The index moved on to a newer copy after the page was listed (the reader lists first, then reads).
    from terra_connect.health_data.dynamodb_index import DynamoDBRecordIndex  # noqa: PLC0415

    real_current = DynamoDBRecordIndex.current

    def current(self: DynamoDBRecordIndex, partition: str, identities: Any) -> Any:
        real_query.update_item(
            TableName=alice_and_bob.table,
            Key={"pk": listed["pk"], "sk": listed["sk"]},
            UpdateExpression="SET version_id = :v",
            ExpressionAttributeValues={":v": {"S": "a-newer-version"}},
        )
        return real_current(self, partition, identities)

    monkeypatch.setattr(DynamoDBRecordIndex, "current", current)

    answer = read(invoke, ALICE, query="start_date=2026-07-01&end_date=2026-07-01")

    assert answer.status == 200
    assert [r["metadata"]["summary_id"] for r in answer.json["data"]] == [f"{ALICE}-run-01"]


def test_a_copy_the_index_still_names_and_s3_refuses_is_a_retry_later_not_a_silent_gap(
    alice_and_bob: DataStack, invoke: Invoke, monkeypatch: pytest.MonkeyPatch
) -> None:
    # An erasure's purge deletes the objects before the items that name them: the other copy was read.
    _refused_where_listed(monkeypatch, alice_and_bob, f"r#activity#GARMIN#s:{ALICE}-run-00")

    answer = read(invoke, ALICE, query="start_date=2026-07-01&end_date=2026-07-01")

    assert (answer.status, answer.code) == (503, "data_store_unavailable")


def test_every_copy_refused_while_the_index_names_them_is_the_operators_to_fix(
    alice_and_bob: DataStack, invoke: Invoke, monkeypatch: pytest.MonkeyPatch
) -> None:
    from terra_connect.health_data.errors import DataStoreMisconfigured  # noqa: PLC0415
    from terra_connect.health_data.s3_store import S3RecordObjects  # noqa: PLC0415

    def get(self: S3RecordObjects, location: Any) -> bytes | None:
        raise DataStoreMisconfigured(log_context={"code": "AccessDenied"})

    monkeypatch.setattr(S3RecordObjects, "get", get)

    answer = read(invoke, ALICE, query="start_date=2026-07-01&end_date=2026-07-01")

    assert (answer.status, answer.code) == (500, "data_store_misconfigured")
