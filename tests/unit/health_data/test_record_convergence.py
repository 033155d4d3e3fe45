"""The write protocol of health_data/ports.py converges: generated copies of one record delivered in any order, with
redeliveries, attempts that stop after any step and are retried, and two workers interleaving, end with the index
naming the largest copy, that copy the only object left in the bucket, and reads returning it.

The protocol is run here step by step over in-memory ports with the adapters' semantics
(tests/support/memory_data_store.py), so that every interleaving of its steps can be generated.
"""

import json
from collections.abc import Iterator
from dataclasses import dataclass

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from terra_connect.health_data import layout
from terra_connect.health_data.keys import RecordIdentity
from terra_connect.health_data.models import Ownership, Record, StoredCopy
from terra_connect.health_data.ordering import Action, CopyOrder, DeliveryTime, canonical_json, content_digest, decide
from terra_connect.health_data.ports import CommitOutcome, OwnerDirectory, RawArchive, RecordIndex, RecordObjects
from tests.support.memory_data_store import MemoryObjects, MemoryOwners, MemoryRecordIndex

PARTITION = layout.owner_partition("alice")
IDENTITY = RecordIdentity("daily", "GARMIN", "d:2026-07-01")


@dataclass(frozen=True)
class Delivery:
    """One payload's copy of the record."""

    payload_id: str
    record: Record
    order: CopyOrder


def delivery(payload_id: str, steps: int, time: DeliveryTime) -> Delivery:
    content = canonical_json({"metadata": {"start_time": "2026-07-01T00:00:00+02:00"}, "steps": steps})
    digest = content_digest(content)
    record = Record(IDENTITY, "2026-07-01", "2026-07-01T00:00:00+02:00", None, content, digest)
    return Delivery(payload_id, record, CopyOrder.of(time, digest))


def attempt(index: RecordIndex, objects: RecordObjects, copy: Delivery, *, retry: bool) -> Iterator[None]:
    """One attempt of a payload at its record, yielding after every call to a port (where a worker may stop)."""
    identity = copy.record.identity
    key = layout.record_object_key(PARTITION, identity, copy.record.day, copy.order, copy.payload_id)
    outcome = CommitOutcome.SUPERSEDED
    while outcome is CommitOutcome.SUPERSEDED:  # another writer committed since the read: read and decide again
        current = index.current(PARTITION, [identity]).get(identity)
        yield
        replaces = current.order if current else None
        decision = decide(replaces, current.payload_id if current else None, copy.order, copy.payload_id)
        if decision.action is Action.RAISE_ORDER:
            raised = index.refresh_order(PARTITION, identity, copy.order)
            yield
            if not raised:  # another copy became current since the read: read and decide again
                continue
        if decision.action is not Action.WRITE:
            break
        location = objects.put(key, copy.record.content.encode())
        yield
        superseded = (current.location, *current.superseded) if current else ()
        new = StoredCopy(
            identity, copy.record.day, copy.order, copy.payload_id, location, 0, "tu-1", 0, superseded=superseded
        )
        outcome = index.commit(PARTITION, new, replaces=replaces, owner="alice", signed_ms=0)
        yield
        if outcome is CommitOutcome.COMMITTED:
            objects.delete_versions(superseded)
            yield
            index.forget_superseded(PARTITION, identity, superseded)
        else:
            objects.delete_versions([location])
        yield
    if retry:
        now = index.current(PARTITION, [identity]).get(identity)
        yield
        named = {now.location} if now else set()
        objects.delete_versions([version for version in objects.list_versions(key) if version not in named])
        yield
        if now is not None and now.superseded:
            objects.delete_versions(now.superseded)
            yield
            index.forget_superseded(PARTITION, identity, now.superseded)


deliveries = st.lists(
    st.tuples(st.integers(0, 3), st.integers(0, 2), st.integers(0, 2)),  # ordering, signed, content
    min_size=1,
    max_size=5,
).map(lambda drawn: [delivery(f"p{n}", steps, DeliveryTime(o, s)) for n, (o, s, steps) in enumerate(drawn)])


@settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(copies=deliveries, data=st.data())
def test_any_interleaving_with_crashes_ends_with_the_largest_copy_alone(
    copies: list[Delivery], data: st.DataObject
) -> None:
    index, objects = MemoryRecordIndex(), MemoryObjects()
    redelivered = data.draw(st.lists(st.sampled_from(copies), max_size=3), label="redelivered")
    queue: list[tuple[Delivery, bool]] = [(copy, False) for copy in data.draw(st.permutations(copies + redelivered))]
    running: list[tuple[Delivery, Iterator[None]]] = []
    crashes = 0
    while queue or running:
        busy = {copy.payload_id for copy, _ in running}  # a payload's attempts never overlap (idempotency lock)
        startable = [i for i, (copy, _) in enumerate(queue) if copy.payload_id not in busy]
        if startable and len(running) < 2 and (not running or data.draw(st.booleans(), label="start another")):
            copy, retry = queue.pop(startable[0])
            running.append((copy, attempt(index, objects, copy, retry=retry)))
            continue
        worker = data.draw(st.integers(0, len(running) - 1), label="worker") if len(running) > 1 else 0
        copy, steps = running[worker]
        if crashes < 4 and data.draw(st.integers(0, 9), label="crash") == 0:
            crashes += 1
            running.pop(worker)
            queue.append((copy, True))  # the message becomes visible again
        elif next(steps, StopIteration) is StopIteration:
            running.pop(worker)

    largest = max(copies, key=lambda copy: copy.order)
    stored = index.current(PARTITION, [IDENTITY])[IDENTITY]
    assert stored.order == largest.order
    assert stored.superseded == ()
    assert objects.all_versions() == {stored.location}  # nothing orphaned, nothing superseded left
    assert json.loads(objects.get(stored.location)) == json.loads(largest.record.content)
    page = index.query_days(PARTITION, layout.day_key_bounds("daily", "2026-07-01", "2026-07-01"), limit=10, after=None)
    assert page.copies == (stored,)


def test_the_memory_ports_are_the_protocols() -> None:
    objects: RecordObjects = MemoryObjects()
    archive: RawArchive = MemoryObjects()
    index: RecordIndex = MemoryRecordIndex()
    owners: OwnerDirectory = MemoryOwners({"tu-1": Ownership("alice", known=True)})

    assert archive.put("raw/x", b"{}", metadata={}).key == "raw/x"
    assert objects.list_versions("none") == []
    assert index.current(PARTITION, [IDENTITY]) == {}
    assert owners.owner_of("tu-1").owner == "alice"
    assert not owners.owner_of("tu-2").known
