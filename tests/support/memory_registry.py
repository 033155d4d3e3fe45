"""An in-memory RegistryStore: the domain's rules without DynamoDB, for fast property-based tests.

Views are derived from the records on every read (StoredUser.live_view / history_views), which is what the
DynamoDB store's view items must always equal; tests/unit/connections/test_registry_dynamodb.py checks that it does.
"""

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from terra_connect.connections.ports import RegistryStore
from terra_connect.connections.records import Change, StoredRules, StoredUser
from terra_connect.connections.vocabulary import AuthAttempt, Connection, EndReason, HistoryEntry
from terra_connect.erasure.ports import Erasure, ErasureScope
from terra_connect.kernel.deadline import Deadline
from terra_connect.kernel.errors import RegistryRejected
from terra_connect.sync.ports import ReconciliationCursor, ScanPage, SyncClaim


@dataclass
class InMemoryRegistryStore:
    records: dict[str, StoredUser] = field(default_factory=dict)
    rule_sets: dict[str, StoredRules] = field(default_factory=dict)
    attempts: dict[str, AuthAttempt] = field(default_factory=dict)
    deliveries: set[str] = field(default_factory=set)
    syncs: dict[str, tuple[int | None, int | None]] = field(default_factory=dict)  # reference_id -> (claimed, synced)
    cursor: ReconciliationCursor | None = None
    legacy: dict[str, Change] = field(default_factory=dict)
    # Called before each save, so a test can play a concurrent writer; it sees the store as it is.
    before_save: Callable[["InMemoryRegistryStore"], None] | None = None
    refused: set[str] = field(default_factory=set)  # Terra user ids whose records it refuses, as DynamoDB may
    sdk_tokens: dict[str, list[int]] = field(default_factory=dict)
    unverified: list[tuple[str, str, str, int]] = field(default_factory=list)
    saves: int = 0
    # Every record write, as (before, after): what the table's stream would carry (a write that changes nothing
    # never reaches save_user, as DynamoDB writes no stream record for it).
    writes: list[tuple[StoredUser | None, StoredUser]] = field(default_factory=list)
    erasing: dict[str, Erasure] = field(default_factory=dict)
    erased: dict[str, int] = field(default_factory=dict)  # reference_id -> when its latest erasure started
    claims: dict[str, set[str]] = field(default_factory=dict)  # reference_id -> Terra users claimed for its erasure
    outbox: list[tuple[str, dict[str, Any]]] = field(default_factory=list)  # events stored for publishing

    def user(self, terra_user_id: str) -> StoredUser | None:
        return self.records.get(terra_user_id)

    def users(self, terra_user_ids: Sequence[str]) -> dict[str, StoredUser]:
        return {uid: self.records[uid] for uid in terra_user_ids if uid in self.records}

    def save_user(
        self,
        user: StoredUser,
        previous: StoredUser | None,
        rules: tuple[str, int] | None,
        markers: Sequence[tuple[str, int | None]] = (),
    ) -> bool:
        if user.record.terra_user_id in self.refused:
            raise RegistryRejected(log_context={"reason": "refused by the test"})
        if self.before_save is not None:
            hook, self.before_save = self.before_save, None
            hook(self)
        current = self.records.get(user.record.terra_user_id)
        if (current.version if current else 0) != (previous.version if previous else 0):
            return False
        if rules is not None and self.rules(rules[0]).version != rules[1]:
            return False
        if any(self.erased.get(reference_id) != erased_at for reference_id, erased_at in markers):
            return False
        self.records[user.record.terra_user_id] = user
        self.saves += 1
        self.writes.append((current, user))
        return True

    def rules(self, reference_id: str) -> StoredRules:
        return self.rule_sets.get(reference_id, StoredRules())

    def save_rules(self, reference_id: str, rules: StoredRules, previous_version: int, fact_at: int) -> bool:
        if self.rules(reference_id).version != previous_version or self.erased.get(reference_id, 0) > fact_at:
            return False
        self.rule_sets[reference_id] = rules
        return True

    def rule_candidates(self, reference_id: str, provider: str) -> list[str]:
        return [
            uid
            for uid, stored in self.records.items()
            if stored.record.owner == reference_id
            and stored.record.provider == provider
            and (stored.standing.is_live or stored.standing.reason is EndReason.REPLACED_UNNAMED)
        ]

    def live_connections(self, reference_id: str, deadline: Deadline) -> list[Connection]:
        views = (stored.live_view() for stored in self.records.values())
        return [view for view in views if view is not None and view.reference_id == reference_id]

    def history(self, reference_id: str) -> list[HistoryEntry]:
        entries = (entry for stored in self.records.values() for entry in stored.history_views())
        return [entry for entry in entries if entry.reference_id == reference_id]

    def record_attempt(self, reference_id: str, attempt: AuthAttempt) -> None:
        current = self.attempts.get(reference_id)
        if attempt.order()[0] < self.erased.get(reference_id, 0):
            return
        if current is None or current.order() < attempt.order():
            self.attempts[reference_id] = attempt

    def last_attempt(self, reference_id: str) -> AuthAttempt | None:
        """In whole seconds, as the table keeps it (the milliseconds order attempts, they are not shown)."""
        attempt = self.attempts.get(reference_id)
        return replace(attempt, at=attempt.at.replace(microsecond=0)) if attempt and attempt.at else attempt

    def already_processed(self, delivery_id: str) -> bool:
        return delivery_id in self.deliveries

    def mark_processed(self, delivery_id: str, at: datetime) -> None:
        self.deliveries.add(delivery_id)

    def record_sdk_token(self, reference_id: str, issued_at: int, keep_until: int) -> None:
        self.sdk_tokens.setdefault(reference_id, []).append(issued_at)

    def sdk_tokens_issued(self, reference_id: str) -> list[int]:
        return list(self.sdk_tokens.get(reference_id, []))

    def record_unverified(self, reference_id: str, terra_user_id: str, provider: str, at: int) -> None:
        if self.erased.get(reference_id, 0) <= at:
            self.unverified.append((reference_id, terra_user_id, provider, at))

    def was_unverified(self, reference_id: str, terra_user_id: str) -> bool:
        return any(entry[:2] == (reference_id, terra_user_id) for entry in self.unverified)

    def claim_sync(self, reference_id: str, now: int, min_interval: int) -> SyncClaim:
        claimed, synced = self.syncs.get(reference_id, (None, None))
        if claimed is not None and claimed > now - min_interval:
            return SyncClaim(False, synced, claimed)
        self.syncs[reference_id] = (now, synced)
        return SyncClaim(True, synced)

    def finish_sync(self, reference_id: str, now: int) -> None:
        claimed, _ = self.syncs.get(reference_id, (now, None))
        self.syncs[reference_id] = (claimed if claimed is not None else now, now)

    def release_sync(self, reference_id: str, claimed_at: int) -> None:
        claimed, synced = self.syncs.get(reference_id, (None, None))
        if claimed == claimed_at:
            self.syncs[reference_id] = (None, synced)

    def scan(self, cursor: str | None, limit: int) -> ScanPage:
        ids = sorted(self.records)
        start = int(cursor or 0)
        page = ids[start : start + limit]
        legacy = tuple(self.legacy.items()) if start == 0 else ()
        after = start + limit
        return ScanPage(tuple(self.records[uid] for uid in page), legacy, str(after) if after < len(ids) else None)

    def drop_legacy(self, token: str) -> None:
        self.legacy.pop(token, None)

    def reconciliation_cursor(self) -> ReconciliationCursor | None:
        return self.cursor

    def save_reconciliation_cursor(self, cursor: ReconciliationCursor) -> None:
        self.cursor = cursor

    def erasure_scope(self, reference_id: str) -> ErasureScope:
        views = [
            *(stored.live_view() for stored in self.records.values()),
            *(entry for stored in self.records.values() for entry in stored.history_views()),
        ]
        ids = {view.terra_user_id for view in views if view is not None and view.reference_id == reference_id}
        ids |= {uid for ref, uid, _, _ in self.unverified if ref == reference_id}
        holds = bool(ids) or any(
            reference_id in kept for kept in (self.attempts, self.rule_sets, self.syncs, self.sdk_tokens)
        )
        return ErasureScope(frozenset(ids), holds, self.erasing.get(reference_id))

    def begin_erasure(self, erasure: Erasure) -> Erasure:
        return self.erasing.setdefault(erasure.reference_id, erasure)

    def mark_erased(self, reference_id: str, at: int) -> None:
        self.erased[reference_id] = max(at, self.erased.get(reference_id, at))

    def erased_at(self, reference_id: str) -> int | None:
        return self.erased.get(reference_id)

    def claim_for_erasure(self, reference_id: str, terra_user_id: str) -> None:
        if reference_id in self.erased:
            self.claims.setdefault(reference_id, set()).add(terra_user_id)

    def erasure_claims(self, reference_id: str) -> frozenset[str]:
        return frozenset(self.claims.get(reference_id, ()))

    def delete_owner_data(self, reference_id: str, terra_user_ids: frozenset[str]) -> int:
        deleted = 0
        for kept in (self.attempts, self.rule_sets, self.syncs, self.sdk_tokens):
            deleted += kept.pop(reference_id, None) is not None
        unverified = [entry for entry in self.unverified if entry[0] != reference_id]
        deleted += len(self.unverified) - len(unverified)
        self.unverified = unverified
        return deleted

    def finish_erasure(self, erasure: Erasure, event: tuple[str, dict[str, Any]], claims: int) -> bool:
        if (
            self.erasing.get(erasure.reference_id) != erasure
            or len(self.erasure_claims(erasure.reference_id)) != claims
        ):
            return False
        del self.erasing[erasure.reference_id]
        self.outbox.append(event)
        return True

    def snapshot(self) -> dict[str, object]:
        named = {ref for stored in self.records.values() for ref, _, _ in stored.record.owners}
        return registry_snapshot(self, named | set(self.attempts), set(self.records))


def registry_snapshot(store: RegistryStore, owners: Iterable[str], terra_user_ids: Iterable[str]) -> dict[str, object]:
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
