"""The purge's rules with in-memory ports: what goes, in which order, how it goes on, and how it ends."""

import pytest

from terra_connect.data_erasure.models import ItemKey, MalformedPurgeRequest, PurgeCounts, PurgeRequest, StoredItem
from terra_connect.data_erasure.ports import ItemPage
from terra_connect.data_erasure.service import (
    SECOND_PASS_DELAY_SECONDS,
    SECONDS_PER_PAGE,
    PurgeOutcome,
    PurgeService,
)
from terra_connect.kernel.deadline import Deadline
from tests.unit.data_erasure.fakes import BucketPort, MemoryBucket, MemoryPurgeIndex, RecordedRequests

REQUEST = PurgeRequest("e" * 32, "alice", ("tu-1", "tu-2"), 1_700_000_000_000, "user")


def long_deadline() -> Deadline:
    return Deadline.after(900)


def stored(
    index: MemoryPurgeIndex, bucket: MemoryBucket, pk: str, sk: str, *keys: str, superseded: int = 0
) -> StoredItem:
    versions = [bucket.put(key) for key in keys]
    versions += [bucket.put(keys[0]) for _ in range(superseded)]
    item = StoredItem(ItemKey(pk, sk), tuple(versions))
    index.put(item)
    return item


def service(
    index: MemoryPurgeIndex, bucket: MemoryBucket, requests: RecordedRequests, page_size: int = 100
) -> PurgeService:
    return PurgeService(index, BucketPort(bucket), requests, clock=lambda: 1_700_000_900_000, page_size=page_size)


def test_both_passes_remove_every_item_and_version_of_the_user_and_nothing_of_anyone_else() -> None:
    index, bucket, requests = MemoryPurgeIndex(), MemoryBucket(), RecordedRequests()
    stored(index, bucket, "u#alice", "r#daily#GARMIN#2026-01-01", "records/a.json", superseded=2)
    stored(index, bucket, "u#alice", "p#payload#0000", "raw/dt=2026-01-01/a.json")
    stored(index, bucket, "t#tu-1", "p#other#0000", "raw/fetched/b.json")
    stored(index, bucket, "bf#tu-2", "plan")
    index.put(StoredItem(ItemKey("bf#tu-2", "plan"), linked=(ItemKey("bf-open", "000000000000001#tu-2"),)))
    index.put(StoredItem(ItemKey("bf-open", "000000000000001#tu-2")))
    kept = stored(index, bucket, "u#bob", "r#daily#GARMIN#2026-01-01", "records/b.json")
    kept_raw = bucket.put("raw/dt=2026-01-01/a.json.bob")  # a longer key that begins with one of alice's

    first = service(index, bucket, requests).purge(REQUEST, long_deadline())

    assert first.outcome is PurgeOutcome.SECOND_RUN_QUEUED
    second, delay = requests.take()
    assert (second.run, delay) == (2, SECOND_PASS_DELAY_SECONDS)
    end = service(index, bucket, requests).purge(second, long_deadline())

    assert end.outcome is PurgeOutcome.ERASED
    assert set(index.items) == {kept.key}
    assert bucket.versions == {*kept.objects, kept_raw}
    assert end.counts == PurgeCounts(records=1, objects=5, items=4)
    detail = index.ended[REQUEST.erasure_id].to_detail()
    assert detail["records_deleted"] == 1
    assert detail["objects_deleted"] == 5
    assert (detail["reference_id"], detail["erasure_id"], detail["requested_by"]) == ("alice", "e" * 32, "user")
    assert not requests.sent


def test_objects_go_before_the_items_that_name_them() -> None:
    index, bucket, requests = MemoryPurgeIndex(), MemoryBucket(), RecordedRequests()
    stored(index, bucket, "u#alice", "r#daily#GARMIN#k", "records/a.json")
    order: list[str] = []
    bucket.log, index.log = order, order

    service(index, bucket, requests).purge(REQUEST, long_deadline())

    assert order[:2] == ["objects", "items"]


def test_a_purge_short_of_time_goes_on_in_a_new_message_from_the_partition_it_reached() -> None:
    index, bucket, requests = MemoryPurgeIndex(), MemoryBucket(), RecordedRequests()
    for n in range(5):
        stored(index, bucket, "u#alice", f"r#daily#GARMIN#{n}", f"records/{n}.json")
    stored(index, bucket, "t#tu-1", "r#daily#GARMIN#0", "records/t.json")
    now = [0.0]
    deadline = Deadline(3 * SECONDS_PER_PAGE - 1, clock=lambda: now[0])

    def page_costs_a_page_of_time() -> float:
        now[0] += SECONDS_PER_PAGE
        return now[0]

    slow = service(index, bucket, requests, page_size=2)
    original = index.page

    def timed_page(partition: str, limit: int, after: ItemKey | None = None) -> ItemPage:
        page_costs_a_page_of_time()
        return original(partition, limit, after)

    index.page = timed_page  # type: ignore[method-assign]

    result = slow.purge(REQUEST, deadline)

    assert result.outcome is PurgeOutcome.CONTINUED
    continued, delay = requests.take()
    assert (continued.run, continued.partition, delay) == (1, 0, 0)
    assert continued.counts == result.counts == PurgeCounts(records=4, objects=4, items=4)  # two pages
    index.page = original  # type: ignore[method-assign]
    assert slow.purge(continued, long_deadline()).counts == PurgeCounts(records=6, objects=6, items=6)
    assert not index.items


def test_a_redelivered_second_pass_ends_nothing_twice() -> None:
    index, bucket, requests = MemoryPurgeIndex(), MemoryBucket(), RecordedRequests()
    second = REQUEST.second_pass(PurgeCounts())

    assert service(index, bucket, requests).purge(second, long_deadline()).outcome is PurgeOutcome.ERASED
    assert service(index, bucket, requests).purge(second, long_deadline()).outcome is PurgeOutcome.ALREADY_ERASED
    assert len(index.ended) == 1


def test_a_request_survives_its_message_and_every_partition_of_the_erasure_is_purged() -> None:
    request = REQUEST.at(2, PurgeCounts(1, 2, 3)).second_pass(PurgeCounts(4, 5, 6))

    assert PurgeRequest.from_message(request.to_message()) == request
    assert REQUEST.partitions() == ("u#alice", "t#tu-1", "t#tu-2", "bf#tu-1", "bf#tu-2")


@pytest.mark.parametrize(
    "message",
    [
        "",
        "[]",
        '{"v": 2}',
        REQUEST.to_message().replace('"pass":1', '"pass":3'),
        REQUEST.to_message().replace('"requested_by":"user"', '"requested_by":"someone"'),
        REQUEST.to_message().replace('"partition":0', '"partition":-1'),
        REQUEST.to_message().replace('"reference_id":"alice"', '"reference_id":""'),
        REQUEST.to_message().replace('["tu-1","tu-2"]', '"tu-1"'),
        REQUEST.to_message().replace('"records":0', '"records":true'),
    ],
)
def test_a_message_this_service_did_not_write_is_refused(message: str) -> None:
    with pytest.raises(MalformedPurgeRequest):
        PurgeRequest.from_message(message)


def test_the_docs_say_a_purge_redriven_after_its_end_is_forgotten_publishes_again() -> None:
    """The end is remembered DONE_KEPT_SECONDS (a day): subscribers are told to deduplicate on the erasure id."""
    from pathlib import Path  # noqa: PLC0415

    from terra_connect.data_erasure.dynamodb import DONE_KEPT_SECONDS  # noqa: PLC0415

    docs = Path(__file__).resolve().parents[3] / "docs"
    events = " ".join((docs / "events.md").read_text().split())
    operations = " ".join((docs / "operations.md").read_text().split())

    assert DONE_KEPT_SECONDS == 86_400
    assert "publishes this event again, with the same `erasure_id` and `id`" in events
    assert "once per purge" in events
    assert "more than a day after the purge ended" in operations


def test_data_signed_after_the_erasure_started_by_a_new_connection_is_kept_and_everything_before_goes() -> None:
    index, bucket, requests = MemoryPurgeIndex(), MemoryBucket(), RecordedRequests()
    after, before = REQUEST.started_at + 1, REQUEST.started_at
    old_copy = bucket.put("records/old.json")
    late = [
        StoredItem(
            ItemKey("u#alice", f"r#daily#GARMIN#{n}"),
            (bucket.put(f"records/{n}.json"),),
            signed_ms=after,
            received_ms=after,
        )
        for n in range(3)  # more than a page: the purge reads on past what it keeps
    ]
    late[0] = StoredItem(
        late[0].key, (*late[0].objects, old_copy), superseded=(old_copy,), signed_ms=after, received_ms=after
    )
    late_part = StoredItem(
        ItemKey("u#alice", "p#late#0000"), (bucket.put("raw/late.json"),), signed_ms=after, terra_user_id="tu-9"
    )
    gone = [
        StoredItem(ItemKey("u#alice", "p#old#0000"), (bucket.put("raw/old.json"),), signed_ms=before),
        StoredItem(ItemKey("u#alice", "p#unsaid#0000"), (bucket.put("raw/unsaid.json"),)),  # no signed time: older
        # The erased connection's, signed before its tombstone landed
        StoredItem(ItemKey("u#alice", "r#daily#GARMIN#x"), (bucket.put("records/x.json"),), (), (), after, "tu-1"),
        StoredItem(ItemKey("t#tu-1", "r#daily#GARMIN#y"), (bucket.put("records/y.json"),), signed_ms=after),
        # A copy received before the start whose order a later delivery of the same content raised: its signed time
        # moved, the object it names did not
        StoredItem(
            ItemKey("u#alice", "r#daily#GARMIN#z"),
            (bucket.put("records/z.json"),),
            signed_ms=after,
            terra_user_id="tu-9",
            received_ms=before,
        ),
        StoredItem(ItemKey("u#alice", "r#daily#GARMIN#w"), (bucket.put("records/w.json"),), signed_ms=after),
    ]
    for item in (*late, late_part, *gone):
        index.put(item)
    purge = service(index, bucket, requests, page_size=2)

    purge.purge(REQUEST, long_deadline())
    second, _ = requests.take()
    purge.purge(second, long_deadline())

    assert set(index.items) == {item.key for item in (*late, late_part)}
    assert bucket.versions == {late[0].objects[0], *(v for item in (*late[1:], late_part) for v in item.objects)}
    assert index.ended[REQUEST.erasure_id].counts.items == len(gone)
