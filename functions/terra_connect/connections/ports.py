"""What the registry needs: Terra's connection operations, and storage for its records."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from terra_connect.connections.records import StoredRules, StoredUser
from terra_connect.connections.vocabulary import AuthAttempt, Connection, HistoryEntry
from terra_connect.erasure.ports import Erasure, ErasureScope
from terra_connect.kernel.deadline import Deadline
from terra_connect.sync.ports import ReconciliationCursor, ScanPage, SyncClaim

if TYPE_CHECKING:  # only the Terra port's signatures name them: the webhook function never imports the API models
    from terra_connect.terra.messages import AuthUrlParams, TerraAuthUrl


class TerraConnectionsGateway(Protocol):
    def authenticate_user(self, params: AuthUrlParams, deadline: Deadline) -> TerraAuthUrl: ...

    def deauthenticate_user(self, terra_user_id: str, deadline: Deadline) -> bool: ...


class RegistryStore(Protocol):
    """Storage for the registry. Every write is conditional on what was read, so concurrent writers never lose
    each other's facts: a False answer means "read again and retry"."""

    def user(self, terra_user_id: str) -> StoredUser | None: ...

    def users(self, terra_user_ids: Sequence[str]) -> dict[str, StoredUser]: ...

    def save_user(
        self,
        user: StoredUser,
        previous: StoredUser | None,
        rules: tuple[str, int] | None,
        markers: Sequence[tuple[str, int | None]] = (),
    ) -> bool:
        """Store `user` and the views of it its owners list, if the stored version is still `previous`, the
        owner's reauth rules are still at the (reference_id, version) read, and each (reference_id, erasure start)
        in `markers` is still the erasure marker read (None: no marker). False on a conflict."""
        ...

    def rules(self, reference_id: str) -> StoredRules: ...

    def save_rules(self, reference_id: str, rules: StoredRules, previous_version: int, fact_at: int) -> bool:
        """False on a conflict, or when an erasure of the app user started after `fact_at`."""
        ...

    def rule_candidates(self, reference_id: str, provider: str) -> list[str]:
        """The reference_id's Terra users of `provider` that an unnamed reauth may change: live, or replaced by one."""
        ...

    def live_connections(self, reference_id: str, deadline: Deadline) -> list[Connection]:
        """Every live connection the reference_id owns, however many records it has."""
        ...

    def history(self, reference_id: str) -> list[HistoryEntry]: ...

    def record_attempt(self, reference_id: str, attempt: AuthAttempt) -> None:
        """Keep the attempt if it is later (AuthAttempt.order) than the one stored."""
        ...

    def last_attempt(self, reference_id: str) -> AuthAttempt | None: ...

    def already_processed(self, delivery_id: str) -> bool: ...

    def mark_processed(self, delivery_id: str, at: datetime) -> None: ...

    def record_sdk_token(self, reference_id: str, issued_at: int, keep_until: int) -> None:
        """Remember that a mobile SDK token was issued to the reference_id (stamps), until `keep_until`."""
        ...

    def sdk_tokens_issued(self, reference_id: str) -> list[int]:
        """When tokens still remembered were issued to the reference_id."""
        ...

    def record_unverified(self, reference_id: str, terra_user_id: str, provider: str, at: int) -> None:
        """An SDK connection claimed for the reference_id that no token issued to it backs: kept for the history
        retention, for the operator to see (not when an erasure of the app user started after `at`)."""
        ...

    def was_unverified(self, reference_id: str, terra_user_id: str) -> bool:
        """Whether an SDK connection of the Terra user was recorded as unverified for the reference_id."""
        ...

    def claim_sync(self, reference_id: str, now: int, min_interval: int) -> SyncClaim: ...

    def finish_sync(self, reference_id: str, now: int) -> None: ...

    def release_sync(self, reference_id: str, claimed_at: int) -> None:
        """Give up the claim taken at `claimed_at` (the sync failed), unless another sync has claimed since."""
        ...

    def scan(self, cursor: str | None, limit: int) -> ScanPage: ...

    def drop_legacy(self, token: str) -> None: ...

    def reconciliation_cursor(self) -> ReconciliationCursor | None: ...

    def erasure_scope(self, reference_id: str) -> ErasureScope: ...

    def begin_erasure(self, erasure: Erasure) -> Erasure:
        """Record that the erasure is under way; an erasure already under way for the app user is returned
        instead, so a retry finishes it."""
        ...

    def mark_erased(self, reference_id: str, at: int) -> None:
        """Refuse facts naming the app user from before `at` (the erasure marker; never moved earlier)."""
        ...

    def erased_at(self, reference_id: str) -> int | None:
        """When the app user's latest erasure started, while that is remembered (the history retention)."""
        ...

    def claim_for_erasure(self, reference_id: str, terra_user_id: str) -> None:
        """A fact from before the app user's erasure named them for this Terra user: the erasure must ask Terra
        about it (kept with the erasure marker, which holds Terra user ids only)."""
        ...

    def erasure_claims(self, reference_id: str) -> frozenset[str]:
        """Every Terra user claimed for the app user's erasure so far (they only ever grow)."""
        ...

    def delete_owner_data(self, reference_id: str, terra_user_ids: frozenset[str]) -> int:
        """Delete everything stored for the app user but the erasure under way, and the views of Terra users
        other than `terra_user_ids` (connections made while the erasure ran; their records own those views).
        Returns how many items went."""
        ...

    def finish_erasure(self, erasure: Erasure, event: tuple[str, dict[str, Any]], claims: int) -> bool:
        """End the erasure and store its event for publishing, in one write, if the erasure marker still holds
        `claims` claims (else a fact claimed another Terra user meanwhile: handle it first). False if it had
        already ended, or on a new claim."""
        ...

    def save_reconciliation_cursor(self, cursor: ReconciliationCursor) -> None: ...
