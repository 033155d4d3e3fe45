"""In-memory stand-ins for the data store's ports (health_data/ports.py), with the semantics the S3 and DynamoDB
adapters give them: a versioned bucket (every put a new version, deletes by version id) and an index whose
writes are conditional."""

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from itertools import count

from terra_connect.health_data.keys import RecordIdentity
from terra_connect.health_data.layout import day_key, payload_part_key, sort_key
from terra_connect.health_data.models import (
    ObjectVersion,
    Ownership,
    PayloadPart,
    RecordPage,
    RecordPosition,
    StoredCopy,
)
from terra_connect.health_data.ordering import CopyOrder
from terra_connect.health_data.ports import CommitOutcome


class MemoryObjects:
    """A versioned bucket: RawArchive and RecordObjects."""

    def __init__(self) -> None:
        self.versions: dict[str, dict[str, bytes]] = {}
        self._ids = count(1)

    def put(self, key: str, body: bytes, *, metadata: Mapping[str, str] | None = None) -> ObjectVersion:
        version = f"v{next(self._ids)}"
        self.versions.setdefault(key, {})[version] = body
        return ObjectVersion(key, version)

    def put_stream(self, key: str, chunks: Iterable[bytes], *, size: int, metadata: Mapping[str, str]) -> ObjectVersion:
        body = b"".join(chunks)
        if len(body) != size:
            raise ValueError("truncated")
        return self.put(key, body)

    def get(self, location: ObjectVersion) -> bytes:
        return self.versions[location.key][location.version_id]

    def list_versions(self, key: str) -> list[ObjectVersion]:
        return [ObjectVersion(key, version) for version in self.versions.get(key, {})]

    def delete_versions(self, locations: Sequence[ObjectVersion]) -> None:
        for location in locations:
            self.versions.get(location.key, {}).pop(location.version_id, None)

    def all_versions(self) -> set[ObjectVersion]:
        return {ObjectVersion(key, version) for key, versions in self.versions.items() for version in versions}


class MemoryRecordIndex:
    """RecordIndex: one dict per partition, written only under the conditions DynamoDB would check."""

    def __init__(self, erased_after: Mapping[str, int] | None = None) -> None:
        self.copies: dict[str, dict[RecordIdentity, StoredCopy]] = {}
        self.parts: dict[str, dict[str, PayloadPart]] = {}
        self._erased_after = dict(erased_after or {})

    def current(self, partition: str, identities: Sequence[RecordIdentity]) -> dict[RecordIdentity, StoredCopy]:
        stored = self.copies.get(partition, {})
        return {identity: stored[identity] for identity in identities if identity in stored}

    def commit(
        self, partition: str, copy: StoredCopy, *, replaces: CopyOrder | None, owner: str | None, signed_ms: int
    ) -> CommitOutcome:
        if owner is not None and owner in self._erased_after and self._erased_after[owner] <= signed_ms:
            return CommitOutcome.REFUSED
        stored = self.copies.setdefault(partition, {})
        found = stored.get(copy.identity)
        if (found.order if found else None) != replaces:
            return CommitOutcome.SUPERSEDED
        stored[copy.identity] = copy
        return CommitOutcome.COMMITTED

    def refresh_order(self, partition: str, identity: RecordIdentity, order: CopyOrder) -> bool:
        found = self.copies.get(partition, {}).get(identity)
        if found is None or found.order.digest != order.digest or found.order >= order:
            return False
        self.copies[partition][identity] = replace(found, order=order)
        return True

    def forget_superseded(self, partition: str, identity: RecordIdentity, locations: Sequence[ObjectVersion]) -> None:
        found = self.copies.get(partition, {}).get(identity)
        if found is not None:
            kept = tuple(location for location in found.superseded if location not in set(locations))
            self.copies[partition][identity] = replace(found, superseded=kept)

    def put_payload_part(self, partition: str, part: PayloadPart) -> bool:
        parts = self.parts.setdefault(partition, {})
        key = payload_part_key(part.payload_id, part.number)
        if key in parts:
            return False
        parts[key] = part
        return True

    def payload_parts(self, partition: str, payload_id: str) -> list[PayloadPart]:
        parts = self.parts.get(partition, {})
        return [parts[key] for key in sorted(parts) if parts[key].payload_id == payload_id]

    def query_days(
        self, partition: str, bounds: tuple[str, str], *, limit: int, after: RecordPosition | None
    ) -> RecordPage:
        low, high = (bound.encode() for bound in bounds)
        listed = sorted(
            (day_key(copy.identity, copy.day).encode(), copy) for copy in self.copies.get(partition, {}).values()
        )
        start = after.day_key.encode() if after else None
        matching = [copy for key, copy in listed if low <= key <= high and (start is None or key > start)]
        page = tuple(matching[:limit])
        last = page[-1] if len(matching) > limit else None
        position = RecordPosition(sort_key(last.identity), day_key(last.identity, last.day)) if last else None
        return RecordPage(page, position)


class MemoryOwners:
    """OwnerDirectory over a fixed registry."""

    def __init__(self, owners: Mapping[str, Ownership], erased_at: Mapping[str, int] | None = None) -> None:
        self._owners = dict(owners)
        self._erased_at = dict(erased_at or {})

    def owner_of(self, terra_user_id: str) -> Ownership:
        return self._owners.get(terra_user_id, Ownership(None, known=False))

    def erased_at(self, reference_id: str) -> int | None:
        return self._erased_at.get(reference_id)
