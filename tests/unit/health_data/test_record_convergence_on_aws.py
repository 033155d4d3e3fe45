"""The write protocol converges on the real adapters too: generated copies of one day's record, delivered in any
order with redeliveries, processed by the ingest service over S3 and DynamoDB (emulated), with workers that die
before or after any call to AWS and are retried, and other deliveries processed in between any two calls - end with
the index naming the largest copy, that copy the only object left under the owner's keys, reads returning it, and
its payload announced.

(tests/unit/health_data/test_record_convergence.py generates every interleaving of the protocol's steps over
in-memory ports; this one runs the production code, whole, against the AWS semantics the adapters rely on:
conditional transactions, version ids, delete by version.)
"""

import hashlib
import json
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from itertools import count
from typing import Any

import boto3
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from local.aws import create_connections_table
from moto import mock_aws

from terra_connect.health_data import layout
from terra_connect.health_data.claim_check import Pointer, claim
from terra_connect.health_data.dynamodb_index import DynamoDBRecordIndex
from terra_connect.health_data.dynamodb_owners import DynamoDBOwnerDirectory
from terra_connect.health_data.ingest import IngestService
from terra_connect.health_data.keys import RecordIdentity
from terra_connect.health_data.models import LargeRequestProcessing, LargeRequestSending, ObjectVersion
from terra_connect.health_data.ordering import DeliveryTime
from terra_connect.health_data.s3_store import S3RawArchive, S3RecordObjects
from tests.unit.health_data.conftest import DATA_BUCKET, DATA_TABLE, KMS_KEY, create_data_bucket, create_data_table

CONNECTIONS = "terra-connect-connections"
DAY = "2026-07-01"
IDENTITY = RecordIdentity("daily", "GARMIN", f"d:{DAY}")
RECEIVED = 1_780_000_000_000
owners = count()


class Crash(Exception):
    """The worker died (the Lambda timed out, the runtime was recycled): the message is received again later."""


class NoFetch:
    def fetch_to(self, url: str, key: str, *, deadline_ms: int, metadata: Mapping[str, str]) -> ObjectVersion:
        raise AssertionError("no s3_payload here")


class NoBackfill:
    def announced(self, terra_user_id: str, announcement: LargeRequestProcessing | LargeRequestSending) -> None:
        raise AssertionError("no control event here")

    def delivered(self, terra_user_id: str, terra_reference: str, *, trace_id: str | None, body_digest: str) -> bool:
        return False


@dataclass(frozen=True)
class Store:
    archive: S3RawArchive
    objects: S3RecordObjects
    index: DynamoDBRecordIndex
    directory: DynamoDBOwnerDirectory

    def service(self, around: Callable[[Any], Any] = lambda port: port) -> IngestService:
        return IngestService(
            around(self.archive),
            around(self.objects),
            around(self.index),
            self.directory,
            fetcher=NoFetch(),
            backfill=NoBackfill(),
        )


@pytest.fixture(scope="module")
def store() -> Iterator[Store]:
    with mock_aws():
        create_data_bucket(DATA_BUCKET)
        create_data_table(DATA_TABLE)
        create_connections_table(None, CONNECTIONS)
        yield Store(
            S3RawArchive(DATA_BUCKET, kms_key_id=KMS_KEY),
            S3RecordObjects(DATA_BUCKET, kms_key_id=KMS_KEY),
            DynamoDBRecordIndex(DATA_TABLE, CONNECTIONS),
            DynamoDBOwnerDirectory(CONNECTIONS),
        )


class Worker:
    """Ports that, before or after any call, may die or let another delivery be processed to its end first."""

    def __init__(self, data: st.DataObject, interleave: Callable[[], None]) -> None:
        self._data = data
        self._interleave = interleave
        self.crashes = 0

    def around(self, port: Any) -> Any:
        worker = self

        class Flaky:
            def __getattr__(self, name: str) -> Any:
                call = getattr(port, name)

                def flaky(*args: Any, **kwargs: Any) -> Any:
                    worker.step("before")
                    result = call(*args, **kwargs)
                    worker.step("after")
                    return result

                return flaky

        return Flaky()

    def step(self, when: str) -> None:
        choice = self._data.draw(st.integers(0, 9), label=f"{when} a call")
        if choice == 0 and self.crashes < 4:
            self.crashes += 1
            raise Crash
        if choice == 1 and when == "before":
            self._interleave()


def deliver(store: Store, owner: str, number: int, ordering: int, signed: int, steps: int) -> Pointer:
    document = {
        "type": "daily",
        "user": {"user_id": f"tu-{owner}", "provider": "GARMIN", "reference_id": owner},
        "data": [{"metadata": {"start_time": f"{DAY}T00:00:00+02:00"}, "distance_data": {"steps": steps}}],
    }
    body = json.dumps(document).encode()
    time = DeliveryTime(RECEIVED + ordering, RECEIVED + signed)
    claimed = claim(body, trace_id=f"trace-{number}", time=time, received_ms=RECEIVED)
    return claimed.pointer(DATA_BUCKET, store.archive.put(claimed.key, body, metadata=claimed.metadata))


copies = st.lists(
    st.tuples(st.integers(0, 3), st.integers(0, 2), st.integers(0, 2)),  # ordering, signed, content
    min_size=1,
    max_size=4,
)


# The in-memory test explores 1,000 histories; these prove the DynamoDB and S3 layout keeps the same promise.
@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(drawn=copies, data=st.data())
def test_any_history_of_deliveries_and_crashes_ends_with_the_largest_copy_alone(
    store: Store, drawn: list[tuple[int, int, int]], data: st.DataObject
) -> None:
    owner = f"owner-{next(owners)}"  # each example has its own partition and keys in the shared emulated account
    partition = layout.owner_partition(owner)
    pointers = [deliver(store, owner, n, o, s, steps) for n, (o, s, steps) in enumerate(drawn)]
    redelivered = data.draw(st.lists(st.sampled_from(pointers), max_size=2), label="redelivered")
    queue: list[tuple[Pointer, bool]] = [(p, False) for p in data.draw(st.permutations(pointers + redelivered))]
    running: set[str] = set()

    def run_another() -> None:
        """Another worker processes a queued delivery to its end (never one of a payload already running)."""
        waiting = [i for i, (pointer, _) in enumerate(queue) if pointer.payload_id not in running]
        if waiting:
            pointer, retry = queue.pop(waiting[0])
            store.service().ingest(pointer, retry=retry)

    worker = Worker(data, run_another)
    flaky = store.service(worker.around)
    while queue:
        pointer, retry = queue.pop(0)
        running.add(pointer.payload_id)
        try:
            flaky.ingest(pointer, retry=retry)
        except Crash:
            queue.append((pointer, True))  # the message becomes visible again
        finally:
            running.discard(pointer.payload_id)

    largest = max(pointers, key=lambda p: (p.time.ordering_ms, p.time.signed_ms, digest_of(store, p)))
    stored = store.index.current(partition, [IDENTITY])[IDENTITY]
    assert (stored.order.ordering_ms, stored.order.signed_ms) == (largest.time.ordering_ms, largest.time.signed_ms)
    assert stored.order.digest == digest_of(store, largest)
    assert stored.superseded == ()
    assert object_versions(partition) == {stored.location}  # nothing orphaned, nothing superseded left
    line = json.loads(store.objects.get(stored.location) or b"null")
    assert json.loads(line["record"]) == json.loads(store.archive.get(largest.raw))["data"][0]
    page = store.index.query_days(partition, layout.day_key_bounds("daily", DAY, DAY), limit=10, after=None)
    assert page.copies == (stored,)
    announced = store.index.payload_parts(partition, stored.payload_id)
    assert [part.sort_keys for part in announced] == [(layout.sort_key(IDENTITY),)]
    assert announced[0].announcement is not None


def digest_of(store: Store, pointer: Pointer) -> str:
    record = json.loads(store.archive.get(pointer.raw))["data"][0]
    canonical = json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(canonical.encode()).hexdigest()


def object_versions(partition: str) -> set[ObjectVersion]:
    prefix = f"records/type=daily/day={DAY}/{hashlib.sha256(partition.encode()).hexdigest()[:16]}."
    answer = boto3.client("s3").list_object_versions(Bucket=DATA_BUCKET, Prefix=prefix)
    found = {ObjectVersion(v["Key"], v["VersionId"]) for v in answer.get("Versions", [])}
    return found | {ObjectVersion(m["Key"], m["VersionId"]) for m in answer.get("DeleteMarkers", [])}
