"""One app user's sync, when the app comes back from the widget (POST /v1/connections/sync): the caller's records
repaired from Terra's `userInfo?reference_id=`. At most one real sync per caller per interval; inside it, the registry
answers.

Terra's answers become observations (records.seen_alive) and confirmed absences become endings, merged like any
other fact. A Terra user missing from Terra's answer is only ended after Terra, asked about it by id, no longer
knows it (`confirm`, which the scheduled reconciliation uses too).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from terra_connect.connections.records import Change, ended_by_id, stamp
from terra_connect.connections.registry import ConnectionRegistry
from terra_connect.connections.vocabulary import EndReason
from terra_connect.kernel.deadline import Deadline
from terra_connect.sync.ports import SyncClaims, TerraUsersGateway

if TYPE_CHECKING:  # the sync answers with the API's contract; the scheduled reconciliation never imports it
    from terra_connect.connections.models import ConnectionsResponse
    from terra_connect.connections.service import ConnectionsService

SYNC_MIN_INTERVAL_SECONDS = 30
# Terra users the caller's registry lists but Terra's answer does not: each costs one Terra call to confirm.
MAX_CONFIRMATIONS_PER_SYNC = 5


@dataclass(frozen=True, slots=True)
class SyncResult:
    connections: ConnectionsResponse
    performed: bool  # False: a sync ran within the minimum interval, so this answer is the registry's
    synced_at: datetime | None  # the latest completed sync
    retry_after: int = 0  # seconds until a real sync is allowed again (when not performed)


class SyncService:
    def __init__(
        self,
        registry: ConnectionRegistry,
        claims: SyncClaims,
        terra: TerraUsersGateway,
        connections: ConnectionsService,
        *,
        min_interval: int = SYNC_MIN_INTERVAL_SECONDS,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._registry = registry
        self._claims = claims
        self._terra = terra
        self._connections = connections
        self._min_interval = min_interval
        self._now = now

    def sync(self, reference_id: str, deadline: Deadline) -> SyncResult:
        """Repair the caller's records from Terra, then answer what GET /v1/connections answers."""
        moment = self._now()
        now, seconds = stamp(moment), int(moment.timestamp())
        claim = self._claims.claim_sync(reference_id, seconds, self._min_interval)
        if not claim.claimed:
            last = claim.synced_at
            synced_at = datetime.fromtimestamp(last, UTC) if last is not None else None
            # The interval runs from the claim in force (a sync may still be under way), so this is when the next
            # real sync is allowed.
            since = claim.claimed_at if claim.claimed_at is not None else last
            wait = self._min_interval - (seconds - since) if since is not None else self._min_interval
            return SyncResult(self._connections.list(reference_id, deadline), False, synced_at, max(1, wait))
        try:
            self._repair(reference_id, now, deadline)
        except Exception:
            # A failed sync does not hold the interval: the caller's retry (after the failure's own Retry-After)
            # asks Terra again instead of being answered from the registry it could not repair.
            self._claims.release_sync(reference_id, seconds)
            raise
        self._claims.finish_sync(reference_id, seconds)
        return SyncResult(self._connections.list(reference_id, deadline), True, moment.replace(microsecond=0))

    def _repair(self, reference_id: str, now: int, deadline: Deadline) -> None:
        listed = [
            user if user.reference_id else replace(user, reference_id=reference_id)
            for user in self._terra.users_of(reference_id, deadline)
        ]
        self._registry.observe(listed, now)
        known = {user.terra_user_id for user in listed}
        vanished = [
            c.terra_user_id for c in self._registry.connections(reference_id, deadline) if c.terra_user_id not in known
        ]
        for terra_user_id in vanished[:MAX_CONFIRMATIONS_PER_SYNC]:
            confirm(self._registry, self._terra, terra_user_id, now, deadline)


def confirm(
    registry: ConnectionRegistry, terra: TerraUsersGateway, terra_user_id: str, now: int, deadline: Deadline
) -> int:
    """Ask Terra about one Terra user a listing left out: gone if Terra no longer knows it, observed if it does."""
    found = terra.user(terra_user_id, deadline)
    if found is None:
        return registry.apply(Change(records=(ended_by_id(terra_user_id, now, EndReason.GONE_AT_TERRA),)))
    return registry.observe([found], now)
