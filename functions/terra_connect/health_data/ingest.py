"""Processing one archived delivery: what the consumer of the ingest queues calls for each pointer.

    pointer → archived body → parse (payloads.py) → by what it is:
      data                  → attribute (attribution.py) → write its records (record_writer.py) → count it for
                              a backfill (its terra-reference) → payload parts, part 0 announcing it
      s3_payload/s3_upload  → fetch the body into the archive (once), then the same as a delivered body
      large_request_*       → the backfill's accounting
      anything else         → nothing beyond the raw body already kept

The result names the payload and whether it changed anything (`to_dict`: what the idempotency layer keeps). Only
`WAITING` is not final: the payload's owner is not known yet, and the consumer holds the message to try again; every
other outcome is final, and a failure of S3, DynamoDB or a payload host raises (the message is retried).

A redelivery with the same trace id and bytes changes nothing and announces nothing: each record's copy is already
current (or older), so no part is written. A retry after a crash finishes what the crash interrupted and announces
the payload once (a part is written only where none exists).
"""

import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from terra_connect.health_data import layout
from terra_connect.health_data.attribution import Verdict, attribute
from terra_connect.health_data.claim_check import Pointer, fetched, fetched_key, fetched_metadata
from terra_connect.health_data.claim_check import Source as ClaimSource
from terra_connect.health_data.errors import (
    ArchivedBodyGone,
    PayloadOversized,
    PayloadUrlExpired,
    PayloadUrlRefused,
)
from terra_connect.health_data.events import DataReceived
from terra_connect.health_data.models import (
    DataPayload,
    LargeRequestProcessing,
    LargeRequestSending,
    Notice,
    ParsedPayload,
    PayloadPointer,
    Record,
    Unreadable,
    payload_parts,
)
from terra_connect.health_data.payloads import parse_payload
from terra_connect.health_data.ports import (
    BackfillAccounting,
    OwnerDirectory,
    PayloadFetcher,
    RawArchive,
    RecordIndex,
    RecordObjects,
)
from terra_connect.health_data.record_writer import RecordWriter, Refused, Source


class Outcome(StrEnum):
    STORED = "stored"  # records stored or replaced, and the payload announced by this call
    UNCHANGED = "unchanged"  # every record already stored as new or newer (an older copy), or already announced
    WAITING = "waiting"  # no owner known yet: hold the message and try again
    REFUSED = "refused"  # the owner was erased (or the Terra user is a tombstone): raw body deleted
    RAW_ONLY = "raw_only"  # nobody to keep records for, or nothing keyable: the raw body is all
    CONTROL = "control"  # a large request's announcement, handed to the backfill
    NOTICE = "notice"  # an event without data
    UNREADABLE = "unreadable"  # nothing could be read from the body
    GONE = "gone"  # the archived body no longer exists (erased or expired before processing)
    URL_EXPIRED = "url_expired"  # an s3_payload whose URL expired before it could be read
    URL_REFUSED = "url_refused"  # an s3_payload URL not on an allowed host, or refused by it
    OVERSIZED = "oversized"  # an s3_payload body over the size kept


@dataclass(frozen=True, slots=True)
class IngestResult:
    payload_id: str
    outcome: Outcome
    data_type: str | None = None
    records: int = 0
    records_changed: int = 0
    unattributed: bool = False  # kept under its Terra user: no owner was known after waiting

    @property
    def changed(self) -> bool:
        return self.outcome is Outcome.STORED

    def to_dict(self) -> dict[str, Any]:
        return {
            "payload_id": self.payload_id,
            "changed": self.changed,
            "outcome": self.outcome.value,
            "type": self.data_type,
            "records": self.records,
            "records_changed": self.records_changed,
            "unattributed": self.unattributed,
        }


_FINAL_FETCH_FAILURES: dict[type[Exception], Outcome] = {
    PayloadUrlExpired: Outcome.URL_EXPIRED,
    PayloadUrlRefused: Outcome.URL_REFUSED,
    PayloadOversized: Outcome.OVERSIZED,
}


def now_ms() -> int:
    return time.time_ns() // 1_000_000


class IngestService:
    def __init__(
        self,
        archive: RawArchive,
        objects: RecordObjects,
        index: RecordIndex,
        owners: OwnerDirectory,
        *,
        fetcher: PayloadFetcher,
        backfill: BackfillAccounting,
        clock: Callable[[], int] = now_ms,
    ) -> None:
        self._archive = archive
        self._writer = RecordWriter(index, objects)
        self._index = index
        self._owners = owners
        self._fetcher = fetcher
        self._backfill = backfill
        self._clock = clock

    def ingest(self, pointer: Pointer, *, retry: bool = False, may_wait: bool = False) -> IngestResult:
        """`retry`: the message was received before (an attempt may have stopped half-way); `may_wait`: a payload
        without a known owner may still wait for one (else it is kept under its Terra user)."""
        try:
            body = self._archive.get(pointer.raw)
        except ArchivedBodyGone:
            return IngestResult(pointer.payload_id, Outcome.GONE)
        parsed = parse_payload(body, received_ms=pointer.received_ms)
        if isinstance(parsed, PayloadPointer):
            return self._fetch(pointer, parsed, retry=retry, may_wait=may_wait)
        return self._process(pointer, body, parsed, retry=retry, may_wait=may_wait)

    def _fetch(self, pointer: Pointer, ping: PayloadPointer, *, retry: bool, may_wait: bool) -> IngestResult:
        # Terra's expires_in counts from when it made the URL, which is before the delivery arrived.
        deadline_ms = pointer.received_ms + ping.expires_in * 1000
        try:
            archived = self._fetcher.fetch_to(
                ping.url, fetched_key(pointer), deadline_ms=deadline_ms, metadata=fetched_metadata(pointer)
            )
        except (PayloadUrlExpired, PayloadUrlRefused, PayloadOversized) as error:
            return IngestResult(pointer.payload_id, _FINAL_FETCH_FAILURES[type(error)])
        try:
            body = self._archive.get(archived)
        except ArchivedBodyGone:
            return IngestResult(pointer.payload_id, Outcome.GONE)
        inner = fetched(pointer, archived, body)
        # A fetched body that is itself a pointer is read as unreadable (_process): pointers are never chained.
        parsed = parse_payload(body, received_ms=pointer.received_ms)
        result = self._process(inner, body, parsed, retry=retry, may_wait=may_wait)
        if result.outcome is Outcome.REFUSED:
            self._archive.delete_versions([pointer.raw])
        return result

    def _process(
        self, pointer: Pointer, body: bytes, parsed: ParsedPayload, *, retry: bool, may_wait: bool
    ) -> IngestResult:
        match parsed:
            case DataPayload():
                return self._store(pointer, parsed, retry=retry, may_wait=may_wait)
            case LargeRequestProcessing() | LargeRequestSending():
                if parsed.terra_user is not None:
                    self._backfill.announced(parsed.terra_user.terra_user_id, parsed)
                return IngestResult(pointer.payload_id, Outcome.CONTROL)
            case Notice():
                return IngestResult(pointer.payload_id, Outcome.NOTICE)
            case Unreadable() | PayloadPointer():
                return IngestResult(pointer.payload_id, Outcome.UNREADABLE)

    def _store(self, pointer: Pointer, payload: DataPayload, *, retry: bool, may_wait: bool) -> IngestResult:
        trust_hint = pointer.source is not ClaimSource.TERRA_QUEUE
        attribution = attribute(
            payload, self._owners, signed_ms=pointer.time.signed_ms, may_wait=may_wait, trust_hint=trust_hint
        )
        unattributed = attribution.verdict is Verdict.UNATTRIBUTED

        def result(outcome: Outcome, changed: int = 0) -> IngestResult:
            records = len(payload.records)
            return IngestResult(pointer.payload_id, outcome, payload.data_type, records, changed, unattributed)

        if attribution.verdict is Verdict.WAIT:
            return result(Outcome.WAITING)
        if attribution.verdict is Verdict.REFUSED:
            if retry:
                self._remove_leftovers(pointer, payload, attribution.owner)
            self._archive.delete_versions([pointer.raw])
            return result(Outcome.REFUSED)
        partition = attribution.partition
        if partition is None or not payload.records:
            self._count_for_backfill(pointer, payload)
            return result(Outcome.RAW_ONLY)
        terra_user_id = payload.terra_user.terra_user_id if payload.terra_user else None
        source = Source(
            partition, attribution.owner, terra_user_id, pointer.payload_id, pointer.time, pointer.received_ms
        )
        try:
            changed = self._writer.write(source, payload.records, retry=retry)
        except Refused:
            self._archive.delete_versions([pointer.raw])
            return result(Outcome.REFUSED)
        backfill = self._count_for_backfill(pointer, payload)
        if not changed:
            return result(Outcome.UNCHANGED)
        announcement = self._announcement(pointer, payload, attribution.owner, changed, backfill=backfill)
        sort_keys = tuple(layout.sort_key(record.identity) for record in changed)
        parts = payload_parts(
            pointer.payload_id,
            payload.data_type,
            sort_keys,
            pointer.raw,
            announcement,
            signed_ms=pointer.time.signed_ms,
            terra_user_id=terra_user_id,
        )
        # Every part is written (a retry completes what an attempt left), but only a part written now is news: a
        # redelivery of a payload already kept finds them all.
        written = [self._index.put_payload_part(partition, part) for part in parts]
        return result(Outcome.STORED, len(changed)) if any(written) else result(Outcome.UNCHANGED)

    def _remove_leftovers(self, pointer: Pointer, payload: DataPayload, owner: str | None) -> None:
        """A refused retry: what an earlier attempt (before the erasure) put in any partition it may have chosen -
        the owner's, the one the payload named, or its Terra user's - and never committed. The payload's
        reference_id is looked under even where it may not name the owner (Terra's SQS destination): it usually is
        the registry's owner, and only this payload's own uncommitted versions are ever removed."""
        if not payload.records:
            return
        terra_user_id = payload.terra_user.terra_user_id if payload.terra_user else None
        candidates = {
            *(layout.owner_partition(name) for name in (owner, payload.owner_hint) if name),
            *([layout.unattributed_partition(terra_user_id)] if terra_user_id else []),
        }
        for partition in sorted(candidates):
            source = Source(partition, owner, terra_user_id, pointer.payload_id, pointer.time, pointer.received_ms)
            self._writer.remove_leftovers(source, payload.records)

    def _count_for_backfill(self, pointer: Pointer, payload: DataPayload) -> bool:
        """Whether the payload is data of an open backfill (counted as one of its request's chunks)."""
        if pointer.terra_reference is None or payload.terra_user is None:
            return False
        return self._backfill.delivered(
            payload.terra_user.terra_user_id,
            pointer.terra_reference,
            trace_id=pointer.trace_id,
            body_digest=pointer.sha256,
        )

    def _announcement(
        self, pointer: Pointer, payload: DataPayload, owner: str | None, changed: list[Record], *, backfill: bool
    ) -> DataReceived:
        span = payload.span
        if span is None:  # a payload with records always has a span
            raise ValueError("a payload without records is not announced")
        user = payload.terra_user
        return DataReceived(
            payload_id=pointer.payload_id,
            reference_id=owner,
            terra_user_id=user.terra_user_id if user else None,
            provider=user.provider if user else None,
            data_type=payload.data_type,
            start_date=span.start_date,
            end_date=span.end_date,
            start_time=span.start_time,
            end_time=span.end_time,
            records=len(payload.records),
            records_changed=len(changed),
            bucket=pointer.bucket,
            key=pointer.raw.key,
            version_id=pointer.raw.version_id,
            terra_reference=pointer.terra_reference,
            backfill=backfill,
            time_ms=self._clock(),
        )
