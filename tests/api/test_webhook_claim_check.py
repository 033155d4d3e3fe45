"""The webhook's claim check: every authentic data event is archived byte for byte and its pointer queued before the
200; when S3 or SQS cannot take it the answer is 503 (Terra redelivers) and no pointer is queued without its body."""

import json
from collections.abc import Callable
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError, EndpointConnectionError
from local.aws import DataStack

from terra_connect.health_data.claim_check import read_pointer
from terra_connect.kernel.deadline import Deadline
from tests.support.builders import ApiAnswer, AwsCalls, webhook_event
from tests.support.terra_data import END, START, activity, data_event, day_record, terra_user

Deliver = Callable[[dict[str, Any]], ApiAnswer]
DATA_TYPES = ["activity", "sleep", "daily", "body", "nutrition", "menstruation", "athlete", "hormone"]


def queued(stack: DataStack, queue: str) -> list[str]:
    sqs = boto3.client("sqs")
    answer = sqs.receive_message(QueueUrl=stack.queue_urls[queue], MaxNumberOfMessages=10, VisibilityTimeout=0)
    return [message["Body"] for message in answer.get("Messages", [])]


def archived(stack: DataStack) -> list[dict[str, Any]]:
    versions: list[dict[str, Any]] = boto3.client("s3").list_object_versions(Bucket=stack.bucket).get("Versions", [])
    return versions


def body_of(stack: DataStack, message: str) -> bytes:
    pointer = read_pointer(message)
    s3 = boto3.client("s3")
    answer = s3.get_object(Bucket=pointer.bucket, Key=pointer.raw.key, VersionId=pointer.raw.version_id)
    body: bytes = answer["Body"].read()
    return body


@pytest.mark.parametrize("data_type", [*DATA_TYPES, "a_type_terra_adds_later", "lab_report.completed"])
def test_a_data_event_of_any_type_is_archived_exactly_and_its_pointer_queued(
    data_stack: DataStack, deliver: Deliver, data_type: str
) -> None:
    raw = json.dumps(data_event(data_type, [day_record("daily", START, END)]), indent=1).encode()

    answer = deliver(webhook_event(raw, trace_id="trace-1"))

    assert answer.status == 200
    assert answer.json == {"status": "ok"}
    (message,) = queued(data_stack, "ingest")
    pointer = read_pointer(message)
    assert pointer.event_type == data_type
    assert pointer.trace_id == "trace-1"
    assert body_of(data_stack, message) == raw
    assert queued(data_stack, "fetch") == []


def test_the_archive_is_asked_for_sse_kms_with_the_data_key_and_a_checksum(
    data_stack: DataStack, deliver: Deliver
) -> None:
    deliver(webhook_event(data_event("activity", [activity("s-1", START, END)])))

    (version,) = archived(data_stack)
    head = boto3.client("s3").head_object(Bucket=data_stack.bucket, Key=version["Key"])
    assert head["ServerSideEncryption"] == "aws:kms"
    assert head["SSEKMSKeyId"].endswith(data_stack.key_id.rsplit("/", 1)[1])
    assert version["Key"].startswith("raw/dt=")


@pytest.mark.parametrize("ping_type", ["s3_payload", "s3_upload"])
def test_a_payload_url_goes_to_the_fetch_queue(data_stack: DataStack, deliver: Deliver, ping_type: str) -> None:
    ping = {
        "type": ping_type,
        "status": "success",
        "url": "https://bucket.s3.amazonaws.com/x?X-Amz-Signature=1",
        "expires_in": 300,
    }

    assert deliver(webhook_event(ping)).status == 200

    assert queued(data_stack, "ingest") == []
    (message,) = queued(data_stack, "fetch")
    assert read_pointer(message).event_type == ping_type


def test_a_5_mb_body_is_archived_without_being_parsed(data_stack: DataStack, deliver: Deliver) -> None:
    records = [activity(f"s-{n}", START, END) | {"padding": "x" * 5000} for n in range(1000)]
    raw = json.dumps(data_event("activity", records)).encode()
    assert 5_000_000 <= len(raw) < 6 * 1024 * 1024

    assert deliver(webhook_event(raw)).status == 200

    (message,) = queued(data_stack, "ingest")
    assert read_pointer(message).event_type is None  # over 256 KiB: not parsed, the ingest function reads it
    assert read_pointer(message).size == len(raw)
    assert body_of(data_stack, message) == raw


def test_a_body_over_6_mib_is_refused_with_413_and_nothing_is_kept(data_stack: DataStack, deliver: Deliver) -> None:
    raw = b'{"type": "activity", "data": "' + b"x" * (6 * 1024 * 1024) + b'"}'

    answer = deliver(webhook_event(raw))

    assert (answer.status, answer.code) == (413, "payload_too_large")
    assert archived(data_stack) == []
    assert queued(data_stack, "ingest") == []


def test_an_authentic_body_that_is_not_json_is_kept_for_the_ingest_function(
    data_stack: DataStack, deliver: Deliver
) -> None:
    assert deliver(webhook_event(b"not json at all")).status == 200

    (message,) = queued(data_stack, "ingest")
    assert body_of(data_stack, message) == b"not json at all"


def test_a_redelivery_lands_on_the_same_archived_object(data_stack: DataStack, deliver: Deliver) -> None:
    raw = json.dumps(data_event("daily", [day_record("daily", START, END)])).encode()

    deliver(webhook_event(raw, trace_id="trace-7"))
    deliver(webhook_event(raw, trace_id="trace-7"))

    assert len(archived(data_stack)) == 1
    first, second = queued(data_stack, "ingest")
    assert read_pointer(first).raw == read_pointer(second).raw
    assert read_pointer(first).delivery_key == read_pointer(second).delivery_key


def test_a_forged_data_event_gets_401_and_nothing_is_stored(data_stack: DataStack, deliver: Deliver) -> None:
    answer = deliver(webhook_event(data_event("activity", [activity("s-1", START, END)]), secret="forged"))

    assert (answer.status, answer.code) == (401, "invalid_signature")
    assert archived(data_stack) == []
    assert queued(data_stack, "ingest") == []
    assert queued(data_stack, "fetch") == []


S3_DOWN = {
    "unreachable": EndpointConnectionError(endpoint_url="https://s3.amazonaws.com"),
    "throttled": ClientError({"Error": {"Code": "SlowDown", "Message": "slow down"}}, "PutObject"),
    "failing": ClientError({"Error": {"Code": "InternalError", "Message": "oops"}}, "PutObject"),
}


@pytest.mark.parametrize("failure", S3_DOWN.values(), ids=S3_DOWN.keys())
def test_s3_down_answers_503_with_retry_after_and_enqueues_nothing(
    data_stack: DataStack, deliver: Deliver, aws_calls: AwsCalls, failure: Exception
) -> None:
    aws_calls.failures["PutObject"] = failure

    answer = deliver(webhook_event(data_event("activity", [activity("s-1", START, END)])))

    assert (answer.status, answer.code) == (503, "data_store_unavailable")
    assert int(answer.headers["Retry-After"]) >= 1
    assert aws_calls.count("SendMessage") == 0
    assert queued(data_stack, "ingest") == []


def test_sqs_down_answers_503_and_the_redelivery_is_kept_under_the_same_key(
    data_stack: DataStack, deliver: Deliver, aws_calls: AwsCalls
) -> None:
    raw = json.dumps(data_event("activity", [activity("s-1", START, END)])).encode()
    aws_calls.failures["SendMessage"] = EndpointConnectionError(endpoint_url="https://sqs.amazonaws.com")

    answer = deliver(webhook_event(raw, trace_id="trace-9"))

    assert (answer.status, answer.code) == (503, "data_store_unavailable")
    assert queued(data_stack, "ingest") == []
    del aws_calls.failures["SendMessage"]
    assert deliver(webhook_event(raw, trace_id="trace-9")).status == 200
    (message,) = queued(data_stack, "ingest")
    assert [v["Key"] for v in archived(data_stack)] == [read_pointer(message).raw.key]


def test_lifecycle_events_still_change_the_registry_and_are_not_archived(
    data_stack: DataStack, deliver: Deliver, registry: Any
) -> None:
    auth = {"type": "auth", "status": "success", "user": terra_user(reference_id="alice"), "reference_id": "alice"}

    assert deliver(webhook_event(auth)).status == 200
    assert deliver(webhook_event({"type": "healthcheck"})).status == 200

    assert archived(data_stack) == []
    assert queued(data_stack, "ingest") == []
    connections = registry.connections("alice", Deadline.after(10))
    assert [c.terra_user_id for c in connections] == [terra_user()["user_id"]]
