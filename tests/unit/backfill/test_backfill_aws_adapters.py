"""The backfill's AWS adapters on emulated AWS: its state in the data table (one plan per Terra user, writes
conditional on the version, listed open until it ends, the end's detail beside it for the stream), and its queue
(new connections, wake-ups delayed by at most 900 s)."""

import json
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from terra_connect.backfill.completion import Backfill
from terra_connect.backfill.dynamodb_store import DynamoDbBackfillStore
from terra_connect.backfill.messages import WakeUp, read_message
from terra_connect.backfill.plan import NewConnection, plan_backfill
from terra_connect.backfill.ports import RateLimited, StoreUnavailable
from terra_connect.backfill.service import BackfillService, BackfillSettings, StepResult
from terra_connect.backfill.sqs_scheduler import QueueUnavailable, SqsBackfillQueue
from terra_connect.backfill.state import BackfillState
from terra_connect.kernel.deadline import Deadline
from tests.support.memory_backfill import START_MS, Clock, KeptInline, ScriptedTerra

TABLE = "terra-connect-data"
TIME = Deadline(60.0, clock=lambda: 0.0)


def new_state(terra_user_id: str = "tu-1", *, started_ms: int = START_MS) -> BackfillState:
    connection = NewConnection("alice", terra_user_id, "GARMIN")
    plan = plan_backfill(
        connection, backfill_days=30, timeout_hours=24, now_ms=started_ms, supported_types=None, sdk_providers=()
    )
    assert plan is not None
    return BackfillState(Backfill(plan))


@pytest.fixture
def dynamodb(aws: None) -> Any:
    client = boto3.client("dynamodb")
    client.create_table(
        TableName=TABLE,
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "S"},
        ],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        BillingMode="PAY_PER_REQUEST",
    )
    return client


@pytest.fixture
def store(dynamodb: Any) -> DynamoDbBackfillStore:
    return DynamoDbBackfillStore(dynamodb, TABLE)


@pytest.fixture
def sqs(aws: None) -> tuple[Any, str, list[dict[str, Any]]]:
    """The queue, its URL, and every SendMessage's parameters (moto delays in real time; the tests never wait)."""
    client = boto3.client("sqs")
    url = client.create_queue(QueueName="terra-connect-backfill")["QueueUrl"]
    sent: list[dict[str, Any]] = []
    client.meta.events.register("provide-client-params.sqs.SendMessage", lambda params, **_: sent.append(params))
    return client, url, sent


def item(dynamodb: Any, pk: str, sk: str) -> dict[str, Any] | None:
    found: dict[str, Any] | None = dynamodb.get_item(TableName=TABLE, Key={"pk": {"S": pk}, "sk": {"S": sk}}).get(
        "Item"
    )
    return found


def test_a_terra_user_gets_one_backfill_listed_open_with_an_expiry(store: DynamoDbBackfillStore, dynamodb: Any) -> None:
    state = new_state()

    assert store.create(state) is True
    assert store.create(new_state(started_ms=START_MS + 1)) is False

    stored = store.load("tu-1")
    assert stored is not None
    assert (stored.state, stored.version) == (state, 1)
    plan = item(dynamodb, "bf#tu-1", "plan")
    assert plan is not None
    deadline_s = state.backfill.plan.deadline_ms // 1000
    assert (plan["status"]["S"], plan["expires_at"]["N"]) == ("open", str(deadline_s + 7 * 86_400))
    assert store.open_backfills(10) == ["tu-1"]
    assert store.load("tu-2") is None


def test_a_write_from_a_stale_read_changes_nothing(store: DynamoDbBackfillStore) -> None:
    state = new_state()
    store.create(state)

    assert store.save(state, 1) is True
    assert store.save(state, 1) is False
    stored = store.load("tu-1")
    assert stored is not None
    assert stored.version == 2


def test_the_write_that_ends_a_backfill_keeps_its_detail_and_unlists_it(
    store: DynamoDbBackfillStore, dynamodb: Any
) -> None:
    state = new_state()
    store.create(state)
    store.create(new_state("tu-0", started_ms=START_MS - 1))
    outcome = state.backfill.expire(state.backfill.plan.deadline_ms)
    assert outcome.ended is not None

    assert store.save(BackfillState(outcome.backfill), 1, outcome.ended) is True

    plan = item(dynamodb, "bf#tu-1", "plan")
    assert plan is not None
    assert plan["status"]["S"] == "incomplete"
    assert json.loads(plan["detail"]["S"]) == outcome.ended.to_detail()
    assert store.open_backfills(10) == ["tu-0"]
    assert store.save(BackfillState(outcome.backfill), 2) is True  # a later change keeps the detail
    assert "detail" in (item(dynamodb, "bf#tu-1", "plan") or {})


def test_open_backfills_come_earliest_deadline_first_within_the_limit(store: DynamoDbBackfillStore) -> None:
    for number in (3, 1, 2):
        store.create(new_state(f"tu-{number}", started_ms=START_MS + number))

    assert store.open_backfills(2) == ["tu-1", "tu-2"]
    assert store.open_backfills(1) == ["tu-1"]


def test_an_outage_is_reported_as_such_and_a_conflict_is_not(dynamodb: Any) -> None:
    stubber = Stubber(dynamodb)
    store = DynamoDbBackfillStore(dynamodb, TABLE)
    stubber.add_client_error("get_item", "ProvisionedThroughputExceededException")
    stubber.add_client_error("update_item", "ThrottlingException")
    stubber.add_client_error("update_item", "ConditionalCheckFailedException")
    stubber.add_client_error("transact_write_items", "TransactionCanceledException")
    with stubber:
        with pytest.raises(StoreUnavailable):
            store.load("tu-1")
        with pytest.raises(StoreUnavailable):
            store.save(new_state(), 1)
        assert store.save(new_state(), 1) is False
        with pytest.raises(StoreUnavailable):  # cancelled for another reason than a condition
            store.create(new_state())


def test_wake_ups_are_delayed_at_most_900_seconds_rounded_up(sqs: tuple[Any, str, list[dict[str, Any]]]) -> None:
    client, url, sent = sqs
    queue = SqsBackfillQueue(client, url)

    queue.wake("tu-1", 7, 2_000_000)
    queue.wake("tu-1", 8, 1_500)
    queue.wake("tu-1", 9, 0)

    assert [params["DelaySeconds"] for params in sent] == [900, 2, 0]
    assert [read_message(params["MessageBody"]) for params in sent] == [WakeUp("tu-1", n) for n in (7, 8, 9)]
    (message,) = client.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]  # only the undelayed one
    assert read_message(message["Body"]) == WakeUp("tu-1", 9)


def test_a_connection_is_announced_on_the_queue(sqs: tuple[Any, str, list[dict[str, Any]]]) -> None:
    client, url, _ = sqs
    connection = NewConnection("alice", "tu-1", "GARMIN")

    SqsBackfillQueue(client, url).connected(connection)

    (message,) = client.receive_message(QueueUrl=url)["Messages"]
    assert read_message(message["Body"]) == connection


def test_a_queue_that_cannot_be_reached_is_reported(sqs: tuple[Any, str, list[dict[str, Any]]]) -> None:
    client, url, _ = sqs
    stubber = Stubber(client)
    stubber.add_client_error("send_message", "AWS.SimpleQueueService.NonExistentQueue")
    with stubber, pytest.raises(QueueUnavailable):
        SqsBackfillQueue(client, url).wake("tu-1", 1, 0)


@pytest.mark.parametrize(
    "body",
    [
        "not json",
        "[]",
        '{"v": 2, "wake": {"terra_user_id": "tu-1", "token": 1}}',
        '{"v": 1, "wake": {"terra_user_id": "tu-1", "token": true}}',
        '{"v": 1, "wake": {"terra_user_id": "tu 1", "token": 1}}',
        '{"v": 1, "connected": {"reference_id": "", "terra_user_id": "tu-1", "provider": "GARMIN"}}',
        '{"v": 1}',
    ],
)
def test_a_message_this_code_did_not_write_is_not_acted_on(body: str) -> None:
    assert read_message(body) is None


def test_a_backfill_waits_out_a_429_through_the_queue_and_its_state_in_the_table(
    store: DynamoDbBackfillStore, sqs: tuple[Any, str, list[dict[str, Any]]]
) -> None:
    client, url, sent = sqs
    clock = Clock()
    terra = ScriptedTerra(clock, scripts={"activity": [RateLimited("r2", 120_000)]})
    service = BackfillService(
        terra=terra,
        store=store,
        scheduler=SqsBackfillQueue(client, url),
        inline=KeptInline(),
        settings=BackfillSettings(30, 24),
        clock=clock,
    )

    assert service.connected(NewConnection("alice", "tu-1", "GARMIN"), TIME).result is StepResult.WAITING
    (params,) = sent
    wake = read_message(params["MessageBody"])
    assert isinstance(wake, WakeUp)
    assert params["DelaySeconds"] == 120
    clock.now += 120_000
    assert service.step(wake.terra_user_id, wake.token, TIME).result is StepResult.REQUESTED
    assert service.delivered("tu-1", "ref-2", "trace-1", "d") is None
    stored = store.load("tu-1")
    assert stored is not None
    assert (stored.state.made, len(terra.asked)) == (7, 8)


def test_a_conflicting_transaction_is_a_lost_race_not_an_outage(store: DynamoDbBackfillStore) -> None:
    store.create(new_state())
    state = new_state()
    ended = state.backfill.expire(state.backfill.plan.deadline_ms)

    assert store.save(BackfillState(ended.backfill), 5, ended.ended) is False
    stored = store.load("tu-1")
    assert stored is not None
    assert stored.state.open
