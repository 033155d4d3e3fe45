"""Local mode's data path: data.yaml's resources in the emulated AWS, the functions' data settings, the queues'
trigger, and the Terra simulator's data deliveries and backfills, end to end."""

import json
import threading
import time
from collections.abc import Callable, Iterator
from datetime import date
from typing import Any

import boto3
import pytest
import requests
from local.dev import DevStack, dev_stack
from local.gateway import FunctionInstance, TurnLock
from local.queues import LocalQueueTrigger, QueueSource, mapping_batch_sizes
from local.terra_data_simulator import record
from tooling.template import nested_template

from tests.support.terra_data import terra_user
from tests.support.terra_schemas import shapes_matching


@pytest.fixture(scope="module")
def stack() -> Iterator[DevStack]:
    # Three days: every backfill asks for each type, and stays quick to store.
    with dev_stack(0, quiet=True, parameters={"BackfillDays": "3"}) as running:
        yield running


def _client(stack: DevStack, service: str) -> Any:
    return boto3.client(service, endpoint_url=stack.aws_endpoint)  # type: ignore[call-overload]


def test_the_data_resources_are_created_as_data_yaml_declares_them(stack: DevStack) -> None:
    resources = nested_template("Data")["Resources"]
    table = _client(stack, "dynamodb").describe_table(TableName=stack.data.table)["Table"]
    sqs = _client(stack, "sqs")
    ingest = sqs.get_queue_attributes(QueueUrl=stack.data.queue_urls["ingest"], AttributeNames=["All"])["Attributes"]
    encryption = _client(stack, "s3").get_bucket_encryption(Bucket=stack.data.bucket)

    assert [index["IndexName"] for index in table["LocalSecondaryIndexes"]] == ["by-day"]
    assert table["StreamSpecification"]["StreamViewType"] == "NEW_AND_OLD_IMAGES"
    assert json.loads(ingest["RedrivePolicy"])["maxReceiveCount"] == 10
    assert ingest["VisibilityTimeout"] == str(resources["IngestQueue"]["Properties"]["VisibilityTimeout"])
    (rule,) = encryption["ServerSideEncryptionConfiguration"]["Rules"]
    assert rule["ApplyServerSideEncryptionByDefault"]["KMSMasterKeyID"] == stack.data.key_id
    assert stack.data.key_id.startswith("arn:aws:kms:")


def test_every_function_gets_the_data_settings_the_template_gives_it(stack: DevStack) -> None:
    from terra_connect.entrypoints.backfill import get_backfill_container  # noqa: PLC0415
    from terra_connect.entrypoints.ingest import get_ingest_container  # noqa: PLC0415

    ingest = get_ingest_container().settings
    backfill = get_backfill_container().settings

    assert {"IngestFunction", "BackfillFunction"} <= set(stack.functions)
    assert (ingest.data_bucket, ingest.data_key_id, ingest.backfill_days) == (stack.data.bucket, stack.data.key_id, 3)
    assert backfill.backfill_queue_url == stack.data.queue_urls["backfill"]
    assert ingest.payload_url_hosts == ("amazonaws.com",)


def test_backfill_days_0_leaves_the_backfill_queue_unset_as_the_template_does(stack: DevStack) -> None:
    off = stack.data.settings({"BackfillDays": "0"})

    assert (off["BACKFILL_QUEUE_URL"], off["BACKFILL_DAYS"]) == ("", "0")
    assert stack.data.settings()["BACKFILL_QUEUE_URL"] == stack.data.queue_urls["backfill"]
    assert stack.data.settings()["BACKFILL_DAYS"] == "30"  # the template's default


def _settle(stack: DevStack) -> None:
    """Everything queued or streamed so far handed over (the triggers' own threads may take part of it first)."""
    for _ in range(5):
        stack.queues.drain()
        stack.stream.drain()
        stack.data_stream.drain()


def stored_items(stack: DevStack, reference_id: str) -> list[dict[str, Any]]:
    answer = _client(stack, "dynamodb").query(
        TableName=stack.data.table,
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": f"u#{reference_id}"}},
    )
    return list(answer["Items"])


def announced(stack: DevStack, owner: str) -> list[tuple[str, dict[str, Any]]]:
    return [(t, d) for t, d in stack.data_stream.published if d.get("reference_id") == owner]


def test_a_data_event_is_stored_through_the_ingest_queue_andannounced(stack: DevStack) -> None:
    assert stack.terra is not None
    owner = stack.identity.subject("quinn")
    user = stack.terra.connect("OURA", owner)
    _settle(stack)
    day = {"start_time": "2026-07-01T00:00:00.000000+00:00", "end_time": "2026-07-02T00:00:00.000000+00:00"}
    event = {
        "type": "daily",
        "version": "2022-03-16",
        "status": None,
        "user": user.as_terra(),
        "data": [{"metadata": {**day, "upload_type": 0}, "distance_data": {"steps": 4321}}],
    }

    assert stack.terra.send_event(event) == 200
    _settle(stack)

    records = [item for item in stored_items(stack, owner) if item["sk"]["S"].startswith("r#daily#OURA#")]
    assert [item["day"]["S"] for item in records].count("2026-07-01") == 1
    received = [
        d for t, d in announced(stack, owner) if t == "Wearable Data Received" and d["end_date"] == "2026-07-01"
    ]
    assert [(d["type"], d["terra_user_id"], d["start_date"]) for d in received] == [
        ("daily", user.user_id, "2026-07-01")
    ]
    assert received[0]["bucket"] == stack.data.bucket


def test_the_queue_trigger_hands_over_lambda_shaped_batches_and_deletes_only_successes(stack: DevStack) -> None:
    sqs = _client(stack, "sqs")
    url = sqs.create_queue(QueueName="trigger-check", Attributes={"VisibilityTimeout": "360"})["QueueUrl"]
    for n in range(3):
        sqs.send_message(QueueUrl=url, MessageBody=f"m{n}")
    batches: list[list[dict[str, Any]]] = []

    def handler(event: dict[str, Any], _context: object) -> dict[str, Any]:
        batches.append(event["Records"])
        failed = [r["messageId"] for r in event["Records"] if r["body"] == "m1"]
        return {"batchItemFailures": [{"itemIdentifier": m} for m in failed]}

    function = FunctionInstance("Check", handler, timeout_seconds=5, memory_mb=128, turn=TurnLock())
    trigger = LocalQueueTrigger(stack.aws_endpoint, [QueueSource(url, function, batch_size=2)])

    assert trigger.drain() == 3
    assert [len(batch) for batch in batches] == [2, 1]
    record = batches[0][0]
    assert record["eventSourceARN"].endswith(":trigger-check")
    assert record["attributes"]["ApproximateReceiveCount"] == "1"
    assert int(record["attributes"]["SentTimestamp"]) > 0
    assert {"messageId", "receiptHandle", "body", "eventSource"} <= set(record)
    left = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessagesNotVisible"])
    assert left["Attributes"]["ApproximateNumberOfMessagesNotVisible"] == "1"  # m1, until its visibility ends


def test_the_template_s_batch_sizes_are_the_mappings(stack: DevStack) -> None:
    assert mapping_batch_sizes() == {
        "IngestQueueArn": 10,
        "FetchQueueArn": 1,
        "BackfillQueueArn": 1,
        "PurgeQueueArn": 1,
        "TerraDeliveryQueueArn": 1,
    }


def wait_for(stack: DevStack, found: Callable[[], bool], timeout: float = 30.0) -> bool:
    """Drain the triggers until `found()` (Terra sends a request's data from its own threads, after answering)."""
    deadline = time.monotonic() + timeout
    while not found():
        if time.monotonic() > deadline:
            return False
        _settle(stack)
        threading.Event().wait(0.05)
    return True


def _ended(stack: DevStack, owner: str) -> list[dict[str, Any]]:
    return [d for t, d in announced(stack, owner) if t == "Wearable Backfill Completed"]


def test_connecting_backfills_every_type_the_provider_offers_and_reports_it_completed(stack: DevStack) -> None:
    assert stack.terra is not None
    owner = stack.identity.subject("rita")
    user = stack.terra.connect("GARMIN", owner)

    assert wait_for(stack, lambda: bool(_ended(stack, owner)))
    (ended,) = _ended(stack, owner)
    assert ended["status"] == "completed"
    requested = {data_type for data_type, user_id, _ in stack.terra.data.requests_made if user_id == user.user_id}
    assert requested == {"activity", "body", "daily", "menstruation", "nutrition", "sleep", "athlete"}
    types = {d["type"] for t, d in announced(stack, owner) if t == "Wearable Data Received"}
    assert {"activity", "daily", "sleep", "body"} <= types
    stored = {item["sk"]["S"].split("#")[1] for item in stored_items(stack, owner) if item["sk"]["S"].startswith("r#")}
    assert {"activity", "body", "daily", "menstruation", "nutrition", "sleep"} <= stored


def test_an_s3_payload_is_fetched_from_the_simulator_and_stored_as_if_inline(stack: DevStack) -> None:
    assert stack.terra is not None
    owner = stack.identity.subject("sven")
    user = stack.terra.connect("POLAR", owner)
    assert wait_for(stack, lambda: bool(_ended(stack, owner)))
    stack.terra.data.ping = True
    try:
        assert stack.terra.data.push(user.user_id, "daily", date(2025, 1, 5), date(2025, 1, 6)) == 200
    finally:
        stack.terra.data.ping = False

    assert stack.terra.sent_events[-1]["type"] == "s3_payload"
    assert wait_for(stack, lambda: any(d["start_date"] == "2025-01-05" for _, d in announced(stack, owner)))
    days = [item["day"]["S"] for item in stored_items(stack, owner) if item["sk"]["S"].startswith("r#daily#")]
    assert "2025-01-05" in days


def test_an_expired_payload_url_answers_as_s3_does(stack: DevStack) -> None:
    assert stack.terra is not None
    data = stack.terra.data
    user = stack.terra.add_user("OURA", "nobody")
    data.ping, data.clock = True, lambda: 0.0
    try:
        stack.terra.webhook_url, saved = None, stack.terra.webhook_url
        data.push(user.user_id, "sleep", date(2025, 2, 1), date(2025, 2, 2))
        url = stack.terra.sent_events[-1]["url"]
        fresh = requests.get(url, timeout=5)
        data.clock = lambda: 301.0
        expired = requests.get(url, timeout=5)
    finally:
        data.ping, data.clock, stack.terra.webhook_url = False, time.time, saved

    assert fresh.status_code == 200
    assert fresh.json()["type"] == "sleep"
    assert (expired.status_code, b"ExpiredToken" in expired.content) == (400, True)


@pytest.mark.parametrize("data_type", ["activity", "body", "daily", "menstruation", "nutrition", "sleep"])
def test_the_simulator_s_records_have_terra_s_shapes(data_type: str) -> None:
    event = {
        "type": data_type,
        "version": "2022-03-16",
        "status": None,
        "user": terra_user(),
        "data": [record(data_type, "u-1", date(2026, 3, 1))],
    }

    assert data_type in shapes_matching(event)


def test_loopback_payload_urls_can_never_be_enabled_in_a_deployed_stack() -> None:
    from tooling.template import load_template  # noqa: PLC0415

    template = load_template()
    resources = template["Resources"].values()
    overrides = [
        r["Properties"]["Environment"]["Variables"]
        for r in resources
        if r["Type"] == "AWS::Serverless::Function" and "Environment" in r["Properties"]
    ]

    assert template["Globals"]["Function"]["Environment"]["Variables"]["LOCAL_AWS_ENDPOINT_URL"] == ""
    assert all("LOCAL_AWS_ENDPOINT_URL" not in variables for variables in overrides)


def test_live_data_is_pushed_through_the_simulator_s_control_route(stack: DevStack) -> None:
    assert stack.terra is not None
    owner = stack.identity.subject("uma")
    user = stack.terra.connect("WHOOP", owner)
    control = f"{stack.terra.base_url}/_simulator/data"
    spec = {"user_id": user.user_id, "type": "body", "start_date": "2024-03-01", "end_date": "2024-03-03"}

    assert requests.post(control, json={**spec, "type": "not-a-type"}, timeout=5).status_code == 400
    assert requests.post(control, json=spec, timeout=5).status_code == 201
    assert wait_for(stack, lambda: any(d.get("start_date") == "2024-03-01" for _, d in announced(stack, owner)))
    (pushed,) = [d for _, d in announced(stack, owner) if d.get("start_date") == "2024-03-01"]
    assert (pushed["type"], pushed["end_date"]) == ("body", "2024-03-02")
