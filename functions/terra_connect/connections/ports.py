"""What the registry needs: Terra's connection operations, and storage for its records and the deliveries it
processed."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

from terra_connect.connections.reauth_rules import RulesAsRead, StoredRules
from terra_connect.connections.records import StoredUser
from terra_connect.connections.vocabulary import AuthAttempt, Connection, HistoryEntry
from terra_connect.erasure.ports import MarkerAsRead
from terra_connect.kernel.deadline import Deadline

if TYPE_CHECKING:  # only the Terra port's signatures name them: the webhook function never imports the API models
    from terra_connect.terra.messages import AuthUrlParams, TerraAuthUrl


class TerraConnectionsGateway(Protocol):
    def authenticate_user(self, params: AuthUrlParams, deadline: Deadline) -> TerraAuthUrl: ...

    def deauthenticate_user(self, terra_user_id: str, deadline: Deadline) -> bool: ...


class RecordStore(Protocol):
    """The Terra users' records, the views their owners see of them, the owners' reauth rules and latest attempts.
    Every write is conditional on what was read, so concurrent writers never lose each other's facts: a False
    answer means "read again and retry"."""

    def user(self, terra_user_id: str) -> StoredUser | None: ...

    def users(self, terra_user_ids: Sequence[str]) -> dict[str, StoredUser]: ...

    def save_user(
        self,
        user: StoredUser,
        previous: StoredUser | None,
        rules: RulesAsRead | None,
        markers: Sequence[MarkerAsRead] = (),
    ) -> bool:
        """Store `user` and the views of it its owners list, if the stored version is still `previous`, the
        owner's reauth rules are still at the version read, and each erasure marker in `markers` is still as read.
        False on a conflict."""
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


class DeliveryLog(Protocol):
    """The webhook deliveries already processed (Terra retries a delivery it saw no answer to)."""

    def already_processed(self, delivery_id: str) -> bool: ...

    def mark_processed(self, delivery_id: str, at: datetime) -> None: ...
