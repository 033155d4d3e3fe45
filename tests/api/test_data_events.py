"""The events function over the data table's stream, through the real handlers: a stored payload is announced once
(`Wearable Data Received`: where it is, never what it holds), a backfill's end once (`Wearable Backfill Completed`),
and each new connection asks the backfill queue for its backfill."""

import json
import re
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from terra_connect.backfill.completion import Backfill
from terra_connect.backfill.dynamodb_store import DynamoDbBackfillStore
from terra_connect.backfill.plan import NewConnection, plan_backfill
from terra_connect.backfill.state import BackfillState
from tests.support.builders import ROOT, ApiAnswer, AwsCalls, webhook_event
from tests.support.data_stack import DataStack, delete_received, received, stream_records
from tests.support.terra_data import END, START, TERRA_USER_ID, activity, data_event, day_record, terra_user

Deliver = Callable[[dict[str, Any]], ApiAnswer]
Ingest = Callable[[list[dict[str, Any]]], dict[str, Any]]
Publish = Callable[[dict[str, Any]], dict[str, Any]]
ALICE = "alice"
CONTENT = ("Morning Run", "distance_meters", "avg_hr_bpm", "11894", "steps")


@pytest.fixture
def sink(data_stack: DataStack, publish: Publish) -> str:
    """docs/events.md's example: a rule on the stack's bus sending this service's events to an SQS queue."""
    events, sqs = boto3.client("events"), boto3.client("sqs")
    queue = sqs.create_queue(QueueName="wearable-events")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    pattern = json.dumps({"source": ["terra-connect"]})
    events.put_rule(Name="all", EventBusName="terra-connect-events", EventPattern=pattern)
    events.put_targets(Rule="all", EventBusName="terra-connect-events", Targets=[{"Id": "queue", "Arn": arn}])
    return str(queue)


def published(queue: str) -> list[dict[str, Any]]:
    sqs = boto3.client("sqs")
    events: list[dict[str, Any]] = []
    while batch := sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10).get("Messages", []):
        events += [json.loads(m["Body"]) for m in batch]
        for m in batch:
            sqs.delete_message(QueueUrl=queue, ReceiptHandle=m["ReceiptHandle"])
    return events


def store(deliver: Deliver, ingest: Ingest, stack: DataStack, event: dict[str, Any], **options: Any) -> None:
    assert deliver(webhook_event(event, **options)).status == 200
    while messages := received(stack):
        assert ingest(messages) == {"batchItemFailures": []}
        delete_received(stack, messages)


def connect(deliver: Deliver) -> None:
    auth = {"type": "auth", "status": "success", "user": terra_user(reference_id=ALICE), "reference_id": ALICE}
    assert deliver(webhook_event(auth)).status == 200


def backfill_requests(stack: DataStack) -> list[dict[str, Any]]:
    sqs = boto3.client("sqs")
    answer = sqs.receive_message(QueueUrl=stack.queue_urls["backfill"], MaxNumberOfMessages=10, VisibilityTimeout=0)
    return [json.loads(m["Body"]) for m in answer.get("Messages", [])]


def test_a_stored_payload_is_announced_once_with_where_it_is_and_none_of_its_content(
    data_stack: DataStack, deliver: Deliver, ingest: Ingest, publish: Publish, sink: str
) -> None:
    connect(deliver)
    store(deliver, ingest, data_stack, data_event("activity", [activity("run-1", START, END)]), trace_id="t-1")

    assert publish({"Records": stream_records(data_stack.table)}) == {"batchItemFailures": []}

    (event,) = published(sink)
    detail = event["detail"]
    assert (event["source"], event["detail-type"]) == ("terra-connect", "Wearable Data Received")
    assert {k: detail[k] for k in ("reference_id", "terra_user_id", "provider", "type", "records", "backfill")} == {
        "reference_id": ALICE,
        "terra_user_id": TERRA_USER_ID,
        "provider": "GARMIN",
        "type": "activity",
        "records": 1,
        "backfill": False,
    }
    assert (detail["start_date"], detail["end_date"], detail["start_time"]) == ("2026-07-01", "2026-07-01", START)
    assert detail["id"] == detail["payload_id"]
    assert detail["bucket"] == data_stack.bucket
    raw = boto3.client("s3").get_object(Bucket=data_stack.bucket, Key=detail["key"], VersionId=detail["version_id"])
    assert b"Morning Run" in raw["Body"].read()  # the event names the stored payload...
    text = json.dumps(event["detail"])
    assert not [word for word in CONTENT if word in text]  # ...and holds none of it
    assert len(text.encode()) < 2048


def test_a_redelivery_or_a_stale_copy_publishes_nothing_and_a_replayed_record_the_same_id(
    data_stack: DataStack, deliver: Deliver, ingest: Ingest, publish: Publish, sink: str
) -> None:
    connect(deliver)
    now = int(time.time())
    day = day_record("daily", START, END, steps=9000)
    run = data_event("activity", [activity("run-1", START, END)])
    store(deliver, ingest, data_stack, run, trace_id="t-1")
    store(deliver, ingest, data_stack, data_event("daily", [day]), timestamp=now)
    first = stream_records(data_stack.table)
    publish({"Records": first})
    announced = [e["detail"]["id"] for e in published(sink)]

    store(deliver, ingest, data_stack, run, trace_id="t-1")  # Terra's redelivery
    store(deliver, ingest, data_stack, run, trace_id="t-2")  # the same bytes, another delivery
    store(deliver, ingest, data_stack, data_event("daily", [day_record("daily", START, END, 4000)]), timestamp=now - 60)
    later = stream_records(data_stack.table, len(first))
    assert publish({"Records": later}) == {"batchItemFailures": []}
    assert published(sink) == []

    publish({"Records": first})  # the stream hands the same records over again: subscribers dedupe on the id
    assert sorted(e["detail"]["id"] for e in published(sink)) == sorted(announced)
    assert len(announced) == 2


def test_a_backfill_that_ends_is_announced_once_with_its_stored_detail(
    data_stack: DataStack, publish: Publish, sink: str
) -> None:
    backfills = DynamoDbBackfillStore(boto3.client("dynamodb"), data_stack.table)
    connection = NewConnection(ALICE, TERRA_USER_ID, "GARMIN")
    plan = plan_backfill(
        connection, backfill_days=30, timeout_hours=24, now_ms=1_782_900_000_000, supported_types=None, sdk_providers=()
    )
    assert plan is not None
    state = BackfillState(Backfill(plan))
    backfills.create(state)
    ended = state.backfill.expire(plan.deadline_ms)
    assert ended.ended is not None
    backfills.save(BackfillState(ended.backfill), 1, ended.ended)
    backfills.save(BackfillState(ended.backfill), 2)  # a later write of the ended plan announces nothing more

    assert publish({"Records": stream_records(data_stack.table)}) == {"batchItemFailures": []}

    (event,) = published(sink)
    assert event["detail-type"] == "Wearable Backfill Completed"
    assert event["detail"] == ended.ended.to_detail()
    assert event["detail"]["status"] == "incomplete"
    assert len(json.dumps(event["detail"]).encode()) < 2048


def test_data_records_are_told_from_registry_records_without_their_source(
    data_stack: DataStack, deliver: Deliver, ingest: Ingest, publish: Publish, sink: str
) -> None:
    connect(deliver)
    store(deliver, ingest, data_stack, data_event("activity", [activity("run-1", START, END)]))
    records = [{k: v for k, v in r.items() if k != "eventSourceARN"} for r in stream_records(data_stack.table)]

    publish({"Records": records})

    assert [e["detail-type"] for e in published(sink)] == ["Wearable Data Received"]


def test_a_new_connection_asks_for_its_backfill(
    data_stack: DataStack, deliver: Deliver, publish: Publish, sink: str, settings_env: dict[str, str]
) -> None:
    connect(deliver)

    assert publish({"Records": stream_records(settings_env["CONNECTIONS_TABLE"])}) == {"batchItemFailures": []}

    assert [e["detail-type"] for e in published(sink)] == ["Wearable Connected"]
    assert backfill_requests(data_stack) == [
        {"v": 1, "connected": {"reference_id": ALICE, "terra_user_id": TERRA_USER_ID, "provider": "GARMIN"}}
    ]


def test_a_backfill_request_that_fails_fails_the_record_for_a_retry(
    data_stack: DataStack,
    deliver: Deliver,
    publish: Publish,
    sink: str,
    settings_env: dict[str, str],
    aws_calls: AwsCalls,
) -> None:
    connect(deliver)
    records = stream_records(settings_env["CONNECTIONS_TABLE"])
    aws_calls.failures["SendMessage"] = ClientError({"Error": {"Code": "ServiceUnavailable"}}, "SendMessage")

    answer = publish({"Records": records})

    (connected,) = [r for r in records if r["dynamodb"]["Keys"]["sk"]["S"] == "record"]
    assert answer == {"batchItemFailures": [{"itemIdentifier": connected["dynamodb"]["SequenceNumber"]}]}
    del aws_calls.failures["SendMessage"]
    assert publish({"Records": records[records.index(connected) :]}) == {"batchItemFailures": []}
    assert len(backfill_requests(data_stack)) == 1


def test_the_backfill_code_is_imported_only_when_backfills_are_on() -> None:
    env = json.loads((ROOT / "events" / "env.json").read_text())["EventsFunction"]
    script = "import sys, terra_connect.entrypoints.lifecycle_events; print(' '.join(sorted(sys.modules)))"
    base = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT / "functions"), "AWS_DEFAULT_REGION": "us-east-1"}
    credentials = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}

    def imported(extra: dict[str, str]) -> set[str]:
        completed = subprocess.run(  # noqa: S603 - fixed argv
            [sys.executable, "-c", script],
            env={**base, **credentials, **env, **extra},
            capture_output=True,
            text=True,
            check=True,
        )
        return set(completed.stdout.split())

    off, on = imported({}), imported({"BACKFILL_QUEUE_URL": "https://sqs.us-east-1.amazonaws.com/123456789012/q"})

    assert "terra_connect.backfill.sqs_scheduler" not in off
    assert "terra_connect.backfill.sqs_scheduler" in on
    for modules in (off, on):
        assert not {"pydantic", "requests", "terra_connect.health_data.dynamodb_index"} & modules


def documented_fields(detail_type: str) -> set[str]:
    """The fields docs/events.md's table lists under the event's heading."""
    text = (ROOT / "docs" / "events.md").read_text()
    section = text.split(f"### `{detail_type}`", 1)[1].split("\n#", 1)[0]
    rows = re.findall(r"^\| (`[^|]+`) \|", section, flags=re.MULTILINE)
    return {name for row in rows for name in re.findall(r"`([a-z_]+)`", row)}


def test_docs_list_exactly_the_fields_of_each_data_event(
    data_stack: DataStack, deliver: Deliver, ingest: Ingest, publish: Publish, sink: str
) -> None:
    connect(deliver)
    store(deliver, ingest, data_stack, data_event("activity", [activity("run-1", START, END)]))
    publish({"Records": stream_records(data_stack.table)})
    (received_event,) = published(sink)
    connection = NewConnection(ALICE, TERRA_USER_ID, "GARMIN")
    plan = plan_backfill(connection, backfill_days=3, timeout_hours=1, now_ms=0, supported_types=None, sdk_providers=())
    assert plan is not None
    ended = Backfill(plan).expire(plan.deadline_ms).ended
    assert ended is not None

    assert documented_fields("Wearable Data Received") == set(received_event["detail"])
    assert documented_fields("Wearable Backfill Completed") == set(ended.to_detail())
