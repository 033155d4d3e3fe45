"""The write protocol of ports.py, for the records of one payload in one partition.

Per record: read the current copy (all of the payload's at once, consistently), decide by the copy order
(ordering.decide), then either raise the stored order, or put this copy's object under its own key and commit it
conditionally - deleting what it superseded once committed, or its own object when it lost. A commit that lost to
another writer reads and decides again; one refused for an erasure stops the payload. A retry of the payload (its
message received again) also removes what an earlier attempt may have left: versions under this payload's keys the
index does not name, and copies the current one still names as superseded - also when the retry is refused (an
erasure between a crash and the retry), as nothing else would ever find them.

Each stored object is one JSON line: the record as Terra wrote it (a JSON string, `record`), who and where it came
from, and when - the columns Athena's table reads.
"""

import json
from dataclasses import dataclass
from datetime import UTC, datetime

from terra_connect.health_data import layout
from terra_connect.health_data.errors import DataStoreUnavailable
from terra_connect.health_data.models import ObjectVersion, Record, StoredCopy
from terra_connect.health_data.ordering import Action, CopyOrder, DeliveryTime, decide
from terra_connect.health_data.ports import CommitOutcome, RecordIndex, RecordObjects

# Each round is lost only to a writer that committed in between; more rounds than this means something else is
# wrong, and the message is retried later.
MAX_ROUNDS = 8


@dataclass(frozen=True, slots=True)
class Source:
    """Who a payload's records belong to and which delivery brought them."""

    partition: str
    owner: str | None  # the app user (None: kept under the Terra user until one is known)
    terra_user_id: str | None
    payload_id: str
    time: DeliveryTime
    received_ms: int


class Refused(Exception):
    """The owner was erased after the payload was signed, or its Terra user is a tombstone."""


class RecordWriter:
    def __init__(self, index: RecordIndex, objects: RecordObjects) -> None:
        self._index = index
        self._objects = objects

    def write(self, source: Source, records: tuple[Record, ...], *, retry: bool) -> list[Record]:
        """The records this payload changed (a copy stored, or an earlier attempt's copy of it kept); Refused when
        a commit was refused (the records committed before it are the erasure's to purge)."""
        current = self._index.current(source.partition, [record.identity for record in records])
        try:
            changed = [record for record in records if self._write_one(source, record, current.get(record.identity))]
        except Refused:
            if retry:
                self.remove_leftovers(source, records)
            raise
        if retry:
            for record in records:
                self._clean_up(source, record)
        return changed

    def _write_one(self, source: Source, record: Record, stored: StoredCopy | None) -> bool:
        order = CopyOrder.of(source.time, record.digest)
        for _ in range(MAX_ROUNDS):
            decision = decide(
                stored.order if stored else None, stored.payload_id if stored else None, order, source.payload_id
            )
            if decision.action is Action.SKIP:
                return decision.changed
            if decision.action is Action.RAISE_ORDER:
                if self._index.refresh_order(source.partition, record.identity, order):
                    return decision.changed
            elif self._put_and_commit(source, record, order, stored):
                return True
            stored = self._index.current(source.partition, [record.identity]).get(record.identity)
        raise DataStoreUnavailable(log_context={"reason": "the record kept changing under the writer"})

    def _put_and_commit(self, source: Source, record: Record, order: CopyOrder, stored: StoredCopy | None) -> bool:
        """True when committed; False when another writer committed first (read and decide again)."""
        body = record_line(source, record, order)
        location = self._objects.put(self.object_key(source, record, order), body)
        superseded = (stored.location, *stored.superseded) if stored else ()
        copy = StoredCopy(
            identity=record.identity,
            day=record.day,
            order=order,
            payload_id=source.payload_id,
            location=location,
            size=len(body),
            terra_user_id=source.terra_user_id,
            received_ms=source.received_ms,
            start_time=record.start_time,
            end_time=record.end_time,
            superseded=superseded,
        )
        outcome = self._index.commit(
            source.partition,
            copy,
            replaces=stored.order if stored else None,
            owner=source.owner,
            signed_ms=source.time.signed_ms,
        )
        if outcome is CommitOutcome.COMMITTED:
            self._forget(source.partition, record, superseded)
            return True
        self._objects.delete_versions([location])
        if outcome is CommitOutcome.REFUSED:
            raise Refused
        return False

    def remove_leftovers(self, source: Source, records: tuple[Record, ...]) -> None:
        """Delete the versions earlier attempts of this payload put under its keys in `source.partition` that no
        index item names (an attempt that crashed before its commit): for a payload that will not be written. A
        version an item names is left to the erasure's purge."""
        current = self._index.current(source.partition, [record.identity for record in records])
        orphans = []
        for record in records:
            now = current.get(record.identity)
            key = self.object_key(source, record, CopyOrder.of(source.time, record.digest))
            orphans += [v for v in self._objects.list_versions(key) if now is None or v != now.location]
        if orphans:
            self._objects.delete_versions(orphans)

    def _clean_up(self, source: Source, record: Record) -> None:
        now = self._index.current(source.partition, [record.identity]).get(record.identity)
        named = {now.location} if now else set()
        key = self.object_key(source, record, CopyOrder.of(source.time, record.digest))
        orphans = [version for version in self._objects.list_versions(key) if version not in named]
        if orphans:
            self._objects.delete_versions(orphans)
        if now is not None and now.superseded:
            self._forget(source.partition, record, now.superseded)

    def _forget(self, partition: str, record: Record, superseded: tuple[ObjectVersion, ...]) -> None:
        if superseded:
            self._objects.delete_versions(superseded)
            self._index.forget_superseded(partition, record.identity, superseded)

    @staticmethod
    def object_key(source: Source, record: Record, order: CopyOrder) -> str:
        return layout.record_object_key(source.partition, record.identity, record.day, order, source.payload_id)


def record_line(source: Source, record: Record, order: CopyOrder) -> bytes:
    """The stored object: one line of JSON, the record itself kept as the text Terra's JSON was read into."""
    line = {
        "reference_id": source.owner,
        "terra_user_id": source.terra_user_id,
        "provider": record.identity.provider,
        "record_key": record.identity.record_key,
        "start_time": record.start_time,
        "end_time": record.end_time,
        "received_at": _iso(source.received_ms),
        "ordering": order.ordering_ms,
        "payload_id": source.payload_id,
        "record": record.content,
    }
    return (json.dumps(line, separators=(",", ":"), ensure_ascii=True) + "\n").encode("ascii")


def _iso(milliseconds: int) -> str:
    return datetime.fromtimestamp(milliseconds / 1000, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
