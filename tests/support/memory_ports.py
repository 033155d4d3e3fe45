"""The small in-memory fakes over the registry's state (tests/support/memory_registry.py): deliveries, SDK tokens,
sync claims, the reconciliation's scan and cursor, erasures."""

from datetime import datetime
from typing import TYPE_CHECKING, Any

from terra_connect.erasure.ports import Erasure, ErasureScope
from terra_connect.sync.ports import ReconciliationCursor, ScanPage, SyncClaim

if TYPE_CHECKING:
    from tests.support.memory_registry import InMemoryRegistryStore


class MemoryDeliveryLog:
    def __init__(self, state: "InMemoryRegistryStore") -> None:
        self._state = state

    def already_processed(self, delivery_id: str) -> bool:
        return delivery_id in self._state.processed

    def mark_processed(self, delivery_id: str, at: datetime) -> None:
        self._state.processed.add(delivery_id)


class MemorySdkTokenStore:
    def __init__(self, state: "InMemoryRegistryStore") -> None:
        self._state = state

    def record_sdk_token(self, reference_id: str, issued_at: int, keep_until: int) -> None:
        self._state.tokens.setdefault(reference_id, []).append(issued_at)

    def sdk_tokens_issued(self, reference_id: str) -> list[int]:
        return list(self._state.tokens.get(reference_id, []))

    def record_unverified(self, reference_id: str, terra_user_id: str, provider: str, at: int) -> None:
        if self._state.erased.get(reference_id, 0) <= at:
            self._state.unverified.append((reference_id, terra_user_id, provider, at))

    def was_unverified(self, reference_id: str, terra_user_id: str) -> bool:
        return any(entry[:2] == (reference_id, terra_user_id) for entry in self._state.unverified)


class MemorySyncClaims:
    def __init__(self, state: "InMemoryRegistryStore") -> None:
        self._syncs = state.syncs

    def claim_sync(self, reference_id: str, now: int, min_interval: int) -> SyncClaim:
        claimed, synced = self._syncs.get(reference_id, (None, None))
        if claimed is not None and claimed > now - min_interval:
            return SyncClaim(False, synced, claimed)
        self._syncs[reference_id] = (now, synced)
        return SyncClaim(True, synced)

    def finish_sync(self, reference_id: str, now: int) -> None:
        claimed, _ = self._syncs.get(reference_id, (now, None))
        self._syncs[reference_id] = (claimed if claimed is not None else now, now)

    def release_sync(self, reference_id: str, claimed_at: int) -> None:
        claimed, synced = self._syncs.get(reference_id, (None, None))
        if claimed == claimed_at:
            self._syncs[reference_id] = (None, synced)


class MemoryReconciliationStore:
    def __init__(self, state: "InMemoryRegistryStore") -> None:
        self._state = state

    def scan(self, cursor: str | None, limit: int) -> ScanPage:
        stored = self._state.stored
        ids = sorted(stored)
        start = int(cursor or 0)
        page = ids[start : start + limit]
        legacy = tuple(self._state.legacy.items()) if start == 0 else ()
        after = start + limit
        return ScanPage(tuple(stored[uid] for uid in page), legacy, str(after) if after < len(ids) else None)

    def drop_legacy(self, token: str) -> None:
        self._state.legacy.pop(token, None)

    def reconciliation_cursor(self) -> ReconciliationCursor | None:
        return self._state.cursor

    def save_reconciliation_cursor(self, cursor: ReconciliationCursor) -> None:
        self._state.cursor = cursor


class MemoryErasureStore:
    def __init__(self, state: "InMemoryRegistryStore") -> None:
        self._state = state

    def erased_at(self, reference_id: str) -> int | None:
        return self._state.erased.get(reference_id)

    def claim_for_erasure(self, reference_id: str, terra_user_id: str) -> None:
        if reference_id in self._state.erased:
            self._state.claims.setdefault(reference_id, set()).add(terra_user_id)

    def mark_erased(self, reference_id: str, at: int) -> None:
        self._state.erased[reference_id] = max(at, self._state.erased.get(reference_id, at))

    def erasure_scope(self, reference_id: str) -> ErasureScope:
        state = self._state
        views = [
            *(stored.live_view() for stored in state.stored.values()),
            *(entry for stored in state.stored.values() for entry in stored.history_views()),
        ]
        ids = {view.terra_user_id for view in views if view is not None and view.reference_id == reference_id}
        ids |= {uid for ref, uid, _, _ in state.unverified if ref == reference_id}
        holds = bool(ids) or any(
            reference_id in kept for kept in (state.attempts, state.rule_sets, state.syncs, state.tokens)
        )
        return ErasureScope(frozenset(ids), holds, state.erasing.get(reference_id))

    def erasure_claims(self, reference_id: str) -> frozenset[str]:
        return frozenset(self._state.claims.get(reference_id, ()))

    def begin_erasure(self, erasure: Erasure) -> Erasure:
        return self._state.erasing.setdefault(erasure.reference_id, erasure)

    def delete_owner_data(self, reference_id: str, terra_user_ids: frozenset[str]) -> int:
        state = self._state
        deleted = 0
        for kept in (state.attempts, state.rule_sets, state.syncs, state.tokens):
            deleted += kept.pop(reference_id, None) is not None
        unverified = [entry for entry in state.unverified if entry[0] != reference_id]
        deleted += len(state.unverified) - len(unverified)
        state.unverified = unverified
        return deleted

    def finish_erasure(self, erasure: Erasure, event: tuple[str, dict[str, Any]], claims: int) -> bool:
        erasing = self._state.erasing
        if erasing.get(erasure.reference_id) != erasure or len(self.erasure_claims(erasure.reference_id)) != claims:
            return False
        del erasing[erasure.reference_id]
        self._state.outbox.append(event)
        return True
