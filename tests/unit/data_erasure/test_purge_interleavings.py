"""Generated interleavings of ingest writes (record copies, payload parts, data kept under a Terra user, backfill
state) with an erasure's start and its purge's first pass: after the second pass nothing the erased user signed before
the start is left, and nothing of anyone else is touched - nor what the user signed after it (connected again, as a
new Terra user), but for the copies it replaced.

A write follows the ingest protocol (health_data/record_writer.py, dynamodb_index.py): its object first, then its item
in a write conditional on the owner's erasure marker (and on the Terra user being no tombstone); a write that loses
that check deletes its own object version. Backfill state is only ever created for a live connection and updated
conditionally on the version it read, so once deleted it cannot come back. The second pass runs after every write
under way has ended (it is queued 15 minutes later; a write lives at most minutes)."""

from dataclasses import dataclass

from hypothesis import given, settings
from hypothesis import strategies as st

from terra_connect.data_erasure.models import ItemKey, PurgeRequest, StoredItem
from terra_connect.data_erasure.service import PurgeService
from terra_connect.health_data.models import ObjectVersion
from terra_connect.kernel.deadline import Deadline
from tests.unit.data_erasure.fakes import BucketPort, MemoryBucket, MemoryPurgeIndex, RecordedRequests

TERRA_USERS = {"alice": "tu-a", "bob": "tu-b"}
KINDS = ("record", "part", "unattributed", "backfill_create", "backfill_update")
REQUEST = PurgeRequest("e" * 32, "alice", ("tu-a",), 1_000, "user")
RECONNECTED = "tu-a2"  # alice's Terra user after the start
LATE_KINDS = ("record", "part")  # what a reconnected user's data makes in their partition


@dataclass(frozen=True)
class Write:
    number: int
    owner: str
    kind: str
    late: bool = False  # signed after the erasure started (by alice connected again)

    @property
    def signed_ms(self) -> int:
        return REQUEST.started_at + 1 if self.late else REQUEST.started_at

    @property
    def terra_user_id(self) -> str:
        return RECONNECTED if self.late else TERRA_USERS[self.owner]

    @property
    def key(self) -> ItemKey:
        terra_user_id = TERRA_USERS[self.owner]
        if self.kind == "record":
            return ItemKey(f"u#{self.owner}", f"r#daily#GARMIN#{self.number % 3}")
        if self.kind == "part":
            return ItemKey(f"u#{self.owner}", f"p#{self.number}#0000")
        if self.kind == "unattributed":
            return ItemKey(f"t#{terra_user_id}", f"r#daily#GARMIN#{self.number % 3}")
        return ItemKey(f"bf#{terra_user_id}", "plan")

    @property
    def object_key(self) -> str | None:
        if self.kind.startswith("backfill"):
            return None
        prefix = "raw/dt=2026-01-01" if self.kind == "part" else "records/type=daily/day=2026-01-01"
        return f"{prefix}/{self.owner}.{self.number}.json"


class World:
    def __init__(self) -> None:
        self.index, self.bucket, self.requests = MemoryPurgeIndex(), MemoryBucket(), RecordedRequests()
        self.erased = False  # the erasure marker (and the Terra users' tombstones)
        self.written: dict[Write, ObjectVersion | None] = {}
        self.kept: set[ItemKey] = set()

    def put_object(self, write: Write) -> None:
        self.written[write] = self.bucket.put(write.object_key) if write.object_key else None

    def commit(self, write: Write) -> None:
        version = self.written[write]
        refused = write.owner == "alice" and self.erased and not write.late
        if write.kind == "backfill_create":
            refused = refused or write.key in self.index.items
        if write.kind == "backfill_update":
            refused = write.key not in self.index.items
        if refused:
            if version is not None:
                self.bucket.delete([version])  # the loser deletes its own version
            return
        previous = self.index.items.get(write.key)
        named = (*(previous.objects if previous else ()), *((version,) if version else ()))
        linked = (
            (ItemKey("bf-open", f"{write.number:015d}#{TERRA_USERS[write.owner]}"),)
            if write.kind == "backfill_create"
            else ()
        )
        # A copy is received as it is signed here (a later delivery raising its order is the unit tests').
        signed = {} if write.kind.startswith("backfill") else {"signed_ms": write.signed_ms}
        if write.kind == "record":
            signed["received_ms"] = write.signed_ms
        self.index.put(
            StoredItem(
                write.key,
                named,
                linked or (previous.linked if previous else ()),
                superseded=previous.objects if previous and write.kind != "part" else (),
                terra_user_id=write.terra_user_id,
                **signed,
            )
        )
        for key in linked:
            self.index.put(StoredItem(key))
        if write.late:
            self.kept.add(write.key)
        if write.owner == "bob":
            self.kept.add(write.key)
            self.kept |= set(linked)

    def purge(self, request: PurgeRequest) -> None:
        service = PurgeService(self.index, BucketPort(self.bucket), self.requests, clock=lambda: 0, page_size=2)
        service.purge(request, Deadline.after(900))


writes = st.lists(
    st.tuples(st.sampled_from(sorted(TERRA_USERS)), st.sampled_from(KINDS), st.booleans()), min_size=1, max_size=8
).map(
    lambda found: [
        Write(n, owner, kind, late and owner == "alice" and kind in LATE_KINDS)
        for n, (owner, kind, late) in enumerate(found)
    ]
)


def after_the_start(order: list[tuple[str, int]], planned: list[Write]) -> list[tuple[str, int]]:
    """The order, with the steps of writes signed after the start that came before it moved to just after it."""
    start = order.index(("erasure", 0))
    late = [token for token in order[:start] if token[0] == "write" and planned[token[1]].late]
    return [token for token in order[:start] if token not in late] + [order[start], *late, *order[start + 1 :]]


@settings(max_examples=60, deadline=None)
@given(planned=writes, data=st.data())
def test_nothing_of_the_erased_user_is_left_after_the_second_pass(planned: list[Write], data: st.DataObject) -> None:
    world = World()
    # Each write's two steps, the erasure's start and the first pass, in any order keeping each one's own order.
    tokens = [("write", n) for n in range(len(planned)) for _ in range(2)] + [("erasure", 0), ("erasure", 0)]
    seen: set[tuple[str, int]] = set()
    for token in after_the_start(data.draw(st.permutations(tokens)), planned):
        first = token not in seen
        seen.add(token)
        kind, n = token
        if kind == "erasure" and first:
            world.erased = True
        elif kind == "erasure":
            world.purge(REQUEST)
        elif first:
            world.put_object(planned[n])
        else:
            world.commit(planned[n])

    second, delay = world.requests.take()
    assert (second.run, delay) == (2, 900)
    world.purge(second)

    assert world.index.ended[REQUEST.erasure_id].reference_id == "alice"
    partitions = set(REQUEST.partitions())
    late_keys = {write.key for write in planned if write.late}
    assert not [key for key in world.index.items if key.pk in partitions and key not in late_keys]
    signed_before = {version for write, version in world.written.items() if write.owner == "alice" and not write.late}
    assert not signed_before & world.bucket.versions
    assert set(world.index.items) == world.kept
    for key in world.kept:
        item = world.index.items[key]
        current = set(item.objects) - set(item.superseded)
        assert current <= world.bucket.versions  # bob's data, and alice's signed after the start, are whole
        assert not set(item.superseded) & signed_before


def test_the_generated_interleavings_include_writes_that_land_before_the_purge() -> None:
    world = World()
    write = Write(0, "alice", "record")
    world.put_object(write)
    world.commit(write)
    world.erased = True
    world.purge(REQUEST)
    second, _ = world.requests.take()
    world.purge(second)

    assert not world.index.items
    assert not world.bucket.versions
    assert world.index.ended[REQUEST.erasure_id].to_detail()["records_deleted"] == 1
