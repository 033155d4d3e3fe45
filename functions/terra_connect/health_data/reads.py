"""Reading a caller's records: the work of `GET /v1/data/{type}` once its query is checked (queries.py).

The partition read is always the caller's own (`u#<reference_id>`, from the verified token); the page token only
says where in it to continue. A page lists current copies only - the newest copy of each record - in day-key order
(or sort-key order for a payload's records), and holds at most `limit` records and about 4 MB of them, well under
the 6 MB a Lambda function may answer. Each copy's object is read by its version id; one deleted since the index
listed it (a newer copy replaced it in between, or an erasure removed it) is left out of the page, which the next
page does not repeat.

Records are answered as the text they were stored as (Terra's record, canonical JSON), never parsed again.
"""

import json
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Protocol

from terra_connect.health_data import layout
from terra_connect.health_data.errors import DataStoreMisconfigured, DataStoreUnavailable
from terra_connect.health_data.keys import RecordIdentity
from terra_connect.health_data.models import ObjectVersion, PayloadPart, RecordPage, RecordPosition, StoredCopy
from terra_connect.health_data.page_tokens import encode_page_token
from terra_connect.health_data.queries import DataQuery
from terra_connect.kernel.errors import NotFound

# Lambda's synchronous answer is at most 6 MB; what JSON adds around the records stays far below the rest.
MAX_PAGE_BYTES = 4 * 1024 * 1024
READ_THREADS = 8
_BATCH = 100  # identities per consistent read of a payload's records


class RecordListing(Protocol):
    """What reads need of the record index (ports.RecordIndex)."""

    def current(self, partition: str, identities: Sequence[RecordIdentity]) -> dict[RecordIdentity, StoredCopy]: ...

    def payload_parts(self, partition: str, payload_id: str) -> list[PayloadPart]: ...

    def query_days(
        self, partition: str, bounds: tuple[str, str], *, limit: int, after: RecordPosition | None
    ) -> RecordPage: ...


class RecordBodies(Protocol):
    """What reads need of the record objects (ports.RecordObjects)."""

    def get(self, location: ObjectVersion) -> bytes | None: ...


@dataclass(frozen=True, slots=True)
class DataPage:
    records: tuple[str, ...]  # Terra's records, each as JSON text
    next_page_token: str | None
    skipped: int = 0  # listed copies whose object was gone by the time it was read

    def to_json(self) -> str:
        """The route's answer; each record's stored text goes in as it is (it was canonical JSON when written)."""
        token = json.dumps(self.next_page_token)
        return f'{{"data":[{",".join(self.records)}],"next_page_token":{token}}}'


def position(copy: StoredCopy) -> RecordPosition:
    return RecordPosition(layout.sort_key(copy.identity), layout.day_key(copy.identity, copy.day))


class DataReader:
    def __init__(
        self,
        index: RecordListing,
        objects: RecordBodies,
        *,
        threads: int = READ_THREADS,
        max_page_bytes: int = MAX_PAGE_BYTES,
    ) -> None:
        self._index = index
        self._objects = objects
        self._threads = threads
        self._max_page_bytes = max_page_bytes

    def read(self, reference_id: str, query: DataQuery) -> DataPage:
        """The caller's page of records for `query`; NotFound for a payload the caller has no records of."""
        partition = layout.owner_partition(reference_id)
        bounds = query.day_key_bounds
        if bounds is None:
            page = self._payload_page(partition, query)
        else:
            page = self._index.query_days(partition, bounds, limit=query.limit, after=query.after)
        copies, after = self._within_budget(page)
        bodies = self._settle_refusals(partition, copies, self._read_all([copy.location for copy in copies]))
        records = tuple(record for record in map(_record_text, bodies) if record is not None)
        token = encode_page_token(query.scope, after) if after is not None else None
        return DataPage(records, token, skipped=len(copies) - len(records))

    def _within_budget(self, page: RecordPage) -> tuple[tuple[StoredCopy, ...], RecordPosition | None]:
        """The page cut where its objects would pass the byte budget (never before its first record)."""
        total = 0
        for n, copy in enumerate(page.copies):
            total += copy.size
            if n > 0 and total > self._max_page_bytes:
                return page.copies[:n], position(page.copies[n - 1])
        return page.copies, page.after

    def _payload_page(self, partition: str, query: DataQuery) -> RecordPage:
        """The current copies of the records a payload changed, in sort-key order (only the caller's payloads)."""
        parts = self._index.payload_parts(partition, query.payload_id or "")
        if not parts or any(part.data_type != query.data_type for part in parts):
            raise NotFound(log_context={"reason": "no payload of this type in the caller's records"})
        start = query.after.sort_key if query.after is not None else ""
        sort_keys = sorted({key for part in parts for key in part.sort_keys if key > start})
        found: list[StoredCopy] = []
        for batch in _batches(sort_keys, _BATCH):
            identities = [layout.identity_of(key) for key in batch]
            current = self._index.current(partition, identities)
            found += [current[identity] for identity in identities if identity in current]
            if len(found) > query.limit:
                break
        copies = tuple(found[: query.limit])
        return RecordPage(copies, position(copies[-1]) if len(found) > query.limit else None)

    def _read_all(self, locations: list[ObjectVersion]) -> list[bytes | DataStoreMisconfigured | None]:
        if len(locations) <= 1 or self._threads <= 1:
            return [self._read(location) for location in locations]
        with ThreadPoolExecutor(max_workers=min(self._threads, len(locations))) as pool:
            return list(pool.map(self._read, locations))

    def _read(self, location: ObjectVersion) -> bytes | DataStoreMisconfigured | None:
        try:
            return self._objects.get(location)
        except DataStoreMisconfigured as refused:
            return refused

    def _settle_refusals(
        self, partition: str, copies: Sequence[StoredCopy], bodies: list[bytes | DataStoreMisconfigured | None]
    ) -> list[bytes | None]:
        """S3 refuses (403), rather than answers "no such version", a read of a version deleted since it was listed
        when the reader may not list the bucket, which the API may not. A refused copy the index no longer names
        (replaced by a newer one, or erased) is one deleted in between: left out, like a missing one. One it still
        names while other copies were read is being deleted before its item (an erasure's purge): retry later. When
        every copy is refused and still named, the store is refused to this function: an operator must act."""
        refused = [copy for copy, body in zip(copies, bodies, strict=True) if isinstance(body, DataStoreMisconfigured)]
        if refused:
            current = self._index.current(partition, [copy.identity for copy in refused])
            still_named = [c for c in refused if (named := current.get(c.identity)) and named.location == c.location]
            if still_named and len(refused) == len(copies):
                raise next(body for body in bodies if isinstance(body, DataStoreMisconfigured))
            if still_named:
                raise DataStoreUnavailable(log_context={"reason": "a listed copy is being deleted"})
        return [None if isinstance(body, DataStoreMisconfigured) else body for body in bodies]


def _batches(items: list[str], size: int) -> Iterator[list[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _record_text(body: bytes | None) -> str | None:
    """Terra's record from a stored object (record_writer.record_line): the JSON text kept under `record`."""
    if body is None:
        return None
    try:
        line = json.loads(body)
    except (ValueError, RecursionError):  # not an object this service wrote: nothing to answer from it
        return None
    record = line.get("record") if isinstance(line, dict) else None
    return record if isinstance(record, str) and record.startswith("{") and record.endswith("}") else None
