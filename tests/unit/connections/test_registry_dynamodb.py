"""The DynamoDB store keeps the registry exactly as the rules define it: the same generated event histories, in
shuffled order, leave DynamoDB's records and view items equal to what the in-memory store derives."""

from collections.abc import Iterator
from datetime import timedelta

import boto3
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from local.aws import create_connections_table
from moto import mock_aws

from terra_connect.connections.table_client import ConnectionsTable
from terra_connect.entrypoints.shared import RegistryStores
from terra_connect.webhooks.processor import WebhookProcessor
from tests.support.memory_registry import InMemoryRegistryStore, Stores, registry_over, registry_snapshot
from tests.support.terra_world import OWNERS, Step, World, steps

TABLE = "registry-under-test"


@pytest.fixture(scope="module")
def dynamodb() -> Iterator[None]:
    with mock_aws():
        yield


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture]
)
@given(history=st.lists(steps, min_size=4, max_size=20), data=st.data())
def test_dynamodb_holds_what_the_rules_derive(dynamodb: None, history: list[Step], data: st.DataObject) -> None:
    deliveries = data.draw(st.permutations(World(exact=False).play(history).deliveries), label="delivery order")
    create_connections_table(None, TABLE)
    try:
        stored = RegistryStores.over(ConnectionsTable(TABLE, retention=timedelta(days=30), page_limit=3))
        memory = InMemoryRegistryStore()
        layouts: tuple[Stores, ...] = (stored, memory)
        for store in layouts:
            processor = WebhookProcessor(registry_over(store))
            for delivery in deliveries:
                processor.process(delivery.payload, delivery.trace_id, delivery.sent_at, delivery.ordered_at)

        ids = set(memory.stored)
        assert registry_snapshot(stored.records, OWNERS, ids) == registry_snapshot(memory.records, OWNERS, ids)
    finally:
        boto3.client("dynamodb").delete_table(TableName=TABLE)
