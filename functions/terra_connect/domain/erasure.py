"""Erase an app user: disconnect every Terra user of theirs at Terra, then forget them.

The steps, each safe to repeat, so that a retry after any failure finishes the job:

1. Read what the registry holds for the app user and every Terra user Terra lists under their reference_id. When
   neither knows anything and no erasure is under way, there is nothing to erase and nothing is published; only
   the refusal of step 2 is put in place, for deliveries still in flight.
2. Begin: record the erasure (its id and start). From then on, facts naming the app user from before the start
   are refused: a late `auth` cannot give them back a connection, a late failure cannot recreate their last
   attempt.
3. For each Terra user: deauthenticate it at Terra (404: already gone) *before* the registry lets it go, so the
   registry never says gone while Terra still holds it; then replace its record with a tombstone that keeps only
   the Terra user id, refuses every later fact about it, and expires after the history retention. Whose a Terra
   user is comes from Terra's answer now, as the registry may lag behind a delivery still in flight: one Terra
   lists under another app user is not the erased one's to disconnect, and the erased one is only struck from
   its former owners; one Terra no longer knows is only tombstoned.
4. Delete everything else stored for the app user: history, attempts, reauth rules, SDK tokens issued, sync
   markers, unverified claims.
5. Finish: end the erasure and store its event in one write; the table's stream publishes it (lifecycle.py).

Terra's deauthentication deletes Terra's copy of the data. The erased app user may connect again afterwards: their
next connection is a new Terra user, and its facts are newer than the erasure.
"""

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

from terra_connect.domain.deadline import Deadline
from terra_connect.domain.lifecycle import erased_event
from terra_connect.domain.ports import Erasure, RegistryStore, TerraConnectionsGateway, TerraUsersGateway
from terra_connect.domain.records import stamp
from terra_connect.domain.registry import ConnectionRegistry, Erased


class ErasureGateway(TerraConnectionsGateway, TerraUsersGateway, Protocol):
    """Terra, as an erasure needs it: list the app user's Terra users and deauthenticate each one."""


@dataclass(frozen=True, slots=True)
class ErasureReport:
    erased: bool  # False: nothing was stored for the app user and Terra listed nobody
    deauthenticated: int = 0  # Terra users disconnected at Terra now (not those Terra no longer knew)
    tombstoned: int = 0
    forgotten: int = 0  # Terra users another app user owns now, the erased one struck from their owners
    items_deleted: int = 0


class ErasureService:
    def __init__(
        self,
        registry: ConnectionRegistry,
        store: RegistryStore,
        terra: ErasureGateway,
        *,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._registry = registry
        self._store = store
        self._terra = terra
        self._now = now

    def erase(self, reference_id: str, deadline: Deadline, *, requested_by: str = "user") -> ErasureReport:
        # Before Terra is asked: a Terra user created after Terra's answer is signed after the start, so its
        # `auth` still names the app user (it is a new connection, not one the erasure missed).
        started = stamp(self._now())
        scope = self._store.erasure_scope(reference_id)
        # Terra's answer now decides whose each Terra user is (the registry may lag behind a delivery in flight).
        at_terra = {user.terra_user_id: user for user in self._terra.users_of(reference_id, deadline)}
        unlisted = sorted(scope.terra_user_ids - at_terra.keys())
        if unlisted:
            at_terra |= {user.terra_user_id: user for user in self._terra.users_by_ids(unlisted, deadline)}
        terra_user_ids = scope.terra_user_ids | {
            uid for uid, user in at_terra.items() if user.reference_id == reference_id
        }
        stored = self._store.users(sorted(terra_user_ids))
        tombstoned_before = {uid for uid, user in stored.items() if user.erased}
        if not (scope.holds_data or terra_user_ids - tombstoned_before or scope.pending):
            # Nothing (left) to erase, nothing to publish. Terra may still list what an earlier erasure
            # deauthenticated: ask again. Deliveries still in flight must not store anything about the app user.
            again = sum(self._terra.deauthenticate_user(uid, deadline) for uid in sorted(tombstoned_before))
            self._store.mark_erased(reference_id, started)
            return ErasureReport(erased=False, deauthenticated=again)
        erasure = scope.pending or self._store.begin_erasure(
            Erasure(_erasure_id(reference_id, started), reference_id, started, requested_by)
        )
        deauthenticated = tombstoned = forgotten = 0
        for terra_user_id in sorted(terra_user_ids):
            terra_user = at_terra.get(terra_user_id)
            terra_owner = terra_user.reference_id if terra_user is not None else None
            if terra_owner is not None:
                theirs = terra_owner == reference_id
            else:  # Terra does not know it, or ties it to nobody: the registry says whose it is
                known = stored.get(terra_user_id)
                theirs = known is None or known.record.owner in (None, reference_id)
            if theirs and terra_user is not None:
                # Terra first: a failure here leaves the registry as it was, and the retry asks Terra again.
                deauthenticated += self._terra.deauthenticate_user(terra_user_id, deadline)
            outcome = self._registry.erase(reference_id, terra_user_id, erasure.started_at, forget_only=not theirs)
            tombstoned += outcome is Erased.TOMBSTONED
            forgotten += outcome is Erased.FORGOTTEN
        deleted = self._store.delete_owner_data(reference_id, frozenset(terra_user_ids))
        self._store.finish_erasure(erasure, erased_event(erasure).entry())
        return ErasureReport(True, deauthenticated, tombstoned, forgotten, deleted)


def _erasure_id(reference_id: str, started: int) -> str:
    return hashlib.sha256(f"{reference_id}\x1f{started}".encode()).hexdigest()[:32]
