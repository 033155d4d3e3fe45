"""What the registry cannot hold is acknowledged, never retried for hours; listing is complete however much the
app user has, and history never sits in its way."""

import math
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from terra_connect.connections.table_client import ConnectionsTable
from terra_connect.entrypoints.shared import RegistryStores
from terra_connect.kernel.deadline import Deadline
from terra_connect.kernel.errors import RegistryUnavailable
from terra_connect.webhooks.processor import WebhookProcessor
from tests.support.builders import SUBJECT, ApiAnswer, AwsCalls, api_event, emitted_metrics, terra_user, webhook_event
from tests.support.memory_registry import registry_over

Deliver = Callable[[dict[str, Any]], ApiAnswer]


def auth(user_id: str, **user: Any) -> dict[str, Any]:
    return {"type": "auth", "status": "success", "user": {**terra_user(user_id), **user}}


@pytest.mark.parametrize(
    "event",
    [
        auth("u" * 1024),
        auth("tu-1", reference_id="r" * 2048),
        auth("tu-1", provider="P" * 500),
        auth("tu/../1"),
    ],
    ids=["1-KiB-terra-user-id", "2-KiB-reference-id", "500-char-provider", "id-with-a-slash"],
)
def test_an_authentic_event_the_registry_cannot_hold_is_acknowledged_and_counted(
    deliver: Deliver, registry: Any, aws_calls: AwsCalls, capsys: pytest.CaptureFixture[str], event: dict[str, Any]
) -> None:
    answer = deliver(webhook_event(event))

    assert answer.status == 200
    assert emitted_metrics(capsys.readouterr().out).get("WebhooksNotStored") == 1
    assert aws_calls.count("TransactWriteItems") == 0
    assert registry.connections(SUBJECT, Deadline.after(5)) == []


def test_an_item_dynamodb_refuses_is_acknowledged_and_counted(
    deliver: Deliver, aws_calls: AwsCalls, capsys: pytest.CaptureFixture[str]
) -> None:
    refused = ClientError(
        {
            "Error": {"Code": "TransactionCanceledException", "Message": "Item size has exceeded the maximum"},
            "CancellationReasons": [{"Code": "ValidationError", "Message": "Item size exceeded 400 KB"}],
        },
        "TransactWriteItems",
    )
    aws_calls.failures["TransactWriteItems"] = refused

    answer = deliver(webhook_event(auth("tu-1")))

    assert answer.status == 200
    assert emitted_metrics(capsys.readouterr().out).get("WebhooksNotStored") == 1


@pytest.mark.parametrize("code", ["ProvisionedThroughputExceededException", "InternalServerError"])
def test_a_real_outage_is_a_retryable_503(deliver: Deliver, aws_calls: AwsCalls, code: str) -> None:
    aws_calls.failures["GetItem"] = ClientError({"Error": {"Code": code, "Message": "x"}}, "GetItem")

    answer = deliver(webhook_event(auth("tu-1"), trace_id="trace-1"))

    assert (answer.status, answer.code) == (503, "registry_unavailable")
    assert answer.headers["Retry-After"] == "1"


def test_a_two_kilobyte_trace_id_still_deduplicates(deliver: Deliver, registry: Any) -> None:
    trace_id = "t" * 2048
    assert deliver(webhook_event(auth("tu-1"), trace_id=trace_id)).status == 200
    deliver(webhook_event({"type": "deauth", "user": terra_user("tu-1")}))

    assert deliver(webhook_event(auth("tu-1"), trace_id=trace_id)).status == 200
    assert registry.connections(SUBJECT, Deadline.after(5)) == []


@pytest.fixture
def paged_store(table: str) -> RegistryStores:
    return RegistryStores.over(ConnectionsTable(table, retention=timedelta(days=30), page_limit=5))


def test_every_live_connection_is_listed_however_many_records_the_user_has(
    paged_store: RegistryStores, aws_calls: AwsCalls, settings_env: dict[str, str]
) -> None:
    processor = WebhookProcessor(registry_over(paged_store))
    now = int(time.time())
    for index in range(60):
        processor.process(auth(f"tu-{index:03d}"), None, now)
    for index in range(0, 60, 2):
        processor.process({"type": "deauth", "user": terra_user(f"tu-{index:03d}")}, None, now + 1)
    aws_calls.operations.clear()

    listed = registry_over(paged_store).connections(SUBJECT, Deadline.after(5))

    assert [c.terra_user_id for c in listed] == [f"tu-{index:03d}" for index in range(1, 60, 2)]
    # 30 live connections in pages of 5 (DynamoDB may answer one more, empty, page); the 30 in history lie
    # outside the Query's key range altogether, so they cost nothing.
    assert aws_calls.count("Query") <= math.ceil(30 / 5) + 1
    assert len(paged_store.records.history(SUBJECT)) == 30


def test_a_listing_that_cannot_finish_in_time_is_an_error_not_a_partial_answer(
    paged_store: RegistryStores,
) -> None:
    processor = WebhookProcessor(registry_over(paged_store))
    for index in range(25):
        processor.process(auth(f"tu-{index:03d}"), None, int(time.time()))

    with pytest.raises(RegistryUnavailable):
        paged_store.records.live_connections(SUBJECT, Deadline(expires_at=0.0))


def test_history_expires_after_the_retention(paged_store: RegistryStores, table: str) -> None:
    now = int(time.time())
    processor = WebhookProcessor(registry_over(paged_store))
    processor.process(auth("tu-1"), None, now)
    processor.process({"type": "deauth", "user": terra_user("tu-1")}, None, now + 5)

    items = boto3.client("dynamodb").scan(TableName=table)["Items"]
    expiring = {item["sk"]["S"]: int(item["expires_at"]["N"]) for item in items if "expires_at" in item}

    assert expiring == {"hist#tu-1": now + 5 + 30 * 86_400, "record": now + 5 + 30 * 86_400}


def test_the_delete_route_refuses_a_terra_user_that_moved_to_someone_else(
    invoke: Callable[..., ApiAnswer], deliver: Deliver, terra: Any
) -> None:
    now = int(time.time())
    deliver(webhook_event(auth("tu-1"), timestamp=now - 10))
    deliver(webhook_event(auth("tu-1", reference_id="someone-else"), timestamp=now))

    answer = invoke(api_event(method="DELETE", path="/v1/connections/tu-1"))

    assert (answer.status, answer.code) == (404, "not_found")
    assert len(terra.calls) == 0
