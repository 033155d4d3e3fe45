"""Erase an app user: disconnect every Terra user of theirs at Terra, then forget them.

The steps, each safe to repeat, so that a retry after any failure finishes the job:

1. Mark: record when the erasure started, before anything is read or asked. From then on, a fact naming the app
   user from before the start is refused - a late `auth` cannot give them back a connection, a late failure cannot
   recreate their last attempt - and its Terra user is claimed for the erasure instead: Terra's list may lag
   behind a connection made just before the start, but the fact that tells of it cannot slip in unseen. Every
   write naming the app user checks the marker it read, so none lands after step 2 read the registry.
2. Read what the registry holds for the app user, the Terra users claimed so far, and every Terra user Terra lists
   under their reference_id. When none of them holds anything and no erasure is under way, there is nothing to
   erase and no erasure is published; the refusal of step 1 stays, for deliveries still in flight. The purge of
   step 5 is asked for all the same: the data table keeps records until they are erased, after the registry's
   history of the app user expired.
3. For each Terra user: deauthenticate it at Terra (404: already gone) *before* the registry lets it go, so the
   registry never says gone while Terra still holds it; then replace its record with a tombstone that keeps only
   the Terra user id, refuses every later fact about it, and expires after the history retention. Whose a Terra
   user is comes from Terra's answer now, as the registry may lag behind a delivery still in flight: one Terra
   lists under another app user is not the erased one's to disconnect, and the erased one is only struck from
   its former owners; one Terra no longer knows is only tombstoned. Terra users claimed meanwhile get the same,
   until no new claim comes.
4. Delete everything else stored for the app user: history, attempts, reauth rules, SDK tokens issued, sync
   markers, unverified claims.
5. Ask for the purge of the app user's stored health data (data_erasure/service.py): every record, payload and
   backfill state under their partition and each Terra user erased as theirs (not one only forgotten: its data
   is its new owner's), with every object version they name.
   Before the finish: when the request cannot be queued the erasure fails, and its retry asks again.
6. Finish: end the erasure and store its event in one write, if no Terra user was claimed since step 3 last looked
   (else back to 3); the table's stream publishes it (lifecycle_events/events.py).

Terra's deauthentication deletes Terra's copy of the data. The erased app user may connect again afterwards: their
next connection is a new Terra user, and its facts are newer than the erasure. A fact from before the start that
arrives after the erasure finished still claims its Terra user: the next erasure of the app user disconnects it.
"""

import hashlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

from terra_connect.connections.ports import RecordStore, TerraConnectionsGateway
from terra_connect.connections.records import StoredUser, stamp
from terra_connect.connections.registry import ConnectionRegistry, Erased
from terra_connect.connections.vocabulary import TerraUser
from terra_connect.data_erasure.models import PurgeRequest
from terra_connect.data_erasure.ports import PurgeRequests
from terra_connect.erasure.ports import Erasure, ErasureStore
from terra_connect.kernel.deadline import Deadline
from terra_connect.lifecycle_events.events import erased_event
from terra_connect.sync.ports import TerraUsersGateway


class ErasureGateway(TerraConnectionsGateway, TerraUsersGateway, Protocol):
    """Terra, as an erasure needs it: list the app user's Terra users and deauthenticate each one."""


@dataclass(frozen=True, slots=True)
class ErasureReport:
    erased: bool  # False: nothing was stored for the app user and Terra listed nobody
    deauthenticated: int = 0  # Terra users disconnected at Terra now (not those Terra no longer knew)
    tombstoned: int = 0
    forgotten: int = 0  # Terra users another app user owns now, the erased one struck from their owners
    items_deleted: int = 0

    def __add__(self, other: "ErasureReport") -> "ErasureReport":
        return ErasureReport(
            self.erased or other.erased,
            self.deauthenticated + other.deauthenticated,
            self.tombstoned + other.tombstoned,
            self.forgotten + other.forgotten,
            self.items_deleted + other.items_deleted,
        )


class ErasureService:
    def __init__(
        self,
        registry: ConnectionRegistry,
        records: RecordStore,
        erasures: ErasureStore,
        terra: ErasureGateway,
        *,
        purges: PurgeRequests | None = None,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        """`purges`: where the purge of the stored health data is asked for; None in a deployment that keeps none."""
        self._purges = purges
        self._registry = registry
        self._records = records
        self._erasures = erasures
        self._terra = terra
        self._now = now

    def erase(self, reference_id: str, deadline: Deadline, *, requested_by: str = "user") -> ErasureReport:
        started = stamp(self._now())
        self._erasures.mark_erased(reference_id, started)  # step 1: before the registry is read or Terra is asked
        scope = self._erasures.erasure_scope(reference_id)
        claimed = self._erasures.erasure_claims(reference_id)
        # Terra's answer now decides whose each Terra user is (the registry may lag behind a delivery in flight).
        at_terra = {user.terra_user_id: user for user in self._terra.users_of(reference_id, deadline)}
        known = scope.terra_user_ids | claimed
        unlisted = sorted(known - at_terra.keys())
        if unlisted:
            at_terra |= {user.terra_user_id: user for user in self._terra.users_by_ids(unlisted, deadline)}
        terra_user_ids = known | {uid for uid, user in at_terra.items() if user.reference_id == reference_id}
        stored = self._records.users(sorted(terra_user_ids))
        tombstoned_before = {uid for uid, user in stored.items() if user.erased}
        if not (scope.holds_data or terra_user_ids - tombstoned_before or scope.pending):
            # Nothing (left) to erase, nothing to publish. Terra may still list what an earlier erasure
            # deauthenticated: ask again. Deliveries still in flight are refused by the marker - and claimed: the
            # last look, so that nothing claimed while this ran is left for the next erasure.
            again = sum(self._terra.deauthenticate_user(uid, deadline) for uid in sorted(tombstoned_before))
            if not self._erasures.erasure_claims(reference_id) - known:
                # The registry may have forgotten the app user (their history expired) while the data table still
                # holds their records, kept until erased: the purge is asked for all the same.
                theirs = {uid for uid in tombstoned_before if _owner_at_terra(at_terra, uid) in (None, reference_id)}
                self._request_purge(
                    Erasure(_erasure_id(reference_id, started), reference_id, started, requested_by), theirs
                )
                return ErasureReport(erased=False, deauthenticated=again)
        erasure = scope.pending or self._erasures.begin_erasure(
            Erasure(_erasure_id(reference_id, started), reference_id, started, requested_by)
        )
        report, theirs = self._erase_users(
            reference_id, erasure, sorted(terra_user_ids), at_terra=at_terra, stored=stored, deadline=deadline
        )
        handled = set(terra_user_ids)
        while True:
            claimed = self._erasures.erasure_claims(reference_id)
            new = sorted(claimed - handled)
            if new:
                found = {user.terra_user_id: user for user in self._terra.users_by_ids(new, deadline)}
                stored = self._records.users(new)
                more, more_theirs = self._erase_users(
                    reference_id, erasure, new, at_terra=found, stored=stored, deadline=deadline
                )
                report += more
                theirs |= more_theirs
                handled |= set(new)
                continue
            report += ErasureReport(
                True, items_deleted=self._erasures.delete_owner_data(reference_id, frozenset(handled))
            )
            self._request_purge(erasure, theirs)
            if self._erasures.finish_erasure(erasure, erased_event(erasure).entry(), len(claimed)):
                return report
            pending = self._erasures.erasure_scope(reference_id).pending
            if pending is None or pending.id != erasure.id:
                return report  # it had already finished (a concurrent retry; maybe another erasure began since)
            # A delivery claimed a Terra user since `claimed` was read - possibly one already handled, which
            # changes the count all the same: handle what is new, then finish with the count as it is now.

    def _request_purge(self, erasure: Erasure, terra_user_ids: set[str]) -> None:
        """Only the Terra users erased for the app user: the data and backfill state of one another app user owns
        now (forgotten only) are theirs."""
        if self._purges is not None:
            self._purges.request(
                PurgeRequest(
                    erasure.id,
                    erasure.reference_id,
                    tuple(sorted(terra_user_ids)),
                    erasure.started_at,
                    erasure.requested_by,
                )
            )

    def _erase_users(
        self,
        reference_id: str,
        erasure: Erasure,
        terra_user_ids: Sequence[str],
        *,
        at_terra: Mapping[str, TerraUser],
        stored: Mapping[str, StoredUser],
        deadline: Deadline,
    ) -> tuple[ErasureReport, set[str]]:
        """What was done, and the Terra users that were the app user's (tombstoned, not only forgotten)."""
        report = ErasureReport(True)
        theirs_all: set[str] = set()
        for terra_user_id in terra_user_ids:
            terra_user = at_terra.get(terra_user_id)
            terra_owner = terra_user.reference_id if terra_user is not None else None
            if terra_owner is not None:
                theirs = terra_owner == reference_id
            else:  # Terra does not know it, or ties it to nobody: the registry says whose it is
                known = stored.get(terra_user_id)
                theirs = known is None or known.record.owner in (None, reference_id)
            if theirs:
                theirs_all.add(terra_user_id)
            deauthenticated = 0
            if theirs and terra_user is not None:
                # Terra first: a failure here leaves the registry as it was, and the retry asks Terra again.
                deauthenticated = int(self._terra.deauthenticate_user(terra_user_id, deadline))
            outcome = self._registry.erase(reference_id, terra_user_id, erasure.started_at, forget_only=not theirs)
            report += ErasureReport(
                True,
                deauthenticated,
                tombstoned=int(outcome is Erased.TOMBSTONED),
                forgotten=int(outcome is Erased.FORGOTTEN),
            )
        return report, theirs_all


def _owner_at_terra(at_terra: Mapping[str, TerraUser], terra_user_id: str) -> str | None:
    user = at_terra.get(terra_user_id)
    return user.reference_id if user is not None else None


def _erasure_id(reference_id: str, started: int) -> str:
    return hashlib.sha256(f"{reference_id}\x1f{started}".encode()).hexdigest()[:32]
