"""DELETE /v1/connections and the operator's erasure, through the real handlers and the DynamoDB layout: what is
left in the table afterwards, the one event it publishes, and late deliveries refused."""

import io
import json
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import boto3
import pytest
import responses
from local.aws import DataStack

from terra_connect.data_erasure.models import PurgeRequest
from terra_connect.lifecycle_events.publisher import EventsContainer, publish_records
from terra_connect.lifecycle_events.stream import stream_change
from tests.support.builders import (
    SUBJECT,
    ApiAnswer,
    FakeLambdaContext,
    RecordingOutbox,
    api_event,
    terra_user,
    webhook_event,
)
from tests.support.data_stack import received

Deliver = Callable[[dict[str, Any]], ApiAnswer]
USER_INFO = "https://api.tryterra.co/v2/userInfo"
BULK_USER_INFO = "https://api.tryterra.co/v2/bulkUserInfo"
DEAUTH_URL = "https://api.tryterra.co/v2/auth/deauthenticateUser"
GENERATE = "https://api.tryterra.co/v2/auth/generateAuthToken"
ERASE: dict[str, Any] = {"method": "DELETE", "path": "/v1/connections"}


def auth(
    user_id: str, provider: str = "GARMIN", reference_id: str = SUBJECT, sent: int | None = None
) -> dict[str, Any]:
    event = {"type": "auth", "status": "success", "user": terra_user(user_id, provider, reference_id)}
    return webhook_event(event, timestamp=sent)


def terra_lists(terra: responses.RequestsMock, *users: dict[str, Any]) -> None:
    terra.get(USER_INFO, match=[responses.matchers.query_param_matcher({"reference_id": SUBJECT})], json=list(users))


def deauthenticated(terra: responses.RequestsMock) -> list[str]:
    return sorted(str(call.request.url).split("user_id=")[1] for call in terra.calls if call.request.method == "DELETE")


def table_items(table: str) -> list[dict[str, Any]]:
    return boto3.client("dynamodb").scan(TableName=table)["Items"]


def test_erasing_disconnects_every_wearable_and_leaves_only_expiring_tombstones(
    invoke: Callable[..., ApiAnswer], deliver: Deliver, terra: responses.RequestsMock, table: str
) -> None:
    sent = int(time.time()) - 120
    for index, provider in enumerate(("GARMIN", "OURA", "FITBIT", "WHOOP")):
        assert deliver(auth(f"tu-{index}", provider, sent=sent + index)).status == 200
    deliver(webhook_event({"type": "deauth", "user": terra_user("tu-3", "WHOOP")}, timestamp=sent + 10))
    deliver(webhook_event({"type": "auth", "status": "error", "reason": "denied", "user": terra_user("tu-9", "OURA")}))
    terra.post(GENERATE, json={"status": "success", "token": "sdk-token-1", "expires_in": 180})
    assert invoke(api_event(method="POST", path="/v1/sdk-tokens")).status == 201
    terra_lists(terra, terra_user("tu-0"), terra_user("tu-1", "OURA"), terra_user("tu-missed", "POLAR"))
    terra.post(BULK_USER_INFO, json=[])  # tu-2 and tu-3: Terra no longer knows them
    terra.delete(DEAUTH_URL, json={"status": "success"})

    answer = invoke(api_event(**ERASE))

    assert answer.status == 204
    assert answer.headers["Cache-Control"] == "no-store"
    assert deauthenticated(terra) == ["tu-0", "tu-1", "tu-missed"]
    items = table_items(table)
    kinds = sorted({item["pk"]["S"].split("#")[0] for item in items})
    assert kinds == ["erased", "outbox", "terra-user"]
    tombstones = [item for item in items if item["pk"]["S"].startswith("terra-user#")]
    assert sorted(item["pk"]["S"] for item in tombstones) == [
        f"terra-user#{uid}" for uid in ("tu-0", "tu-1", "tu-2", "tu-3", "tu-missed")
    ]
    for item in tombstones:
        assert set(item) == {"pk", "sk", "version", "record", "erased_at", "expires_at"}
        assert item["record"] == {"S": "{}"}
        assert int(item["expires_at"]["N"]) - int(item["erased_at"]["N"]) // 1000 == timedelta(days=30).total_seconds()
    # What is not a tombstone expires too (the table's TTL attribute): the marker with the history, the outbox
    # item within a day (a backstop: the events function deletes it once published).
    expiry = {item["pk"]["S"].split("#")[0]: int(item["expires_at"]["N"]) - time.time() for item in items}
    assert timedelta(days=29) < timedelta(seconds=expiry["erased"]) <= timedelta(days=30)
    assert timedelta(0) < timedelta(seconds=expiry["outbox"]) <= timedelta(days=1)
    # The reference_id is nowhere but in the event waiting to be published (hashed in the erasure marker).
    holding = [item["pk"]["S"] for item in items if SUBJECT in json.dumps(item)]
    assert len(holding) == 1
    assert holding[0].startswith("outbox#")
    listed = invoke(api_event(method="GET", path="/v1/connections")).json
    assert listed == {"connections": [], "last_attempt": None}


def test_late_deliveries_after_the_erasure_recreate_nothing(
    invoke: Callable[..., ApiAnswer],
    deliver: Deliver,
    terra: responses.RequestsMock,
    table: str,
    function_logs: io.StringIO,
) -> None:
    sent = int(time.time()) - 60  # before the erasure, and well inside the signatures' 300 s tolerance
    deliver(auth("tu-1", sent=sent))
    terra_lists(terra, terra_user("tu-1"))
    terra.delete(DEAUTH_URL, json={"status": "success"})
    assert invoke(api_event(**ERASE)).status == 204
    before = table_items(table)

    # Terra's retries of what it sent before the erasure: the auth, a failed attempt, the deauth it caused.
    assert deliver(auth("tu-1", sent=sent + 1)).status == 200
    error = {"type": "auth", "status": "error", "reason": "denied", "user": terra_user("tu-2", "OURA")}
    assert deliver(webhook_event(error, timestamp=sent + 2)).status == 200
    assert deliver(webhook_event({"type": "deauth", "user": terra_user("tu-1")}, timestamp=sent + 3)).status == 200

    after = [item for item in table_items(table) if not item["pk"]["S"].startswith("delivery#")]
    assert sorted(map(json.dumps, after)) == sorted(
        json.dumps(item) for item in before if not item["pk"]["S"].startswith("delivery#")
    )
    assert invoke(api_event(method="GET", path="/v1/connections")).json == {"connections": [], "last_attempt": None}
    # docs/security.md: the functions never log the reference_id, so an erasure leaves none in CloudWatch Logs.
    assert "Fact about an erased app user's Terra user refused" in function_logs.getvalue()
    assert SUBJECT not in function_logs.getvalue()


def test_retries_signed_again_after_the_erasure_started_recreate_nothing(
    invoke: Callable[..., ApiAnswer], deliver: Deliver, terra: responses.RequestsMock, table: str
) -> None:
    sent = int(time.time()) - 200
    deliver(auth("tu-1", sent=sent))
    terra_lists(terra, terra_user("tu-1"))
    terra.delete(DEAUTH_URL, json={"status": "success"})
    assert invoke(api_event(**ERASE)).status == 204
    before = [item for item in table_items(table) if not item["pk"]["S"].startswith("delivery#")]

    # Signed again now. The auth carries no ordering timestamp, so it looks new: its Terra user's tombstone refuses
    # it, the attempt with it. The failed attempt carries Terra's ordering timestamp from before the erasure.
    retried_auth = {"type": "auth", "status": "success", "user": terra_user("tu-1")}
    after_start = int(time.time()) + 2
    assert deliver(webhook_event(retried_auth, timestamp=after_start, trace_id="retry-1")).status == 200
    failure = {"type": "auth_cancelled", "status": "error", "reason": "cancelled", "reference_id": SUBJECT}
    ordering = str(sent * 1000 + 500)
    assert deliver(webhook_event(failure, timestamp=after_start, trace_id="retry-2", ordering=ordering)).status == 200

    after = [item for item in table_items(table) if not item["pk"]["S"].startswith("delivery#")]
    assert sorted(map(json.dumps, after)) == sorted(map(json.dumps, before))
    assert invoke(api_event(method="GET", path="/v1/connections")).json == {"connections": [], "last_attempt": None}


def test_the_erased_user_connects_again_as_a_new_user(
    invoke: Callable[..., ApiAnswer], deliver: Deliver, terra: responses.RequestsMock
) -> None:
    deliver(auth("tu-1", sent=int(time.time()) - 60))
    terra_lists(terra, terra_user("tu-1"))
    terra.delete(DEAUTH_URL, json={"status": "success"})
    invoke(api_event(**ERASE))

    assert deliver(auth("tu-new", "OURA", sent=int(time.time()) + 1)).status == 200

    listed = invoke(api_event(method="GET", path="/v1/connections")).json
    assert [(c["terra_user_id"], c["provider"]) for c in listed["connections"]] == [("tu-new", "OURA")]


def test_nothing_to_erase_answers_204_and_publishes_nothing(
    invoke: Callable[..., ApiAnswer], terra: responses.RequestsMock, table: str
) -> None:
    terra_lists(terra)

    assert invoke(api_event(**ERASE)).status == 204
    assert [item["pk"]["S"].split("#")[0] for item in table_items(table)] == ["erased"]


def test_terra_failing_part_way_answers_a_retryable_error_and_the_retry_finishes(
    invoke: Callable[..., ApiAnswer], deliver: Deliver, terra: responses.RequestsMock, table: str
) -> None:
    deliver(auth("tu-1", sent=int(time.time()) - 60))
    deliver(auth("tu-2", "OURA", sent=int(time.time()) - 59))
    terra_lists(terra, terra_user("tu-1"), terra_user("tu-2", "OURA"))
    terra.delete(DEAUTH_URL, match=[responses.matchers.query_param_matcher({"user_id": "tu-1"})], json={})
    failing = terra.delete(
        DEAUTH_URL, match=[responses.matchers.query_param_matcher({"user_id": "tu-2"})], status=500, json={}
    )

    first = invoke(api_event(**ERASE))

    assert first.status in {502, 503}
    assert first.headers["Content-Type"] == "application/problem+json"
    listed = invoke(api_event(method="GET", path="/v1/connections")).json["connections"]
    assert [c["terra_user_id"] for c in listed] == ["tu-2"]  # still live at Terra, still listed
    assert not [item for item in table_items(table) if item["pk"]["S"].startswith("outbox#")]
    terra.remove(failing)  # (removes every DELETE answer of that URL)
    terra.delete(DEAUTH_URL, status=404, json={"status": "error", "message": "user not found"})

    assert invoke(api_event(**ERASE)).status == 204
    assert invoke(api_event(**ERASE)).status == 204
    outbox = [item for item in table_items(table) if item["pk"]["S"].startswith("outbox#")]
    assert len(outbox) == 1


def test_without_a_token_the_caller_is_refused_and_terra_is_not_asked(
    invoke: Callable[..., ApiAnswer], terra: responses.RequestsMock
) -> None:
    event = api_event(**ERASE)
    event["requestContext"].pop("authorizer")

    answer = invoke(event)

    assert answer.status == 401
    assert [call.request.url for call in terra.calls] == []


class RecordingPublisher:
    def __init__(self) -> None:
        self.entries: list[tuple[str, dict[str, Any]]] = []

    def publish(self, entries: Any) -> None:
        self.entries += entries


def test_the_erasure_is_published_once_from_its_outbox_item_which_then_goes(
    invoke: Callable[..., ApiAnswer], deliver: Deliver, terra: responses.RequestsMock, table: str
) -> None:
    deliver(auth("tu-1", sent=int(time.time()) - 60))
    terra_lists(terra, terra_user("tu-1"))
    terra.delete(DEAUTH_URL, json={"status": "success"})
    invoke(api_event(**ERASE))
    [item] = [item for item in table_items(table) if item["pk"]["S"].startswith("outbox#")]
    inserted = {
        "eventName": "INSERT",
        "dynamodb": {"Keys": {"pk": item["pk"], "sk": item["sk"]}, "NewImage": item, "SequenceNumber": "1"},
    }
    removed = {
        "eventName": "REMOVE",
        "dynamodb": {"Keys": {"pk": item["pk"], "sk": item["sk"]}, "OldImage": item, "SequenceNumber": "2"},
    }
    publisher, outbox = RecordingPublisher(), RecordingOutbox()

    answer = publish_records([inserted, removed], EventsContainer(publisher, outbox))

    assert answer == {"batchItemFailures": []}
    [(detail_type, detail)] = publisher.entries
    assert detail_type == "User Erased"
    assert (detail["reference_id"], detail["status"], detail["reason"]) == (SUBJECT, "erased", "requested_by_user")
    assert outbox.deleted == [{"pk": item["pk"], "sk": item["sk"]}]
    assert stream_change(removed) == ()


def test_the_operator_erases_a_user_without_a_token(
    reconcile: Callable[[], dict[str, Any]],
    deliver: Deliver,
    terra: responses.RequestsMock,
    table: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import importlib  # noqa: PLC0415

    handler = importlib.import_module("terra_connect.entrypoints.reconcile")
    deliver(auth("tu-1", sent=int(time.time()) - 60))
    terra_lists(terra, terra_user("tu-1"))
    terra.delete(DEAUTH_URL, json={"status": "success"})

    answer = handler.lambda_handler({"erase": {"reference_id": SUBJECT}}, FakeLambdaContext(remaining_ms=60_000))
    refused = handler.lambda_handler({"erase": {"reference_id": " "}}, FakeLambdaContext(remaining_ms=60_000))

    assert answer == {"erased": True, "deauthenticated": 1, "tombstoned": 1, "forgotten": 0, "items_deleted": 1}
    assert refused["error"] == "invalid_request"
    [item] = [item for item in table_items(table) if item["pk"]["S"].startswith("outbox#")]
    assert json.loads(item["detail"]["S"])["reason"] == "requested_by_operator"


def test_erasing_asks_for_the_purge_of_the_stored_data_before_it_finishes(
    data_stack: DataStack, terra: responses.RequestsMock, deliver: Deliver, invoke: Callable[..., ApiAnswer]
) -> None:
    assert deliver(auth("tu-0")).status == 200
    terra_lists(terra, terra_user("tu-0"))
    terra.delete(DEAUTH_URL, json={"status": "success"})

    assert invoke(api_event(**ERASE)).status == 204

    (message,) = received(data_stack, "purge")
    request = PurgeRequest.from_message(message["body"])
    assert (request.reference_id, request.terra_user_ids, request.requested_by, request.run) == (
        SUBJECT,
        ("tu-0",),
        "user",
        1,
    )


@pytest.mark.parametrize(
    "code",
    [
        "ThrottlingException",
        "AccessDenied",
        "AWS.SimpleQueueService.NonExistentQueue",
        "KMS.DisabledException",
        "InternalError",
    ],
)
def test_a_purge_queue_that_refuses_the_request_answers_503_never_500_and_the_retry_asks_again(
    code: str,
    data_stack: DataStack,
    terra: responses.RequestsMock,
    deliver: Deliver,
    invoke: Callable[..., ApiAnswer],
    table: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from botocore.exceptions import ClientError  # noqa: PLC0415

    from terra_connect.data_erasure.sqs import SqsPurgeRequests  # noqa: PLC0415

    assert deliver(auth("tu-0")).status == 200
    terra_lists(terra, terra_user("tu-0"))
    terra.delete(DEAUTH_URL, json={"status": "success"})
    real_send = SqsPurgeRequests.request
    refusing = [True]

    def refused(self: SqsPurgeRequests, *args: Any, **kwargs: Any) -> None:
        """The adapter as it is, over an SQS client that refuses while `refusing` says so."""

        def send_message(**_: Any) -> None:
            raise ClientError({"Error": {"Code": code, "Message": "refused"}}, "SendMessage")

        with monkeypatch.context() as patched:
            if refusing[0]:
                patched.setattr(self._client, "send_message", send_message)
            real_send(self, *args, **kwargs)

    monkeypatch.setattr(SqsPurgeRequests, "request", refused)

    answer = invoke(api_event(**ERASE))

    assert answer.status == 503
    assert answer.headers["Content-Type"] == "application/problem+json"
    assert answer.json["code"] == "data_store_unavailable"
    assert answer.headers["Retry-After"] == "1"
    assert not [item for item in table_items(table) if item["pk"]["S"].startswith("outbox#")]  # not finished
    refusing[0] = False

    assert invoke(api_event(**ERASE)).status == 204
    (message,) = received(data_stack, "purge")
    assert PurgeRequest.from_message(message["body"]).terra_user_ids == ("tu-0",)


def test_the_operators_erasure_queues_a_purge_which_the_same_function_runs_from_the_queue(
    data_stack: DataStack,
    reconcile: Callable[..., dict[str, Any]],
    deliver: Deliver,
    terra: responses.RequestsMock,
) -> None:
    assert deliver(auth("tu-1", sent=int(time.time()) - 60)).status == 200
    terra_lists(terra, terra_user("tu-1"))
    terra.delete(DEAUTH_URL, json={"status": "success"})
    raw = boto3.client("s3").put_object(Bucket=data_stack.bucket, Key="raw/dt=2026-01-01/x.json", Body=b"{}")
    part = {"pk": {"S": f"u#{SUBJECT}"}, "sk": {"S": "p#x#0000"}, "raw_key": {"S": "raw/dt=2026-01-01/x.json"}}
    boto3.client("dynamodb").put_item(
        TableName=data_stack.table, Item={**part, "raw_version_id": {"S": raw["VersionId"]}}
    )

    assert reconcile({"erase": {"reference_id": SUBJECT}})["erased"] is True
    (message,) = received(data_stack, "purge")
    assert PurgeRequest.from_message(message["body"]).requested_by == "operator"
    answer = reconcile({"Records": [message, {**message, "messageId": "not-a-request", "body": "{}"}]})

    assert answer == {"batchItemFailures": [{"itemIdentifier": "not-a-request"}]}
    assert "Versions" not in boto3.client("s3").list_object_versions(Bucket=data_stack.bucket)
    assert boto3.client("dynamodb").scan(TableName=data_stack.table)["Items"] == []
    queued = boto3.client("sqs").get_queue_attributes(
        QueueUrl=data_stack.queue_urls["purge"], AttributeNames=["ApproximateNumberOfMessagesDelayed"]
    )
    assert queued["Attributes"]["ApproximateNumberOfMessagesDelayed"] == "1"  # its second pass, 15 minutes later
