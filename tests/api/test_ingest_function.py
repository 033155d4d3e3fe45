"""The ingest function through its handler: pointers the webhook queued become records and payload parts; a record
that fails is the only one reported; a redelivery changes nothing and announces nothing."""

import json
from collections.abc import Callable
from typing import Any

import boto3
import pytest

from tests.support.builders import ApiAnswer, AwsCalls, emitted_metrics, webhook_event
from tests.support.data_stack import DataStack, received
from tests.support.terra_data import END, START, activity, data_event, terra_user

Deliver = Callable[[dict[str, Any]], ApiAnswer]
Ingest = Callable[[list[dict[str, Any]]], dict[str, Any]]
ALICE = "alice"


def items(stack: DataStack, prefix: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = boto3.client("dynamodb").scan(TableName=stack.table)["Items"]
    return [item for item in found if item["sk"]["S"].startswith(prefix)]


def stored_copies(stack: DataStack) -> tuple[list[tuple[str, str, str]], int]:
    """Each record item's object and payload, and how many record objects the bucket holds."""
    copies = [(i["s3_key"]["S"], i["version_id"]["S"], i["payload_id"]["S"]) for i in items(stack, "r#")]
    versions = boto3.client("s3").list_object_versions(Bucket=stack.bucket, Prefix="records/").get("Versions", [])
    return copies, len(versions)


def connect_alice(deliver: Deliver) -> None:
    auth = {"type": "auth", "status": "success", "user": terra_user(reference_id=ALICE), "reference_id": ALICE}
    assert deliver(webhook_event(auth)).status == 200


def test_a_delivered_activity_is_stored_under_its_owner_and_announced_once(
    data_stack: DataStack, deliver: Deliver, ingest: Ingest
) -> None:
    connect_alice(deliver)
    deliver(webhook_event(data_event("activity", [activity("s-1", START, END)]), trace_id="trace-1"))

    assert ingest(received(data_stack)) == {"batchItemFailures": []}

    (record,) = items(data_stack, "r#")
    assert record["pk"]["S"] == f"u#{ALICE}"
    (part,) = items(data_stack, "p#")
    assert part["announce"] == {"BOOL": True}
    assert json.loads(part["announcement"]["S"])["reference_id"] == ALICE


def test_only_the_record_that_fails_is_reported(data_stack: DataStack, deliver: Deliver, ingest: Ingest) -> None:
    connect_alice(deliver)
    for n in range(3):
        deliver(webhook_event(data_event("activity", [activity(f"s-{n}", START, END)]), trace_id=f"trace-{n}"))
    messages = received(data_stack)
    broken = dict(messages[1], body='{"v": 1, "source": "webhook"}', messageId="broken")

    answer = ingest([messages[0], broken, messages[2]])

    assert answer == {"batchItemFailures": [{"itemIdentifier": "broken"}]}
    assert len(items(data_stack, "r#")) == 2


def test_a_redelivery_changes_nothing_and_announces_nothing(
    data_stack: DataStack, deliver: Deliver, ingest: Ingest
) -> None:
    connect_alice(deliver)
    raw = json.dumps(data_event("activity", [activity("s-1", START, END)])).encode()
    deliver(webhook_event(raw, trace_id="trace-1"))
    ingest(received(data_stack))
    before = stored_copies(data_stack)

    deliver(webhook_event(raw, trace_id="trace-1"))  # the same delivery again: same key, Powertools remembers it
    deliver(webhook_event(raw, trace_id="trace-2"))  # Terra sent the same bytes as another delivery
    assert ingest(received(data_stack)) == {"batchItemFailures": []}

    assert stored_copies(data_stack) == before  # at most the stored copy's order is raised: no new copy
    assert len(items(data_stack, "p#")) == 1


def test_a_payload_without_a_known_owner_waits_and_its_message_is_held(
    data_stack: DataStack, deliver: Deliver, ingest: Ingest, aws_calls: AwsCalls
) -> None:
    # An SDK provider's reference_id is the device's word: never trusted before the registry knows the Terra user.
    event = data_event("activity", [activity("s-1", START, END)], user=terra_user("APPLE", reference_id="mallory"))
    deliver(webhook_event(event))
    (message,) = received(data_stack)

    answer = ingest([message])

    assert answer == {"batchItemFailures": [{"itemIdentifier": message["messageId"]}]}
    assert aws_calls.count("ChangeMessageVisibility") == 1
    assert items(data_stack, "r#") == []
    assert items(data_stack, "p#") == []


def test_a_payload_still_without_an_owner_after_waiting_is_kept_under_its_terra_user_and_counted(
    data_stack: DataStack, deliver: Deliver, ingest: Ingest, capsys: pytest.CaptureFixture[str]
) -> None:
    event = data_event("activity", [activity("s-1", START, END)], user=terra_user("APPLE", reference_id="mallory"))
    deliver(webhook_event(event))
    (message,) = received(data_stack)
    sent_long_ago = {**message["attributes"], "SentTimestamp": "1000", "ApproximateReceiveCount": "6"}
    capsys.readouterr()

    assert ingest([{**message, "attributes": sent_long_ago}]) == {"batchItemFailures": []}

    (record,) = items(data_stack, "r#")
    assert record["pk"]["S"].startswith("t#")  # never under the reference_id the device wrote
    assert emitted_metrics(capsys.readouterr().out).get("DataUnattributed") == 1

    # A redelivery gets the remembered result: the data was counted when it was kept.
    assert ingest([{**message, "attributes": sent_long_ago}]) == {"batchItemFailures": []}
    replayed = emitted_metrics(capsys.readouterr().out)
    assert replayed.get("PayloadsStored") == 1
    assert "DataUnattributed" not in replayed
