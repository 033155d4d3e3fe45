"""Lifecycle events: derived from what the registry wrote, once per change, in any delivery order; published in
order, and a record whose events fail is retried without the records before it."""

import json
from collections.abc import Sequence
from dataclasses import replace
from datetime import timedelta
from typing import Any

import boto3
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from terra_connect.connections.dynamodb import DynamoDBRecordStore
from terra_connect.connections.records import Change, ended_by_id, scopes_changed, seen_alive
from terra_connect.connections.table_client import ConnectionsTable
from terra_connect.connections.vocabulary import AuthAttempt, EndReason, TerraUser
from terra_connect.entrypoints.shared import RegistryStores
from terra_connect.kernel.errors import EventsUnavailable
from terra_connect.lifecycle_events.eventbridge import EventBridgePublisher
from terra_connect.lifecycle_events.events import SOURCE, DetailType, LifecycleEvent, attempt_events, user_events
from terra_connect.lifecycle_events.publisher import EventsContainer, publish_records
from terra_connect.lifecycle_events.stream import stream_change
from terra_connect.webhooks.processor import WebhookProcessor
from tests.support.builders import RecordingOutbox
from tests.support.memory_registry import InMemoryRegistryStore, registry_over
from tests.support.terra_world import Step, World, replay, steps

histories = st.lists(steps, min_size=6, max_size=30)
T0 = 1_795_000_000_000
GARMIN = TerraUser("tu-1", "GARMIN", "alice", ("activity:read",))


def published(store: InMemoryRegistryStore, since: int = 0) -> list[LifecycleEvent]:
    return [event for before, after in store.writes[since:] for event in user_events(before, after)]


def subscriber_view(events: Sequence[LifecycleEvent]) -> dict[tuple[str, str], tuple[str, tuple[str, ...]]]:
    """What a subscriber that applies every event in order believes each app user has."""
    believed: dict[tuple[str, str], tuple[str, tuple[str, ...]]] = {}
    for event in events:
        key = (event.reference_id, event.terra_user_id or "")
        if event.detail_type is DetailType.DISCONNECTED:
            believed.pop(key, None)
        else:
            believed[key] = (event.status, event.scopes)
    return believed


def listed(store: InMemoryRegistryStore) -> dict[tuple[str, str], tuple[str, tuple[str, ...]]]:
    snapshot: Any = store.snapshot()
    return {
        (owner, c.terra_user_id): (c.status.value, c.scopes)
        for owner, connections in snapshot["listed"].items()
        for c in connections
    }


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(history=histories, data=st.data())
def test_in_any_delivery_order_a_subscriber_ends_believing_what_the_registry_lists(
    history: list[Step], data: st.DataObject
) -> None:
    deliveries = World(exact=False).play(history).deliveries
    shuffled = data.draw(st.permutations(deliveries), label="delivery order")

    for store in (replay(deliveries), replay(shuffled)):
        events = published(store)
        assert subscriber_view(events) == listed(store)
        assert len({event.id for event in events}) == len(events)  # one id per change


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(history=histories, data=st.data())
def test_redelivered_and_replayed_webhooks_publish_nothing_new(history: list[Step], data: st.DataObject) -> None:
    deliveries = World(exact=False).play(history).deliveries
    store = replay(deliveries)
    before = len(store.writes)
    repeats = data.draw(st.lists(st.sampled_from(deliveries), max_size=6), label="redelivered") if deliveries else []
    processor = WebhookProcessor(registry_over(store))

    for index, delivery in enumerate(repeats):
        # A new trace id (not deduplicated), and Terra's retry signed again later: the same fact.
        retry = delivery.retried(60, f"fresh-{index}") if delivery.ordered_at is not None else delivery
        processor.process(retry.payload, retry.trace_id, retry.sent_at, retry.ordered_at)

    assert published(store, before) == []


def test_each_change_an_owner_sees_is_one_event_with_its_reason() -> None:
    store = InMemoryRegistryStore()
    registry = registry_over(store)
    registry.apply(Change(records=(seen_alive(GARMIN, T0),)))
    registry.apply(Change(records=(scopes_changed(GARMIN, T0 + 1000, ["sleep:read"], []),)))
    registry.apply(Change(records=(seen_alive(replace(GARMIN, scopes=None), T0 + 2000),)))  # nothing new to anyone
    registry.apply(Change(records=(ended_by_id("tu-1", T0 + 3000, EndReason.ACCESS_REVOKED),)))

    events = published(store)

    assert [(e.detail_type, e.status, e.reason) for e in events] == [
        (DetailType.CONNECTED, "connected", None),
        (DetailType.SCOPES_CHANGED, "connected", None),
        (DetailType.DISCONNECTED, "disconnected", "revoked_at_provider"),
    ]
    assert events[1].scopes_added == ("sleep:read",)
    assert events[1].detail()["scopes"] == ["activity:read", "sleep:read"]
    assert events[2].detail()["time"] == "2026-11-18T11:06:43.000Z"
    assert {e.reference_id for e in events} == {"alice"}


def test_a_terra_user_claimed_by_another_app_user_leaves_one_and_joins_the_other() -> None:
    store = InMemoryRegistryStore()
    registry = registry_over(store)
    registry.apply(Change(records=(seen_alive(GARMIN, T0),)))
    registry.apply(Change(records=(seen_alive(TerraUser("tu-1", "GARMIN", "bob"), T0 + 1000),)))

    moved = published(store)[1:]

    assert [(e.detail_type, e.reference_id, e.reason) for e in moved] == [
        (DetailType.DISCONNECTED, "alice", "claimed_by_another_user"),
        (DetailType.CONNECTED, "bob", None),
    ]


def test_only_a_new_failed_attempt_is_an_event() -> None:
    failed = AuthAttempt("error", "OURA", "user_cancelled")

    (event,) = attempt_events("alice", None, failed)

    assert (event.detail_type, event.provider, event.reason) == (DetailType.ATTEMPT_FAILED, "OURA", "user_cancelled")
    assert attempt_events("alice", failed, failed) == []
    assert attempt_events("alice", failed, AuthAttempt("success", "OURA")) == []


def stream_record(sequence: str, old: dict[str, Any] | None, new: dict[str, Any] | None) -> dict[str, Any]:
    image = new or old or {}
    change: dict[str, Any] = {"Keys": {"pk": image["pk"], "sk": image["sk"]}, "SequenceNumber": sequence}
    if old:
        change["OldImage"] = old
    if new:
        change["NewImage"] = new
    return {"eventName": "MODIFY" if old and new else "INSERT" if new else "REMOVE", "dynamodb": change}


def test_the_tables_stream_images_carry_the_same_events(table: str) -> None:
    """A real item's images (as DynamoDB's stream holds them) read back into the same events as the domain's."""
    store = RegistryStores.over(ConnectionsTable(table, retention=timedelta(days=30)))
    registry = registry_over(store)
    client = boto3.client("dynamodb")
    key = {"pk": {"S": "terra-user#tu-1"}, "sk": {"S": "record"}}
    registry.apply(Change(records=(seen_alive(GARMIN, T0),)))
    connected = client.get_item(TableName=table, Key=key)["Item"]
    registry.apply(Change(records=(ended_by_id("tu-1", T0 + 5000, EndReason.DISCONNECTED_BY_USER),)))
    ended = client.get_item(TableName=table, Key=key)["Item"]
    registry.apply(Change(attempt=("alice", AuthAttempt("error", "GARMIN", "denied"))))
    attempt = client.get_item(TableName=table, Key={"pk": {"S": "owner#alice"}, "sk": {"S": "attempt"}})["Item"]

    entries = [
        *stream_change(stream_record("1", None, connected)),
        *stream_change(stream_record("2", connected, ended)),
        *stream_change(stream_record("3", None, attempt)),
        *stream_change(stream_record("4", ended, None)),  # expiry: nothing to tell
        *stream_change(stream_record("5", None, {"pk": {"S": "owner#alice"}, "sk": {"S": "sync"}})),
    ]

    assert [(kind, detail["reference_id"], detail["reason"]) for kind, detail in entries] == [
        ("Wearable Connected", "alice", None),
        ("Wearable Disconnected", "alice", "disconnected_by_user"),
        ("Connection Attempt Failed", "alice", "denied"),
    ]


@pytest.fixture
def sink(aws: None) -> tuple[str, str]:
    """docs/events.md's example: a rule on the bus sending every event of this service to an SQS queue."""
    events, sqs = boto3.client("events"), boto3.client("sqs")
    events.create_event_bus(Name="terra-connect-events")
    queue = sqs.create_queue(QueueName="wearable-events")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    pattern = {"source": [SOURCE]}
    events.put_rule(Name="all", EventBusName="terra-connect-events", EventPattern=json.dumps(pattern))
    events.put_targets(Rule="all", EventBusName="terra-connect-events", Targets=[{"Id": "queue", "Arn": arn}])
    return "terra-connect-events", queue


def received(queue: str) -> list[dict[str, Any]]:
    sqs = boto3.client("sqs")
    messages: list[dict[str, Any]] = []
    while batch := sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10).get("Messages", []):
        messages += [json.loads(m["Body"]) for m in batch]
        for m in batch:
            sqs.delete_message(QueueUrl=queue, ReceiptHandle=m["ReceiptHandle"])
    return messages


def test_events_reach_a_rule_on_the_bus_in_batches_of_ten(sink: tuple[str, str]) -> None:
    bus, queue = sink
    entries = [("Wearable Connected", {"id": f"e{i}", "reference_id": "alice"}) for i in range(12)]

    EventBridgePublisher(bus).publish(entries)

    delivered = received(queue)
    assert sorted(m["detail"]["id"] for m in delivered) == sorted(f"e{i}" for i in range(12))
    assert {(m["source"], m["detail-type"]) for m in delivered} == {(SOURCE, "Wearable Connected")}


def test_a_bus_that_refuses_is_reported(aws: None) -> None:
    with pytest.raises(EventsUnavailable):
        EventBridgePublisher("no-such-bus").publish([("Wearable Connected", {"id": "x"})])


class FlakyPublisher:
    def __init__(self, fail_on: int) -> None:
        self.calls: list[Sequence[tuple[str, dict[str, Any]]]] = []
        self.fail_on = fail_on

    def publish(self, entries: Sequence[tuple[str, dict[str, Any]]]) -> None:
        self.calls.append(entries)
        if len(self.calls) == self.fail_on:
            raise EventsUnavailable


def test_a_failed_record_is_retried_from_itself_and_the_records_before_it_are_not_published_again() -> None:
    store = InMemoryRegistryStore()
    registry = registry_over(store)
    for index in range(3):
        registry.apply(Change(records=(seen_alive(TerraUser(f"tu-{index}", "OURA", "alice"), T0 + index),)))
    codec = DynamoDBRecordStore(
        ConnectionsTable("unused", retention=timedelta(days=1))
    )  # only its item encoding is used
    images = [codec._record_put(after, before)["Item"] for before, after in store.writes]
    records = [stream_record(str(100 + index), None, image) for index, image in enumerate(images)]
    publisher = FlakyPublisher(fail_on=2)
    container = EventsContainer(publisher, RecordingOutbox())

    answer = publish_records(records, container)

    assert answer == {"batchItemFailures": [{"itemIdentifier": "101"}]}
    assert [entries[0][1]["terra_user_id"] for entries in publisher.calls] == ["tu-0", "tu-1"]
    publisher.fail_on = 0
    assert publish_records(records[1:], container) == {"batchItemFailures": []}
    assert [entries[0][1]["terra_user_id"] for entries in publisher.calls[2:]] == ["tu-1", "tu-2"]


def test_a_record_not_written_by_this_service_is_skipped_not_retried_forever() -> None:
    container: Any = EventsContainer(FlakyPublisher(fail_on=1), RecordingOutbox())

    answer = publish_records([{"dynamodb": {"SequenceNumber": "7", "Keys": {}}}], container)

    assert answer == {"batchItemFailures": []}
