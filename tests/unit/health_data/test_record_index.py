"""The record index on emulated DynamoDB: conditional commits against the stored copy and the registry's erasure
marker and tombstones, order refreshes, superseded lists, payload parts and day queries; and the registry read as
the data's owner directory, through items the registry's own store writes."""

from dataclasses import replace
from datetime import timedelta

import pytest

from terra_connect.connections.dynamodb import DynamoDBRecordStore
from terra_connect.connections.records import Standing, StoredUser, seen_alive, tombstone
from terra_connect.connections.table_client import ConnectionsTable
from terra_connect.connections.vocabulary import ConnectionStatus, TerraUser
from terra_connect.erasure.dynamodb import DynamoDBErasureStore
from terra_connect.health_data import layout
from terra_connect.health_data.dynamodb_index import DynamoDBRecordIndex
from terra_connect.health_data.dynamodb_owners import DynamoDBOwnerDirectory
from terra_connect.health_data.events import DataReceived
from terra_connect.health_data.keys import RecordIdentity
from terra_connect.health_data.models import ObjectVersion, Ownership, PayloadPart, StoredCopy
from terra_connect.health_data.ordering import CopyOrder
from terra_connect.health_data.ports import CommitOutcome
from tests.unit.health_data.conftest import DataResources

ALICE = "alice"
PARTITION = layout.owner_partition(ALICE)
DAILY = RecordIdentity("daily", "GARMIN", "d:2026-07-01")


@pytest.fixture
def index(data_aws: DataResources) -> DynamoDBRecordIndex:
    return DynamoDBRecordIndex(data_aws.table, data_aws.connections_table, clock=lambda: 1_780_000_000_000)


class Registry:
    """The registry's own stores over the connections table: its records and its erasure markers."""

    def __init__(self, table: ConnectionsTable) -> None:
        self.records = DynamoDBRecordStore(table)
        self.erasures = DynamoDBErasureStore(table)
        self.save_user = self.records.save_user
        self.mark_erased = self.erasures.mark_erased


@pytest.fixture
def registry(data_aws: DataResources) -> Registry:
    return Registry(ConnectionsTable(data_aws.connections_table, retention=timedelta(days=30)))


def copy(
    order: CopyOrder, *, identity: RecordIdentity = DAILY, day: str = "2026-07-01", **changes: object
) -> StoredCopy:
    stored = StoredCopy(
        identity=identity,
        day=day,
        order=order,
        payload_id="p" * 32,
        location=ObjectVersion(f"records/{order.digest}.json", "v-" + order.digest),
        size=120,
        terra_user_id="tu-1",
        received_ms=1_780_000_000_000,
        start_time=f"{day}T00:00:00+02:00",
        end_time=None,
    )
    return replace(stored, **changes)  # type: ignore[arg-type]


def order(o: int, s: int = 0, d: str = "a" * 64) -> CopyOrder:
    return CopyOrder(o, s, d)


def save_user(registry: Registry, terra_user_id: str, owner: str | None) -> StoredUser:
    user = TerraUser(terra_user_id=terra_user_id, provider="GARMIN", reference_id=owner)
    record = seen_alive(user, 1_000, ConnectionStatus.CONNECTED)
    stored = StoredUser(record, Standing(ConnectionStatus.CONNECTED, None, 1_000), 1)
    assert registry.save_user(stored, None, None)
    return stored


def test_a_first_copy_commits_and_reads_back_whole(index: DynamoDBRecordIndex) -> None:
    first = copy(order(5, 4), superseded=(ObjectVersion("records/old.json", "v0"),))

    assert index.commit(PARTITION, first, replaces=None, owner=ALICE, signed_ms=4) is CommitOutcome.COMMITTED
    assert index.current(PARTITION, [DAILY, RecordIdentity("daily", "OURA", "d:2026-07-01")]) == {DAILY: first}


def test_a_commit_over_a_copy_other_than_the_one_read_is_superseded(index: DynamoDBRecordIndex) -> None:
    index.commit(PARTITION, copy(order(5)), replaces=None, owner=ALICE, signed_ms=0)

    assert index.commit(PARTITION, copy(order(6)), replaces=None, owner=ALICE, signed_ms=0) is CommitOutcome.SUPERSEDED
    assert index.commit(PARTITION, copy(order(7)), replaces=order(4), owner=ALICE, signed_ms=0) is (
        CommitOutcome.SUPERSEDED
    )
    assert index.commit(PARTITION, copy(order(7)), replaces=order(5), owner=ALICE, signed_ms=0) is (
        CommitOutcome.COMMITTED
    )
    assert index.current(PARTITION, [DAILY])[DAILY].order == order(7)


def test_a_commit_signed_before_the_owners_erasure_began_is_refused(
    index: DynamoDBRecordIndex, registry: Registry
) -> None:
    registry.mark_erased(ALICE, 2_000)

    assert index.commit(PARTITION, copy(order(1)), replaces=None, owner=ALICE, signed_ms=2_000) is (
        CommitOutcome.REFUSED
    )
    assert index.current(PARTITION, [DAILY]) == {}
    # Data signed after the erasure began belongs to the app user's new life.
    assert index.commit(PARTITION, copy(order(1)), replaces=None, owner=ALICE, signed_ms=2_001) is (
        CommitOutcome.COMMITTED
    )


def test_a_commit_for_a_tombstoned_terra_user_is_refused_even_without_an_owner(
    index: DynamoDBRecordIndex, registry: Registry
) -> None:
    previous = save_user(registry, "tu-1", ALICE)
    assert registry.save_user(tombstone("tu-1", previous, 3_000), previous, None)
    unattributed = layout.unattributed_partition("tu-1")

    assert index.commit(unattributed, copy(order(1)), replaces=None, owner=None, signed_ms=5_000) is (
        CommitOutcome.REFUSED
    )
    assert index.commit(unattributed, copy(order(1), terra_user_id="tu-2"), replaces=None, owner=None, signed_ms=0) is (
        CommitOutcome.COMMITTED
    )


def test_the_order_is_raised_only_for_the_same_content_and_a_larger_order(index: DynamoDBRecordIndex) -> None:
    index.commit(PARTITION, copy(order(5, 5)), replaces=None, owner=ALICE, signed_ms=0)

    assert not index.refresh_order(PARTITION, DAILY, order(9, 9, "b" * 64))  # other content
    assert not index.refresh_order(PARTITION, DAILY, order(5, 4))  # smaller
    assert not index.refresh_order(PARTITION, DAILY, order(5, 5))  # equal
    assert not index.refresh_order(PARTITION, RecordIdentity("daily", "OURA", "d:x"), order(9))  # no copy
    assert index.refresh_order(PARTITION, DAILY, order(5, 6))
    assert index.current(PARTITION, [DAILY])[DAILY].order == order(5, 6)


def test_superseded_copies_are_forgotten_once_deleted(index: DynamoDBRecordIndex) -> None:
    old, older = ObjectVersion("records/a.json", "v1"), ObjectVersion("records/b.json", "v2")
    index.commit(PARTITION, copy(order(5), superseded=(old, older)), replaces=None, owner=ALICE, signed_ms=0)

    index.forget_superseded(PARTITION, DAILY, [old])
    assert index.current(PARTITION, [DAILY])[DAILY].superseded == (older,)
    index.forget_superseded(PARTITION, DAILY, [older, old])
    assert index.current(PARTITION, [DAILY])[DAILY].superseded == ()
    index.forget_superseded(PARTITION, RecordIdentity("daily", "OURA", "d:x"), [old])  # no copy: nothing to do


def test_a_payload_part_is_written_once_and_read_back(index: DynamoDBRecordIndex) -> None:
    announcement = DataReceived(
        "p" * 32, ALICE, "tu-1", "GARMIN", "daily", "2026-07-01", "2026-07-02", None, None, 2, 1,
        "bucket", "raw/x.json", "v1", None, False, 1_780_000_000_000,
    )  # fmt: skip
    raw = ObjectVersion("raw/x.json", "v1")
    parts = [
        PayloadPart("p" * 32, 0, "daily", ("r#daily#GARMIN#d:2026-07-01",), raw, announcement),
        PayloadPart("p" * 32, 1, "daily", (), raw),
    ]

    assert [index.put_payload_part(PARTITION, part) for part in parts] == [True, True]
    assert not index.put_payload_part(PARTITION, replace(parts[0], sort_keys=()))
    assert index.payload_parts(PARTITION, "p" * 32) == parts
    assert index.payload_parts(PARTITION, "q" * 32) == []


def test_a_day_query_pages_through_one_types_copies_in_day_order(index: DynamoDBRecordIndex) -> None:
    days = [f"2026-07-{day:02d}" for day in range(1, 8)]
    for day in days:
        identity = RecordIdentity("daily", "GARMIN", f"d:{day}")
        index.commit(PARTITION, copy(order(1), identity=identity, day=day), replaces=None, owner=ALICE, signed_ms=0)
    sleep = RecordIdentity("sleep", "GARMIN", "s:1")
    index.commit(PARTITION, copy(order(1), identity=sleep, day="2026-07-03"), replaces=None, owner=ALICE, signed_ms=0)

    bounds = layout.day_key_bounds("daily", "2026-07-02", "2026-07-06")
    seen, after, pages = [], None, 0
    while True:
        page = index.query_days(PARTITION, bounds, limit=2, after=after)
        seen += [c.day for c in page.copies]
        pages += 1
        if page.after is None:
            break
        after = page.after
    assert seen == days[1:6]
    assert pages == 3
    exact = index.query_days(PARTITION, layout.day_key_bounds("daily", "2026-07-01", "2026-07-02"), limit=2, after=None)
    assert [c.day for c in exact.copies] == days[:2]
    assert exact.after is None  # nothing follows: no position to continue from
    assert index.query_days("u#bob", bounds, limit=10, after=None).copies == ()


def test_the_owner_directory_reads_the_registrys_own_items(data_aws: DataResources, registry: Registry) -> None:
    directory = DynamoDBOwnerDirectory(data_aws.connections_table)
    save_user(registry, "tu-owned", ALICE)
    save_user(registry, "tu-ownerless", None)
    previous = save_user(registry, "tu-erased", "bob")
    registry.save_user(tombstone("tu-erased", previous, 7_000), previous, None)
    registry.mark_erased("bob", 7_000)

    assert directory.owner_of("tu-owned") == Ownership(ALICE, known=True)
    assert directory.owner_of("tu-ownerless") == Ownership(None, known=True)
    assert directory.owner_of("tu-erased") == Ownership(None, known=True, erased=True)
    assert directory.owner_of("tu-unknown") == Ownership(None, known=False)
    assert directory.erased_at("bob") == 7_000
    assert directory.erased_at(ALICE) is None
