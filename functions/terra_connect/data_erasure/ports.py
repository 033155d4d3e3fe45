"""What a purge needs of the data store: the index's items (DynamoDB), the bucket's versions (S3), the purge queue
(SQS). The index and bucket adapters raise health_data.errors.DataStoreUnavailable when a retry may help,
DataStoreMisconfigured when an operator must act; the queue's raises DataStoreUnavailable for every failure (the
erasure that asks must answer 503 and be retried, and its log names the queue's error)."""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from terra_connect.data_erasure.models import DataErased, ItemKey, PurgeRequest, StoredItem
from terra_connect.health_data.models import ObjectVersion


@dataclass(frozen=True, slots=True)
class ItemPage:
    items: tuple[StoredItem, ...]
    more: bool  # the partition holds more items than this page, after its last


class PurgeRequests(Protocol):
    def request(self, request: PurgeRequest, *, delay_seconds: int = 0) -> None:
        """Queue the request (at most 900 s of delay, SQS's limit)."""
        ...


class PurgeIndex(Protocol):
    def page(self, partition: str, limit: int, after: ItemKey | None = None) -> ItemPage:
        """The first `limit` items of the partition, past `after` if given (strongly consistent: items deleted are
        gone)."""
        ...

    def delete(self, keys: Sequence[ItemKey]) -> None:
        """Delete the items; one already gone is no failure."""
        ...

    def finish(self, erased: DataErased) -> bool:
        """Record that the purge ended, with its event's detail (published from the table's stream once written).
        False if it had ended before (a redelivered request) and its end is still remembered (a day)."""
        ...


class PurgeObjects(Protocol):
    def versions(self, keys: Sequence[str]) -> list[ObjectVersion]:
        """Every version (and delete marker) stored under exactly these keys."""
        ...

    def delete(self, versions: Sequence[ObjectVersion]) -> None:
        """Delete the versions by id, for good (no delete marker); one already gone is no failure."""
        ...
