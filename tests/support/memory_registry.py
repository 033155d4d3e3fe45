"""The registry's storage in memory: the domain's rules without DynamoDB, for fast property-based tests.

`InMemoryRegistryStore` holds the state of the whole table and one small fake per port over it, named as the
composition names the DynamoDB adapters (entrypoints/shared.RegistryStores), so a test runs on either layout.
Views are derived from the records on every read (StoredUser.live_view / history_views), which is what the
DynamoDB store's view items must always equal; tests/unit/connections/test_registry_dynamodb.py checks that it does.
"""

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from terra_connect.connections.ports import RecordStore
from terra_connect.connections.reauth_rules import RulesAsRead, StoredRules
from terra_connect.connections.records import Change, StoredUser
from terra_connect.connections.registry import ConnectionRegistry
from terra_connect.connections.vocabulary import AuthAttempt, Connection, EndReason, HistoryEntry
from terra_connect.entrypoints.shared import RegistryStores
from terra_connect.erasure.ports import Erasure, MarkerAsRead
from terra_connect.kernel.deadline import Deadline
from terra_connect.kernel.errors import RegistryRejected
from terra_connect.sdk.binding import SdkBinding
from terra_connect.sync.ports import ReconciliationCursor
from tests.support.memory_ports import (
    MemoryDeliveryLog,
    MemoryErasureStore,
    MemoryReconciliationStore,
    MemorySdkTokenStore,
    MemorySyncClaims,
)


@dataclass
class InMemoryRegistryStore:
    stored: dict[str, StoredUser] = field(default_factory=dict)  # Terra user id -> its record
    rule_sets: dict[str, StoredRules] = field(default_factory=dict)
    attempts: dict[str, AuthAttempt] = field(default_factory=dict)
    processed: set[str] = field(default_factory=set)  # delivery ids
    syncs: dict[str, tuple[int | None, int | None]] = field(default_factory=dict)  # reference_id -> (claimed, synced)
    cursor: ReconciliationCursor | None = None
    legacy: dict[str, Change] = field(default_factory=dict)
    # Called before each save, so a test can play a concurrent writer; it sees the store as it is.
    before_save: Callable[["InMemoryRegistryStore"], None] | None = None
    refused: set[str] = field(default_factory=set)  # Terra user ids whose records it refuses, as DynamoDB may
    tokens: dict[str, list[int]] = field(default_factory=dict)  # reference_id -> when SDK tokens were issued
    unverified: list[tuple[str, str, str, int]] = field(default_factory=list)
    saves: int = 0
    # Every record write, as (before, after): what the table's stream would carry (a write that changes nothing
    # never reaches save_user, as DynamoDB writes no stream record for it).
    writes: list[tuple[StoredUser | None, StoredUser]] = field(default_factory=list)
    erasing: dict[str, Erasure] = field(default_factory=dict)
    erased: dict[str, int] = field(default_factory=dict)  # reference_id -> when its latest erasure started
    claims: dict[str, set[str]] = field(default_factory=dict)  # reference_id -> Terra users claimed for its erasure
    outbox: list[tuple[str, dict[str, Any]]] = field(default_factory=list)  # events stored for publishing

    def __post_init__(self) -> None:
        self.records = MemoryRecordStore(self)
        self.deliveries = MemoryDeliveryLog(self)
        self.sdk_tokens = MemorySdkTokenStore(self)
        self.sync_claims = MemorySyncClaims(self)
        self.reconciliation = MemoryReconciliationStore(self)
        self.erasures = MemoryErasureStore(self)

    def snapshot(self) -> dict[str, object]:
        named = {ref for stored in self.stored.values() for ref, _, _ in stored.record.owners}
        return registry_snapshot(self.records, named | set(self.attempts), set(self.stored))


class MemoryRecordStore:
    def __init__(self, state: InMemoryRegistryStore) -> None:
        self._state = state

    def user(self, terra_user_id: str) -> StoredUser | None:
        return self._state.stored.get(terra_user_id)

    def users(self, terra_user_ids: Sequence[str]) -> dict[str, StoredUser]:
        return {uid: self._state.stored[uid] for uid in terra_user_ids if uid in self._state.stored}

    def save_user(
        self,
        user: StoredUser,
        previous: StoredUser | None,
        rules: RulesAsRead | None,
        markers: Sequence[MarkerAsRead] = (),
    ) -> bool:
        state = self._state
        if user.record.terra_user_id in state.refused:
            raise RegistryRejected(log_context={"reason": "refused by the test"})
        if state.before_save is not None:
            hook, state.before_save = state.before_save, None
            hook(state)
        current = state.stored.get(user.record.terra_user_id)
        if (current.version if current else 0) != (previous.version if previous else 0):
            return False
        if rules is not None and self.rules(rules.reference_id).version != rules.version:
            return False
        if any(state.erased.get(reference_id) != erased_at for reference_id, erased_at in markers):
            return False
        state.stored[user.record.terra_user_id] = user
        state.saves += 1
        state.writes.append((current, user))
        return True

    def rules(self, reference_id: str) -> StoredRules:
        return self._state.rule_sets.get(reference_id, StoredRules())

    def save_rules(self, reference_id: str, rules: StoredRules, previous_version: int, fact_at: int) -> bool:
        if self.rules(reference_id).version != previous_version or self._state.erased.get(reference_id, 0) > fact_at:
            return False
        self._state.rule_sets[reference_id] = rules
        return True

    def rule_candidates(self, reference_id: str, provider: str) -> list[str]:
        return [
            uid
            for uid, stored in self._state.stored.items()
            if stored.record.owner == reference_id
            and stored.record.provider == provider
            and (stored.standing.is_live or stored.standing.reason is EndReason.REPLACED_UNNAMED)
        ]

    def live_connections(self, reference_id: str, deadline: Deadline) -> list[Connection]:
        views = (stored.live_view() for stored in self._state.stored.values())
        return [view for view in views if view is not None and view.reference_id == reference_id]

    def history(self, reference_id: str) -> list[HistoryEntry]:
        entries = (entry for stored in self._state.stored.values() for entry in stored.history_views())
        return [entry for entry in entries if entry.reference_id == reference_id]

    def record_attempt(self, reference_id: str, attempt: AuthAttempt) -> None:
        current = self._state.attempts.get(reference_id)
        if attempt.order()[0] < self._state.erased.get(reference_id, 0):
            return
        if current is None or current.order() < attempt.order():
            self._state.attempts[reference_id] = attempt

    def last_attempt(self, reference_id: str) -> AuthAttempt | None:
        """In whole seconds, as the table keeps it (the milliseconds order attempts, they are not shown)."""
        attempt = self._state.attempts.get(reference_id)
        return replace(attempt, at=attempt.at.replace(microsecond=0)) if attempt and attempt.at else attempt


Stores = InMemoryRegistryStore | RegistryStores  # either layout, through the same port names


def registry_over(stores: Stores, binding: SdkBinding | None = None) -> ConnectionRegistry:
    return ConnectionRegistry(stores.records, stores.erasures, stores.deliveries, binding)


def registry_snapshot(store: RecordStore, owners: Iterable[str], terra_user_ids: Iterable[str]) -> dict[str, object]:
    """Everything an app user could see, and every record's merged facts: what convergence compares."""
    deadline = Deadline.after(60)
    owners, stored = sorted(owners), store.users(sorted(terra_user_ids))
    return {
        "records": {uid: (s.record, s.standing) for uid, s in sorted(stored.items())},
        "listed": {ref: sorted(store.live_connections(ref, deadline), key=repr) for ref in owners},
        "history": {ref: sorted(store.history(ref), key=repr) for ref in owners},
        "attempts": {ref: store.last_attempt(ref) for ref in owners},
        "rules": {ref: store.rules(ref).rules for ref in owners},
    }
