"""What keeping health data needs from the outside world: small protocols that S3 and DynamoDB adapters implement.

The write protocol they serve, per record of a payload (owner and copy order decided first):

1. `RecordIndex.current` (a consistent read) gives the stored copy of each identity; `ordering.decide` says
   whether to write the incoming copy, only raise the stored copy's order (the same content, delivered later), or
   do nothing - and whether the payload counts the record as changed (an earlier attempt of the same payload may
   have written it).
   To raise the order: `RecordIndex.refresh_order`; if another copy became current meanwhile, start again.
2. To write: `RecordObjects.put` the copy under its own key (layout.record_object_key: this payload's alone), then
   `RecordIndex.commit` it - conditional on the stored copy being the one read (or none) and on the owner not
   being erased since the payload was signed. The new item names the copies it replaces in `superseded` (the one
   read, and any that one still named).
3. Committed: `RecordObjects.delete_versions(superseded)`, then `RecordIndex.forget_superseded`. Superseded
   (another writer committed since the read - not necessarily a larger copy): delete the version just written and
   start again from step 1. Refused (erased): delete the version just written; the record is not kept.
4. A retry of a payload (its message received again) also deletes, under each of its records' keys, the versions
   the index does not name (an attempt that crashed between put and commit), and whatever the current copy still
   names as superseded (one that crashed between commit and delete).
5. Once the records are done, `RecordIndex.put_payload_part` for each part (payload_parts()), part 0 carrying the
   announcement - only when a record changed, so a redelivery announces nothing.

So whatever the order of deliveries, whichever step a worker stops at and whichever workers interleave, once every
payload has run to its end the index names the largest copy of each record and it is the only object left
(tests/unit/health_data/test_record_convergence.py runs this over generated histories).
"""

from collections.abc import Iterable, Mapping, Sequence
from enum import StrEnum
from typing import Protocol

from terra_connect.health_data.claim_check import Pointer
from terra_connect.health_data.keys import RecordIdentity
from terra_connect.health_data.models import (
    LargeRequestProcessing,
    LargeRequestSending,
    ObjectVersion,
    Ownership,
    PayloadPart,
    RecordPage,
    RecordPosition,
    StoredCopy,
)
from terra_connect.health_data.ordering import CopyOrder


class RawArchive(Protocol):
    """The bodies Terra delivered, exactly as received (`raw/...`)."""

    def put(self, key: str, body: bytes, *, metadata: Mapping[str, str]) -> ObjectVersion:
        """Store `body` under `key` unless an object is already there (If-None-Match); either way, the version that
        holds it. `metadata` (trace id, ordering, reference, times) is never health data."""
        ...

    def put_stream(self, key: str, chunks: Iterable[bytes], *, size: int, metadata: Mapping[str, str]) -> ObjectVersion:
        """Store a fetched body of `size` bytes without holding it in memory; nothing is stored unless exactly
        `size` bytes arrived. Raises ValueError for any other count."""
        ...

    def get(self, location: ObjectVersion) -> bytes: ...

    def delete_versions(self, locations: Sequence[ObjectVersion]) -> None:
        """Permanently (by version id): a versioned bucket keeps no copy behind."""
        ...


class RecordObjects(Protocol):
    """One object per copy of a record (`records/type=.../day=.../...`), one JSON line each."""

    def put(self, key: str, body: bytes) -> ObjectVersion: ...

    def get(self, location: ObjectVersion) -> bytes | None:
        """None when that version is gone (superseded and deleted since it was listed)."""
        ...

    def list_versions(self, key: str) -> list[ObjectVersion]:
        """Every version under exactly `key`: what a retry compares with the index to find orphans."""
        ...

    def delete_versions(self, locations: Sequence[ObjectVersion]) -> None: ...


class CommitOutcome(StrEnum):
    COMMITTED = "committed"
    SUPERSEDED = "superseded"  # the stored copy is no longer the one read: another writer got there first
    REFUSED = "refused"  # the owner was erased after the payload was signed, or its Terra user is a tombstone


class RecordIndex(Protocol):
    """The owners' partitions (`u#<reference_id>`, `t#<terra_user_id>`): current copies and payload parts."""

    def current(self, partition: str, identities: Sequence[RecordIdentity]) -> dict[RecordIdentity, StoredCopy]:
        """The stored copy of each identity that has one, read consistently."""
        ...

    def commit(
        self, partition: str, copy: StoredCopy, *, replaces: CopyOrder | None, owner: str | None, signed_ms: int
    ) -> CommitOutcome:
        """Make `copy` current if the stored copy's order is still `replaces` (None: no copy), and - in the same
        transaction - `owner` (if any) has no erasure begun at or after `signed_ms` and `copy.terra_user_id` is
        not a tombstone."""
        ...

    def refresh_order(self, partition: str, identity: RecordIdentity, order: CopyOrder) -> bool:
        """Raise the stored copy's order to `order` if it has the same digest and a smaller order; False when
        another copy has become current since it was read (read and decide again)."""
        ...

    def forget_superseded(self, partition: str, identity: RecordIdentity, locations: Sequence[ObjectVersion]) -> None:
        """Drop `locations` (deleted) from the current copy's `superseded`, whichever copy is current now."""
        ...

    def put_payload_part(self, partition: str, part: PayloadPart) -> bool:
        """Write the part unless it exists (True: this call wrote it)."""
        ...

    def payload_parts(self, partition: str, payload_id: str) -> list[PayloadPart]: ...

    def query_days(
        self, partition: str, bounds: tuple[str, str], *, limit: int, after: RecordPosition | None
    ) -> RecordPage:
        """Current copies whose day key lies within `bounds` (layout.day_key_bounds), in day-key order, at most
        `limit` of them, starting after `after`."""
        ...


class OwnerDirectory(Protocol):
    """The connection registry, as data attribution reads it."""

    def owner_of(self, terra_user_id: str) -> Ownership: ...

    def erased_at(self, reference_id: str) -> int | None:
        """When the app user's erasure began (milliseconds), or None."""
        ...


class DeliveryQueue(Protocol):
    """A queue of pointers to archived bodies (claim_check.py)."""

    def send(self, pointer: Pointer, *, delay_seconds: int = 0) -> None: ...

    def hold(self, receipt_handle: str, seconds: int) -> None:
        """Keep a received message invisible for `seconds` from now (then it is received again)."""
        ...


class PayloadFetcher(Protocol):
    """Reads the body behind an `s3_payload` URL into the raw archive."""

    def fetch_to(self, url: str, key: str, *, deadline_ms: int, metadata: Mapping[str, str]) -> ObjectVersion:
        """The archived body under `key`: fetched unless it already is. Raises a PayloadFetchFailed (errors.py)."""
        ...


class BackfillAccounting(Protocol):
    """What a backfill learns from the deliveries of its data requests (backfill/completion.py counts them)."""

    def announced(self, terra_user_id: str, announcement: LargeRequestProcessing | LargeRequestSending) -> None:
        """Terra is assembling (processing) or sending (with the count of chunks) a large request's data."""
        ...

    def delivered(self, terra_user_id: str, terra_reference: str, *, trace_id: str | None, body_digest: str) -> bool:
        """A payload of data arrived under `terra_reference`; True when it belongs to an open backfill of the Terra
        user. Counting the same chunk again changes nothing."""
        ...
