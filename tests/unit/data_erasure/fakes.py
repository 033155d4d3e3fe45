"""In-memory stand-ins for the purge's ports, with the semantics of the adapters: a table of items by partition, read
strongly consistent and in key order; a versioned bucket; a queue that records what it was sent."""

from collections.abc import Sequence
from dataclasses import dataclass, field

from terra_connect.data_erasure.models import DataErased, ItemKey, PurgeRequest, StoredItem
from terra_connect.data_erasure.ports import ItemPage
from terra_connect.health_data.models import ObjectVersion


@dataclass
class MemoryPurgeIndex:
    items: dict[ItemKey, StoredItem] = field(default_factory=dict)
    ended: dict[str, DataErased] = field(default_factory=dict)
    log: list[str] = field(default_factory=list)  # what was done, in order

    def put(self, item: StoredItem) -> None:
        self.items[item.key] = item

    def page(self, partition: str, limit: int, after: ItemKey | None = None) -> ItemPage:
        found = sorted(
            (key for key in self.items if key.pk == partition and (after is None or key.sk > after.sk)),
            key=lambda key: key.sk,
        )
        return ItemPage(tuple(self.items[key] for key in found[:limit]), more=len(found) > limit)

    def delete(self, keys: Sequence[ItemKey]) -> None:
        self.log.append("items")
        for key in keys:
            self.items.pop(key, None)

    def finish(self, erased: DataErased) -> bool:
        if erased.erasure_id in self.ended:
            return False
        self.ended[erased.erasure_id] = erased
        return True


@dataclass
class MemoryBucket:
    versions: set[ObjectVersion] = field(default_factory=set)
    log: list[str] = field(default_factory=list)
    _next: int = 0

    def put(self, key: str) -> ObjectVersion:
        self._next += 1
        version = ObjectVersion(key, f"v{self._next}")
        self.versions.add(version)
        return version

    def versions_of(self, key: str) -> set[ObjectVersion]:
        return {version for version in self.versions if version.key == key}

    def versions_of_keys(self, keys: Sequence[str]) -> list[ObjectVersion]:
        return sorted(version for version in self.versions if version.key in set(keys))

    def delete(self, versions: Sequence[ObjectVersion]) -> None:
        self.log.append("objects")
        self.versions -= set(versions)


class BucketPort:
    """PurgeObjects over a MemoryBucket (its own `versions` name is the bucket's content)."""

    def __init__(self, bucket: MemoryBucket) -> None:
        self.bucket = bucket

    def versions(self, keys: Sequence[str]) -> list[ObjectVersion]:
        return self.bucket.versions_of_keys(keys)

    def delete(self, versions: Sequence[ObjectVersion]) -> None:
        self.bucket.delete(versions)


@dataclass
class RecordedRequests:
    sent: list[tuple[PurgeRequest, int]] = field(default_factory=list)
    fail: bool = False

    def request(self, request: PurgeRequest, *, delay_seconds: int = 0) -> None:
        if self.fail:
            from terra_connect.health_data.errors import DataStoreUnavailable  # noqa: PLC0415

            raise DataStoreUnavailable
        self.sent.append((request, delay_seconds))

    def take(self) -> tuple[PurgeRequest, int]:
        return self.sent.pop(0)
