"""What sync and reconciliation need: Terra's view of its users, and the registry's sync claims, scan and cursor."""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from terra_connect.connections.records import Change, StoredUser
from terra_connect.connections.vocabulary import TerraUser
from terra_connect.kernel.deadline import Deadline


@dataclass(frozen=True, slots=True)
class UsersPage:
    users: tuple[TerraUser, ...]
    next_page: int | None  # None: this was the last page
    unusable: int = 0  # users on the page the registry could never store (ids beyond its bounds)


class TerraUsersGateway(Protocol):
    """Terra's own view of its users, for reconciliation."""

    def users_of(self, reference_id: str, deadline: Deadline) -> list[TerraUser]:
        """Every Terra user registered under the reference_id (none when Terra knows none)."""
        ...

    def user(self, terra_user_id: str, deadline: Deadline) -> TerraUser | None:
        """The Terra user, or None when Terra does not know it (any more)."""
        ...

    def users_page(self, page: int, per_page: int, deadline: Deadline) -> UsersPage: ...

    def users_by_ids(self, terra_user_ids: Sequence[str], deadline: Deadline) -> list[TerraUser]:
        """Those of the ids Terra still knows."""
        ...


@dataclass(frozen=True, slots=True)
class SyncClaim:
    claimed: bool  # False: another sync ran within the minimum interval
    synced_at: int | None  # the last sync that completed, in seconds since the epoch
    claimed_at: int | None = None  # when the claim in force was taken (seconds): the interval runs from it


@dataclass(frozen=True, slots=True)
class ScanPage:
    """A page of the whole registry, for reconciliation."""

    users: tuple[StoredUser, ...]
    # Items stored by an earlier version of the registry, each as the facts it holds and a token to drop it.
    legacy: tuple[tuple[str, Change], ...]
    cursor: str | None  # None: the scan is complete


@dataclass(frozen=True, slots=True)
class ReconciliationCursor:
    """Where the background reconciliation stands, so a run that runs out of time resumes there (times: stamps)."""

    started_at: int
    phase: str  # "walk" (Terra's user list) or "confirm" (the registry's live users Terra did not list)
    page: int = 0
    scan: str | None = None
    finished_at: int | None = None


class SyncClaims(Protocol):
    """At most one sync per app user per interval: the claim a sync takes, and when the last one completed."""

    def claim_sync(self, reference_id: str, now: int, min_interval: int) -> SyncClaim: ...

    def finish_sync(self, reference_id: str, now: int) -> None: ...

    def release_sync(self, reference_id: str, claimed_at: int) -> None:
        """Give up the claim taken at `claimed_at` (the sync failed), unless another sync has claimed since."""
        ...


class ReconciliationStore(Protocol):
    """The whole registry page by page, and where the background reconciliation stands."""

    def scan(self, cursor: str | None, limit: int) -> ScanPage: ...

    def drop_legacy(self, token: str) -> None: ...

    def reconciliation_cursor(self) -> ReconciliationCursor | None: ...

    def save_reconciliation_cursor(self, cursor: ReconciliationCursor) -> None: ...
