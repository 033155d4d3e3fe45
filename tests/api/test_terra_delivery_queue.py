"""Terra's SQS destination through the ingest function's handler: an `s3_payload` message Terra sent to the stack's
queue is archived, its body fetched and stored as if delivered inline, once however often it comes; a healthcheck
is acknowledged and nothing is kept; a message from a queue the function was not given is never lost quietly."""

import hashlib
import json
import time
from collections.abc import Callable, Iterator
from datetime import date
from typing import Any

import boto3
import pytest
import responses
from botocore.exceptions import ClientError
from local.terra_data_simulator import record

from terra_connect.health_data.sqs_queue import SqsDeliveryQueue
from tests.support.builders import ApiAnswer, AwsCalls, webhook_event
from tests.support.data_stack import DataStack, received
from tests.support.terra_data import data_event, terra_user

Deliver = Callable[[dict[str, Any]], ApiAnswer]
Ingest = Callable[[list[dict[str, Any]]], dict[str, Any]]
ALICE = "alice"
URL = "https://terra-payloads.s3.amazonaws.com/p/1.json?X-Amz-Signature=5ec12e7"


@pytest.fixture
def web() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


def send_to_terra_queue(stack: DataStack, message: dict[str, Any]) -> bytes:
    """What Terra does: SendMessage of the event's JSON to the queue registered as its SQS destination."""
    body = json.dumps(message).encode()
    boto3.client("sqs").send_message(QueueUrl=stack.queue_urls["terra"], MessageBody=body.decode())
    return body


def serve(web: responses.RequestsMock, event: dict[str, Any]) -> None:
    body = json.dumps(event).encode()
    web.get(URL, body=body, headers={"Content-Length": str(len(body))})


def s3_payload(url: str = URL, expires_in: int = 600) -> dict[str, Any]:
    # The shape Terra's SQS docs show, with the fields only some of its versions list.
    return {"status": "success", "type": "s3_payload", "url": url, "expires_in": expires_in, "payload_reference": "r-1"}


def daily_of(user_id: str) -> dict[str, Any]:
    event = data_event("daily", [record("daily", user_id, date(2025, 1, 5))], user=terra_user(reference_id=ALICE))
    event["user"]["user_id"] = user_id
    return event


def keys(stack: DataStack, prefix: str) -> list[str]:
    versions = boto3.client("s3").list_object_versions(Bucket=stack.bucket, Prefix=prefix).get("Versions", [])
    return [v["Key"] for v in versions]


def items(stack: DataStack, prefix: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = boto3.client("dynamodb").scan(TableName=stack.table)["Items"]
    return [item for item in found if item["sk"]["S"].startswith(prefix)]


@pytest.fixture
def alice(deliver: Deliver) -> str:
    user = terra_user(reference_id=ALICE)
    auth = {"type": "auth", "status": "success", "user": user, "reference_id": ALICE}
    assert deliver(webhook_event(auth)).status == 200
    return str(user["user_id"])


def test_an_s3_payload_from_terra_s_queue_is_stored_as_if_delivered_inline_once(
    data_stack: DataStack, alice: str, ingest: Ingest, web: responses.RequestsMock
) -> None:
    serve(web, daily_of(alice))
    body = send_to_terra_queue(data_stack, s3_payload())

    (message,) = received(data_stack, "terra")
    assert ingest([message]) == {"batchItemFailures": []}
    assert ingest([message]) == {"batchItemFailures": []}  # the same message again (a visibility timeout ran out)

    (stored,) = items(data_stack, "r#daily#")
    assert (stored["pk"]["S"], stored["day"]["S"]) == (f"u#{ALICE}", "2025-01-05")
    assert len(items(data_stack, "p#")) == 1  # announced once
    assert keys(data_stack, "raw/terra-sqs/") == [f"raw/terra-sqs/{hashlib.sha256(body).hexdigest()}.json"]
    assert len(keys(data_stack, "raw/fetched/")) == 1
    assert len(web.calls) == 1  # fetched once


def test_a_healthcheck_is_acknowledged_and_nothing_is_kept(
    data_stack: DataStack, ingest: Ingest, web: responses.RequestsMock
) -> None:
    send_to_terra_queue(data_stack, {"type": "healthcheck", "status": "success", "creation_timestamp": "x"})

    assert ingest(received(data_stack, "terra")) == {"batchItemFailures": []}

    assert keys(data_stack, "raw/") == []
    assert boto3.client("dynamodb").scan(TableName=data_stack.table)["Items"] == []
    assert len(web.calls) == 0


def test_a_url_that_expired_in_the_queue_or_is_off_the_allowed_hosts_is_final_and_never_requested(
    data_stack: DataStack, alice: str, ingest: Ingest, web: responses.RequestsMock
) -> None:
    serve(web, daily_of(alice))
    send_to_terra_queue(data_stack, s3_payload(expires_in=300))
    send_to_terra_queue(data_stack, s3_payload(url="http://terra-payloads.s3.amazonaws.com/p/1.json"))
    late, plain = received(data_stack, "terra")
    sent_long_ago = str(time.time_ns() // 1_000_000 - 301_000)  # Terra's 300 s ran out before it was read
    late = {**late, "attributes": {**late["attributes"], "SentTimestamp": sent_long_ago}}

    assert ingest([late, plain]) == {"batchItemFailures": []}  # retrying cannot make either work

    assert len(web.calls) == 0
    assert items(data_stack, "r#") == []
    assert len(keys(data_stack, "raw/terra-sqs/")) == 2  # kept as received


def test_a_failing_payload_host_fails_the_message_and_holds_it_briefly(
    data_stack: DataStack, ingest: Ingest, web: responses.RequestsMock
) -> None:
    web.get(URL, status=503)
    send_to_terra_queue(data_stack, s3_payload())
    (message,) = received(data_stack, "terra")

    assert ingest([message]) == {"batchItemFailures": [{"itemIdentifier": message["messageId"]}]}

    attributes = boto3.client("sqs").get_queue_attributes(
        QueueUrl=data_stack.queue_urls["terra"], AttributeNames=["ApproximateNumberOfMessagesNotVisible"]
    )["Attributes"]
    assert attributes["ApproximateNumberOfMessagesNotVisible"] == "1"  # held for another try, not deleted


def test_a_message_that_could_not_be_archived_is_held_briefly_its_url_expiring_before_the_visibility_timeout(
    data_stack: DataStack,
    ingest: Ingest,
    web: responses.RequestsMock,
    aws_calls: AwsCalls,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    send_to_terra_queue(data_stack, s3_payload(expires_in=300))
    (message,) = received(data_stack, "terra")
    aws_calls.failures["PutObject"] = ClientError({"Error": {"Code": "ServiceUnavailable"}}, "PutObject")
    from terra_connect.entrypoints.ingest import FETCH_RETRY_SECONDS  # noqa: PLC0415 - after the environment is set

    held: list[int] = []
    hold = SqsDeliveryQueue.hold

    def holding(queue: SqsDeliveryQueue, receipt_handle: str, seconds: int) -> None:
        held.append(seconds)
        hold(queue, receipt_handle, seconds)

    monkeypatch.setattr(SqsDeliveryQueue, "hold", holding)

    assert ingest([message]) == {"batchItemFailures": [{"itemIdentifier": message["messageId"]}]}

    assert held == [FETCH_RETRY_SECONDS]  # the queue's 360 s visibility timeout would outlive the URL's 300 s
    assert aws_calls.count("ChangeMessageVisibility") == 1
    assert len(web.calls) == 0


def test_a_message_from_a_queue_the_function_was_not_given_fails_and_stays(
    data_stack: DataStack, ingest: Ingest, web: responses.RequestsMock
) -> None:
    send_to_terra_queue(data_stack, s3_payload())
    (message,) = received(data_stack, "terra")
    stranger = {**message, "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:someone-elses-queue"}

    assert ingest([stranger]) == {"batchItemFailures": [{"itemIdentifier": message["messageId"]}]}
    assert keys(data_stack, "raw/") == []
    assert len(web.calls) == 0
