"""The backfill function through its handler: the sweep, a message it cannot read, backfills turned off."""

import json
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
import responses
from local.aws import DataStack

from tests.support.builders import FakeLambdaContext

Run = Callable[[dict[str, Any]], dict[str, Any]]
CONNECTED = {"v": 1, "connected": {"reference_id": "alice", "terra_user_id": "tu-1", "provider": "GARMIN"}}


@pytest.fixture
def backfill(data_stack: DataStack, terra: responses.RequestsMock) -> Iterator[Run]:
    from terra_connect.entrypoints import backfill as handler  # noqa: PLC0415 - after the environment is set

    handler.get_backfill_container.cache_clear()

    def _run(event: dict[str, Any]) -> dict[str, Any]:
        result: dict[str, Any] = handler.lambda_handler(event, FakeLambdaContext(300_000))
        return result

    yield _run
    handler.get_backfill_container.cache_clear()


def message(body: str, message_id: str = "m-1") -> dict[str, Any]:
    return {
        "messageId": message_id,
        "receiptHandle": "r",
        "body": body,
        "attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": "0"},
        "messageAttributes": {},
        "md5OfBody": "",
        "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:terra-connect-backfill",
        "awsRegion": "us-east-1",
    }


def plans(stack: DataStack) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = boto3.client("dynamodb").scan(TableName=stack.table)["Items"]
    return [item for item in items if item["pk"]["S"].startswith("bf#")]


def test_the_sweep_with_nothing_open_ends_nothing(backfill: Run) -> None:
    assert backfill({"sweep": True}) == {"ended": 0}


def test_a_message_it_did_not_write_is_dropped_not_retried(backfill: Run, data_stack: DataStack) -> None:
    answer = backfill({"Records": [message('{"v": 2}')]})

    assert answer["batchItemFailures"] == []
    assert plans(data_stack) == []


def test_with_backfill_days_0_a_new_connection_plans_nothing(
    backfill: Run, data_stack: DataStack, monkeypatch: pytest.MonkeyPatch, terra: responses.RequestsMock
) -> None:
    monkeypatch.setenv("BACKFILL_DAYS", "0")

    answer = backfill({"Records": [message(json.dumps(CONNECTED))]})

    assert answer["batchItemFailures"] == []
    assert plans(data_stack) == []
    assert [call.request.url for call in terra.calls] == []
