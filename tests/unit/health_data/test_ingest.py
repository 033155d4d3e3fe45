"""Processing one archived delivery: records kept under their owner and announced once, the newer copy of a day
winning in any order, a redelivery changing nothing, control events handed to the backfill, `s3_payload` bodies
fetched and kept as if delivered, erased owners' data refused and its raw body deleted."""

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pytest

from terra_connect.health_data import layout
from terra_connect.health_data.claim_check import Pointer, Source, claim
from terra_connect.health_data.errors import (
    ArchivedBodyGone,
    DataStoreUnavailable,
    PayloadUnavailable,
    PayloadUrlExpired,
)
from terra_connect.health_data.ingest import IngestService, Outcome
from terra_connect.health_data.models import (
    LargeRequestProcessing,
    LargeRequestSending,
    ObjectVersion,
    Ownership,
)
from terra_connect.health_data.ordering import DeliveryTime
from terra_connect.health_data.ports import CommitOutcome
from tests.support.memory_data_store import MemoryObjects, MemoryOwners, MemoryRecordIndex

BUCKET = "terra-connect-data"
T0 = 1_780_000_000_000
ALICE = layout.owner_partition("alice")
PAYLOAD_URL = "https://terra-payloads.s3.amazonaws.com/x?X-Amz-Signature=1"


@dataclass
class Backfill:
    """The backfill's accounting as the ingest sees it: what it was told, and whether a reference is open."""

    open_references: set[str] = field(default_factory=set)
    announced: list[tuple[str, LargeRequestProcessing | LargeRequestSending]] = field(default_factory=list)
    delivered: list[tuple[str, str, str | None]] = field(default_factory=list)

    def announce(self, terra_user_id: str, announcement: LargeRequestProcessing | LargeRequestSending) -> None:
        self.announced.append((terra_user_id, announcement))

    def deliver(self, terra_user_id: str, terra_reference: str, *, trace_id: str | None, body_digest: str) -> bool:
        self.delivered.append((terra_user_id, terra_reference, trace_id))
        return terra_reference in self.open_references


class BackfillPort:
    def __init__(self, backfill: Backfill) -> None:
        self.announced = backfill.announce
        self.delivered = backfill.deliver


@dataclass
class Fetcher:
    archive: MemoryObjects
    body: bytes | Exception = b""
    calls: list[tuple[str, str, int]] = field(default_factory=list)

    def fetch_to(self, url: str, key: str, *, deadline_ms: int, metadata: Mapping[str, str]) -> ObjectVersion:
        self.calls.append((url, key, deadline_ms))
        if isinstance(self.body, Exception):
            raise self.body
        return self.archive.put(key, self.body)


class World:
    def __init__(self, registry: Mapping[str, Ownership] | None = None) -> None:
        self.archive, self.objects, self.index = MemoryObjects(), MemoryObjects(), MemoryRecordIndex()
        self.owners = MemoryOwners(registry if registry is not None else {"tu-1": Ownership("alice", known=True)})
        self.backfill = Backfill()
        self.fetcher = Fetcher(self.archive)
        self.service = IngestService(
            self.archive,
            self.objects,
            self.index,
            self.owners,
            fetcher=self.fetcher,
            backfill=BackfillPort(self.backfill),
            clock=lambda: T0 + 5_000,
        )

    def deliver(
        self,
        document: Any,
        *,
        trace: str = "trace-1",
        at: int = T0,
        reference: str | None = None,
        source: Source = Source.WEBHOOK,
    ) -> Pointer:
        body = json.dumps(document).encode()
        claimed = claim(
            body, trace_id=trace, time=DeliveryTime(at, at), received_ms=at, terra_reference=reference, source=source
        )
        return claimed.pointer(BUCKET, self.archive.put(claimed.key, body))


def daily(steps: int, *, day: str = "2026-07-01", provider: str = "GARMIN", **user: Any) -> dict[str, Any]:
    return {
        "type": "daily",
        "version": "2022-03-16",
        "user": {"user_id": "tu-1", "provider": provider, "reference_id": "alice", **user},
        "data": [
            {
                "metadata": {"start_time": f"{day}T00:00:00+02:00", "end_time": f"{day}T23:59:59+02:00"},
                "distance_data": {"steps": steps},
            }
        ],
    }


def stored_steps(world: World, partition: str = ALICE) -> dict[str, int]:
    steps = {}
    for identity, copy in world.index.copies.get(partition, {}).items():
        line = json.loads(world.objects.get(copy.location))
        steps[identity.record_key] = json.loads(line["record"])["distance_data"]["steps"]
    return steps


def test_a_daily_payload_is_kept_under_its_owner_and_announced_once() -> None:
    world = World()
    pointer = world.deliver(daily(1200))

    result = world.service.ingest(pointer)

    assert result.to_dict() == {
        "payload_id": pointer.payload_id,
        "changed": True,
        "outcome": "stored",
        "type": "daily",
        "records": 1,
        "records_changed": 1,
        "unattributed": False,
    }
    assert stored_steps(world) == {"d:2026-07-01": 1200}
    [part] = world.index.payload_parts(ALICE, pointer.payload_id)
    assert part.sort_keys == ("r#daily#GARMIN#d:2026-07-01",)
    assert part.raw == pointer.raw
    assert part.announcement is not None
    detail = part.announcement.to_detail()
    assert (detail["reference_id"], detail["terra_user_id"], detail["provider"], detail["type"]) == (
        "alice", "tu-1", "GARMIN", "daily",
    )  # fmt: skip
    assert (detail["start_date"], detail["end_date"], detail["bucket"], detail["key"]) == (
        "2026-07-01", "2026-07-01", BUCKET, pointer.raw.key,
    )  # fmt: skip
    assert "distance_data" not in json.dumps(detail)


def test_the_stored_object_is_one_line_athena_reads() -> None:
    world = World()
    pointer = world.deliver(daily(1200))
    world.service.ingest(pointer)

    [copy] = world.index.copies[ALICE].values()
    text = world.objects.get(copy.location).decode()
    line = json.loads(text)
    assert text.endswith("\n")
    assert text.count("\n") == 1
    assert copy.size == len(text)
    assert line["reference_id"] == "alice"
    assert line["provider"] == "GARMIN"
    assert line["payload_id"] == pointer.payload_id
    assert copy.location.key.startswith("records/type=daily/day=2026-07-01/")


def test_a_redelivery_changes_nothing_and_announces_nothing() -> None:
    world = World()
    pointer = world.deliver(daily(1200))
    world.service.ingest(pointer)
    objects = world.objects.all_versions()

    again = world.service.ingest(pointer, retry=True)

    assert again.outcome is Outcome.UNCHANGED
    assert not again.changed
    assert world.objects.all_versions() == objects
    assert len(world.index.payload_parts(ALICE, pointer.payload_id)) == 1


@pytest.mark.parametrize("newer_first", [False, True])
def test_the_newer_copy_of_a_day_wins_in_either_order(newer_first: bool) -> None:
    world = World()
    older = world.deliver(daily(1200), trace="trace-1", at=T0)
    newer = world.deliver(daily(5400), trace="trace-2", at=T0 + 60_000)

    outcomes = [world.service.ingest(p).outcome for p in ((newer, older) if newer_first else (older, newer))]

    assert stored_steps(world) == {"d:2026-07-01": 5400}
    assert len(world.objects.all_versions()) == 1  # the older copy's object is gone
    assert outcomes == ([Outcome.STORED, Outcome.UNCHANGED] if newer_first else [Outcome.STORED, Outcome.STORED])


def test_a_type_added_later_is_kept_and_announced() -> None:
    world = World()
    pointer = world.deliver(
        {"type": "blood_pressure", "user": {"user_id": "tu-1", "provider": "OMRON"},
         "data": [{"metadata": {"summary_id": "bp-1", "start_time": "2026-07-01T08:00:00Z"}, "systolic": 120}]}
    )  # fmt: skip

    result = world.service.ingest(pointer)

    assert result.outcome is Outcome.STORED
    [part] = world.index.payload_parts(ALICE, pointer.payload_id)
    assert part.announcement is not None
    assert part.announcement.data_type == "blood_pressure"


@pytest.mark.parametrize(
    ("document", "outcome"),
    [("not json", Outcome.UNREADABLE), ({"type": "healthcheck"}, Outcome.NOTICE), ([1, 2], Outcome.UNREADABLE)],
)
def test_a_body_without_data_keeps_nothing_but_its_raw_copy(document: Any, outcome: Outcome) -> None:
    world = World()
    pointer = world.deliver(document)

    assert world.service.ingest(pointer).outcome is outcome
    assert world.objects.all_versions() == set()
    assert world.archive.get(pointer.raw)


def test_a_large_requests_announcements_go_to_the_backfill() -> None:
    world = World()
    user = {"user_id": "tu-1", "provider": "GARMIN", "reference_id": "alice"}
    processing = world.deliver({"type": "large_request_processing", "user": user, "reference": "ref-1", "message": ""})
    sending = world.deliver(
        {"type": "large_request_sending", "user": user, "reference": "ref-1", "message": "", "expected_payloads": 3},
        trace="trace-2",
    )

    assert world.service.ingest(processing).outcome is Outcome.CONTROL
    assert world.service.ingest(sending).outcome is Outcome.CONTROL
    assert [(uid, type(a).__name__) for uid, a in world.backfill.announced] == [
        ("tu-1", "LargeRequestProcessing"),
        ("tu-1", "LargeRequestSending"),
    ]
    assert isinstance(world.backfill.announced[1][1], LargeRequestSending)
    assert world.backfill.announced[1][1].expected_payloads == 3


def test_data_under_a_backfills_reference_is_counted_and_announced_as_backfill() -> None:
    world = World()
    world.backfill.open_references.add("ref-1:chunk:2")

    for steps, trace, reference in ((1, "t-1", "ref-1:chunk:2"), (2, "t-2", None)):
        pointer = world.deliver(daily(steps, day=f"2026-06-0{steps}"), trace=trace, reference=reference)
        world.service.ingest(pointer)
        [part] = world.index.payload_parts(ALICE, pointer.payload_id)
        assert part.announcement is not None
        assert part.announcement.backfill is (reference is not None)
        assert part.announcement.terra_reference == reference
    assert world.backfill.delivered == [("tu-1", "ref-1:chunk:2", "t-1")]


def test_data_without_a_known_owner_waits_then_stays_with_its_terra_user() -> None:
    world = World(registry={})
    pointer = world.deliver(daily(1200, provider="APPLE"))

    waiting = world.service.ingest(pointer, may_wait=True)
    assert (waiting.outcome, waiting.unattributed) == (Outcome.WAITING, False)
    assert world.index.copies == {}
    kept = world.service.ingest(pointer, retry=True, may_wait=False)
    assert (kept.outcome, kept.to_dict()["unattributed"]) == (Outcome.STORED, True)
    assert stored_steps(world, layout.unattributed_partition("tu-1")) == {"d:2026-07-01": 1200}


def test_data_of_an_erased_owner_is_refused_and_its_raw_body_deleted() -> None:
    world = World(registry={"tu-1": Ownership(None, known=True, erased=True)})
    pointer = world.deliver(daily(1200))

    assert world.service.ingest(pointer).outcome is Outcome.REFUSED
    assert world.archive.all_versions() == set()
    assert world.index.copies == {}


def test_an_archived_body_gone_before_processing_is_final() -> None:
    world = World()
    pointer = world.deliver(daily(1))

    def gone(location: ObjectVersion) -> bytes:
        raise ArchivedBodyGone(location.key)

    world.archive.get = gone  # type: ignore[method-assign]
    assert world.service.ingest(pointer).outcome is Outcome.GONE


def ping(expires_in: int = 300) -> dict[str, Any]:
    return {"type": "s3_payload", "status": "success", "url": PAYLOAD_URL, "expires_in": expires_in}


def test_an_s3_payload_is_fetched_and_kept_as_if_delivered() -> None:
    world = World()
    world.fetcher.body = json.dumps(daily(777)).encode()
    pointer = world.deliver(ping(600), reference="ref-9")

    result = world.service.ingest(pointer)

    assert result.outcome is Outcome.STORED
    assert result.payload_id == pointer.payload_id
    assert world.fetcher.calls == [(PAYLOAD_URL, f"raw/fetched/{pointer.delivery_key[:40]}.json", T0 + 600_000)]
    assert stored_steps(world) == {"d:2026-07-01": 777}
    [part] = world.index.payload_parts(ALICE, pointer.payload_id)
    assert part.raw.key.startswith("raw/fetched/")
    assert part.announcement is not None
    assert part.announcement.terra_reference == "ref-9"


def test_an_s3_payload_whose_url_expired_is_final_and_a_failing_host_is_retried() -> None:
    world = World()
    world.fetcher.body = PayloadUrlExpired("expired")
    assert world.service.ingest(world.deliver(ping())).outcome is Outcome.URL_EXPIRED

    world.fetcher.body = PayloadUnavailable("503")
    with pytest.raises(PayloadUnavailable):
        world.service.ingest(world.deliver(ping(), trace="trace-2"))
    assert world.index.copies == {}


def test_a_fetched_body_that_points_elsewhere_again_is_not_followed() -> None:
    world = World()
    world.fetcher.body = json.dumps(ping()).encode()

    assert world.service.ingest(world.deliver(ping())).outcome is Outcome.UNREADABLE
    assert len(world.fetcher.calls) == 1


def test_a_refused_s3_payload_deletes_both_the_pointer_and_the_fetched_body() -> None:
    world = World(registry={"tu-1": Ownership(None, known=True, erased=True)})
    world.fetcher.body = json.dumps(daily(777)).encode()

    assert world.service.ingest(world.deliver(ping())).outcome is Outcome.REFUSED
    assert world.archive.all_versions() == set()


def test_data_from_terras_queue_never_goes_to_the_reference_id_it_names() -> None:
    # Any Terra customer can have Terra's role send to a queue whose URL they learnt, naming any reference_id.
    world = World(registry={})
    world.fetcher.body = json.dumps(daily(666, reference_id="victim")).encode()
    pointer = world.deliver(ping(), source=Source.TERRA_QUEUE)

    assert world.service.ingest(pointer, may_wait=True).outcome is Outcome.WAITING
    kept = world.service.ingest(pointer, retry=True, may_wait=False)

    assert (kept.outcome, kept.unattributed) == (Outcome.STORED, True)
    assert set(world.index.copies) == {layout.unattributed_partition("tu-1")}
    assert stored_steps(world, layout.owner_partition("victim")) == {}


def crash_at_first_commit(world: World) -> None:
    """The first commit never happens (the process died after its S3 put)."""

    def crash(*args: Any, **kwargs: Any) -> CommitOutcome:
        raise DataStoreUnavailable(log_context={"reason": "crash"})

    world.index.commit = crash  # type: ignore[method-assign]


@pytest.mark.parametrize(
    ("erasure", "source"),
    [
        ("in-the-commit", Source.WEBHOOK),
        ("owner-erased", Source.WEBHOOK),
        ("terra-user-tombstone", Source.WEBHOOK),
        # Its reference_id never chooses the owner, but the crashed attempt wrote under the registry's owner
        ("terra-user-tombstone", Source.TERRA_QUEUE),
    ],
)
def test_a_retry_refused_after_a_crash_leaves_no_record_object_behind(erasure: str, source: Source) -> None:
    world = World()
    commit = world.index.commit
    if source is Source.TERRA_QUEUE:
        world.fetcher.body = json.dumps(daily(1200)).encode()
        pointer = world.deliver(ping(), source=source)
    else:
        pointer = world.deliver(daily(1200))
    crash_at_first_commit(world)
    with pytest.raises(DataStoreUnavailable):
        world.service.ingest(pointer)
    assert len(world.objects.all_versions()) == 1  # the crashed attempt's copy, named by nothing

    if erasure == "in-the-commit":
        world.index.commit = lambda *args, **kwargs: CommitOutcome.REFUSED  # type: ignore[method-assign]
    else:
        world.index.commit = commit  # type: ignore[method-assign]
    if erasure == "owner-erased":
        world.owners.erased_at = lambda reference_id: T0 + 1  # type: ignore[method-assign]
    if erasure == "terra-user-tombstone":
        world.owners.owner_of = lambda terra_user_id: Ownership(None, known=True, erased=True)  # type: ignore[method-assign]

    assert world.service.ingest(pointer, retry=True).outcome is Outcome.REFUSED
    assert world.objects.all_versions() == set()
    if source is Source.WEBHOOK:  # (the fake fetcher archives each fetch anew, where S3 finds the first one)
        assert world.archive.all_versions() == set()
