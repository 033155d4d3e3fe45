"""The connection registry: facts in (Terra's webhooks, reconciliation, the API's own actions), views out.

Each fact is merged into the Terra user's record (see records.py) under optimistic concurrency: read, merge,
write if nobody wrote since; on a conflict, read again. The record's standing - and so what its owner lists -
is a function of the merged record and of the owner's unnamed reauths, and both only grow, so the registry ends
in the same state whatever order the facts arrive in, however often they are repeated.
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum

from terra_connect.connections.owners import ERASED_OWNER, Binding, OwnerEntry
from terra_connect.connections.ports import DeliveryLog, RecordStore
from terra_connect.connections.reauth_rules import RulesAsRead, StoredRules
from terra_connect.connections.records import (
    Change,
    Standing,
    StoredUser,
    UnnamedReauth,
    UserRecord,
    seen_alive,
    tombstone,
    without_owner,
)
from terra_connect.connections.vocabulary import AuthAttempt, Connection, EndReason, HistoryEntry, TerraUser
from terra_connect.erasure.ports import ErasureMarkers, MarkerAsRead
from terra_connect.kernel.deadline import Deadline
from terra_connect.kernel.errors import RegistryUnavailable
from terra_connect.sdk.binding import SDK_PROVIDERS, SdkBinding

# Concurrent deliveries about one Terra user are rare and short: a few rereads settle them.
MAX_CONFLICT_RETRIES = 8
# A replaced Terra user hands its owners down its chain of successors (A -> B -> C); chains are short.
MAX_CHAIN_DEPTH = 16


class Erased(StrEnum):
    """What erasing an app user did to one Terra user's record."""

    TOMBSTONED = "tombstoned"  # it was the app user's (or nobody's): only its id is kept, refusing late facts
    FORGOTTEN = "forgotten"  # another app user owns it now: the erased one is struck from its former owners
    ALREADY = "already"  # an earlier erasure left its tombstone


class ConnectionRegistry:
    def __init__(
        self,
        records: RecordStore,
        erasures: ErasureMarkers,
        deliveries: DeliveryLog,
        binding: SdkBinding | None = None,
        *,
        on_erased_fact: Callable[[str], None] | None = None,
    ) -> None:
        """`binding` decides who may own an SDK provider's Terra user (sdk/binding.py); without it, any named owner may.
        `on_erased_fact` hears of each fact refused because its Terra user was erased (given the Terra user id)."""
        self._records = records
        self._erasures = erasures
        self._deliveries = deliveries
        self._binding = binding
        self._on_erased_fact = on_erased_fact

    def apply(self, change: Change) -> int:
        """Merge every fact; returns how many Terra users' records or standings changed."""
        changed = 0
        named: set[tuple[str, str]] = set()  # (Terra user, app user) the registry took as named owners
        for fragment in change.records:
            merged = self._merge(fragment, signed_at=change.signed_at)
            changed += merged.changed
            named |= {(fragment.terra_user_id, reference_id) for reference_id in merged.owners}
        if change.unnamed_reauth is not None:
            changed += self._add_unnamed_reauth(change.unnamed_reauth)
        if change.attempt is not None:
            reference_id, attempt = change.attempt
            if change.attempt_user is None or (change.attempt_user, reference_id) in named:
                self._records.record_attempt(reference_id, attempt)
        return changed

    def connections(self, reference_id: str, deadline: Deadline) -> list[Connection]:
        return sorted(
            self._records.live_connections(reference_id, deadline), key=lambda c: (c.provider, c.terra_user_id)
        )

    def history(self, reference_id: str) -> list[HistoryEntry]:
        return sorted(self._records.history(reference_id), key=lambda h: (h.provider, h.terra_user_id))

    def last_attempt(self, reference_id: str) -> AuthAttempt | None:
        return self._records.last_attempt(reference_id)

    def owns_live(self, reference_id: str, terra_user_id: str) -> bool:
        """True only for a live Terra user this reference_id owns now (read from the record, not a view)."""
        stored = self._records.user(terra_user_id)
        return stored is not None and stored.record.owner == reference_id and stored.standing.is_live

    def observe(self, users: Sequence[TerraUser], at: int) -> int:
        """Terra's own view at `at` (reconciliation): each of these Terra users exists, with this owner, these
        scopes and this active flag. Returns how many records changed.

        A Terra user the registry does not know and Terra ties to no app user is not this app's to record. A
        record is only written when the observation changes what someone would see, so that reading Terra's
        whole user list does not rewrite the whole registry.
        """
        stored = self._records.users([user.terra_user_id for user in users])
        changed = 0
        for user in users:
            fragment = seen_alive(user, at)
            current = stored.get(user.terra_user_id)
            if current is None and user.reference_id is None:
                continue
            if current is not None and not _observation_shows_something(current, current.record.merge(fragment)):
                continue
            changed += self._merge(fragment).changed
        return changed

    def already_processed(self, delivery_id: str) -> bool:
        return self._deliveries.already_processed(delivery_id)

    def mark_processed(self, delivery_id: str, at: datetime) -> None:
        self._deliveries.mark_processed(delivery_id, at)

    def erase(self, reference_id: str, terra_user_id: str, at: int, *, forget_only: bool = False) -> Erased:
        """Replace the Terra user's record with a tombstone; or, if another app user owns it now (`forget_only`:
        Terra says so), strike the erased one from its owners. The views go in the same write, and the Terra users
        that replaced it (which inherited the erased one as an owner) are struck too."""
        for _ in range(MAX_CONFLICT_RETRIES):
            current = self._records.user(terra_user_id)
            if current is not None and current.erased:
                return Erased.ALREADY
            if forget_only:
                if self._forget(reference_id, terra_user_id, current):
                    return Erased.FORGOTTEN
                continue
            if self._records.save_user(tombstone(terra_user_id, current, at), current, None):
                self._forget_successors(reference_id, current)
                return Erased.TOMBSTONED
        raise RegistryUnavailable(log_context={"reason": "conflicting writes", "terra_user_id": terra_user_id})

    def _forget(self, reference_id: str, terra_user_id: str, current: StoredUser | None, depth: int = 0) -> bool:
        """Strike the app user from the record's owners; False on a conflicting write (read again)."""
        if current is None or current.erased:
            return True
        record = without_owner(current.record, reference_id)
        if record != current.record:
            standing, guard = self._standing_and_rules(record)
            if not self._records.save_user(StoredUser(record, standing, current.version + 1), current, guard):
                return False
        self._forget_successors(reference_id, current, depth)
        return True

    def _forget_successors(self, reference_id: str, stored: StoredUser | None, depth: int = 0) -> None:
        if stored is None or depth >= MAX_CHAIN_DEPTH:
            return
        for successor in stored.record.successors:
            for _ in range(MAX_CONFLICT_RETRIES):
                if self._forget(reference_id, successor, self._records.user(successor), depth + 1):
                    break
            else:
                raise RegistryUnavailable(log_context={"reason": "conflicting writes", "terra_user_id": successor})

    def _merge(self, fragment: UserRecord, depth: int = 0, *, signed_at: int | None = None) -> "Merged":
        terra_user_id = fragment.terra_user_id
        judged: dict[str, bool] = {}  # verdicts given by this merge, so a reread after a conflict does not judge twice
        for _ in range(MAX_CONFLICT_RETRIES):
            current = self._records.user(terra_user_id)
            if current is not None and current.erased:
                # Its app user was erased: a late or replayed fact must not bring any of it back.
                if self._on_erased_fact is not None:
                    self._on_erased_fact(terra_user_id)
                return Merged(False)
            unerased, markers = self._without_erased_owners(fragment)
            # Judged against the record as read: a concurrent writer's verdicts are the ones that stand.
            candidate = self._owners_the_binding_allows(unerased, current, judged, signed_at)
            owners = frozenset(ref for ref, links, _ in candidate.owners if links == 0 and ref != ERASED_OWNER)
            if current is None and candidate.is_empty:
                return Merged(False, owners)
            record = current.record.merge(candidate) if current else candidate
            standing, guard = self._standing_and_rules(record)
            if current is not None and (current.record, current.standing) == (record, standing):
                return Merged(False, owners)
            updated = StoredUser(record, standing, (current.version if current else 0) + 1)
            # Written only if no erasure of an app user it names has started since the markers were read: an
            # erasure that starts meanwhile reads the registry after its marker, so this write must not land
            # after that read unseen (it is weighed again, against the marker).
            if self._records.save_user(updated, current, guard, markers):
                break
        else:
            raise RegistryUnavailable(log_context={"reason": "conflicting writes", "terra_user_id": terra_user_id})
        inherited = current is None or (current.record.owners, current.record.successors) != (
            record.owners,
            record.successors,
        )
        if inherited and record.owners and depth < MAX_CHAIN_DEPTH:
            for successor in record.successors:
                self._merge(UserRecord(successor, owners=record.owners_for_successors()), depth + 1)
        return Merged(True, owners)

    def _standing_and_rules(self, record: UserRecord) -> tuple[Standing, RulesAsRead | None]:
        """The record's standing, and the owner's reauth rules (at the version read) it was weighed with."""
        owner = record.owner
        if owner is None:
            return record.standing(), None
        rules = self._records.rules(owner)
        replaced_at = rules.rules.replaced_at(record.provider, record.terra_user_id)
        return record.standing(replaced_at), RulesAsRead(owner, rules.version)

    def _without_erased_owners(self, fragment: UserRecord) -> tuple[UserRecord, tuple[MarkerAsRead, ...]]:
        """The fragment with ERASED_OWNER for each app user it names from before their erasure started, and the
        erasure marker read for each app user it still names (for the write to check that none moved since).

        A fact from before an erasure that names the app user tells of a Terra user of theirs the erasure may not
        know (Terra's list can lag behind it): it is claimed for the erasure, which asks Terra about it."""
        markers = []
        for reference_id in sorted({entry.reference_id for entry in fragment.owners} - {ERASED_OWNER}):
            erased_at = self._erasures.erased_at(reference_id)
            if erased_at is not None and any(ref == reference_id and at < erased_at for ref, _, at in fragment.owners):
                fragment = without_owner(fragment, reference_id)
                self._erasures.claim_for_erasure(reference_id, fragment.terra_user_id)
            else:
                markers.append(MarkerAsRead(reference_id, erased_at))
        return fragment, tuple(markers)

    def _owners_the_binding_allows(
        self, fragment: UserRecord, current: StoredUser | None, judged: dict[str, bool], signed_at: int | None
    ) -> UserRecord:
        """The fragment without the owners an SDK provider's Terra user may not have (see sdk/binding.py), carrying the
        binding: decided on the Terra user's first sighting, then only read."""
        provider = fragment.provider or (current.record.provider if current else None)
        if self._binding is None or provider is None or provider not in SDK_PROVIDERS:
            return fragment
        record = current.record if current else None
        binding = record.binding if record else None
        # A record with no binding yet is new, or was written before bindings were kept: its links-0 owners then
        # passed the rule when they were merged, and those it kept out left an unverified claim.
        earlier_layout = record is not None and binding is None
        if binding is None:
            binding = Binding(_first_sighting(fragment, record, signed_at))
            if record is not None:
                kept = {ref: True for ref, links, _ in record.owners if links == 0 and ref != ERASED_OWNER}
                binding = binding.with_verdicts(kept)
        verdicts: dict[str, bool] = {}
        owners = []
        for reference_id, links, at in fragment.owners:
            allowed = True if links > 0 or reference_id == ERASED_OWNER else binding.verdict(reference_id)
            if allowed is None:
                if reference_id not in judged:
                    judged[reference_id] = self._binding.judge(
                        reference_id, fragment.terra_user_id, provider, binding.judged_by, judged_before=earlier_layout
                    )
                allowed = verdicts[reference_id] = judged[reference_id]
            if allowed:
                owners.append(OwnerEntry(reference_id, links, at))
        return replace(fragment, owners=tuple(owners), binding=binding.with_verdicts(verdicts))

    def _add_unnamed_reauth(self, reauth: UnnamedReauth) -> int:
        for _ in range(MAX_CONFLICT_RETRIES):
            if reauth.at < (self._erasures.erased_at(reauth.owner) or 0):
                return 0  # it names an app user erased since: nothing of them is kept
            stored = self._records.rules(reauth.owner)
            rules = stored.rules.with_reauth(reauth.provider, reauth.at, reauth.new_user)
            if rules == stored.rules:
                return 0
            saved = StoredRules(rules, stored.version + 1)
            if self._records.save_rules(reauth.owner, saved, stored.version, reauth.at):
                break
        else:
            raise RegistryUnavailable(log_context={"reason": "conflicting writes to reauth rules"})
        # Weigh every connection the rule may concern again; a write that raced this one rereads the rules.
        candidates = self._records.rule_candidates(reauth.owner, reauth.provider)
        return sum(self._merge(UserRecord(terra_user_id)).changed for terra_user_id in candidates)


@dataclass(frozen=True, slots=True)
class Merged:
    changed: bool  # the record or its standing changed
    owners: frozenset[str] = frozenset()  # the app users the fact named that the registry took as owners


def _first_sighting(fragment: UserRecord, record: UserRecord | None, signed_at: int | None) -> int:
    """The moment an SDK Terra user's owners are judged by: when Terra says it created it, else the earliest time a
    fact showed it (for a new record, when Terra signed this fact: the signature covers that, not the ordering
    timestamp a delivery carries beside it)."""
    candidates = (
        fragment.created_at,
        record.created_at if record else None,
        record.first_seen if record else None,
        signed_at,
        fragment.first_seen,
        fragment.updated_at,
    )
    return next(moment for moment in (*candidates, 0) if moment is not None)


def _observation_shows_something(current: StoredUser, merged: UserRecord) -> bool:
    if current.standing.status is None or current.standing.reason is EndReason.REPLACED_UNNAMED:
        return True  # Terra shows alive what the registry did not know to be, or took to be replaced
    if current.standing.is_final:
        return False  # an ending is final; Terra's list may lag behind it

    def visible(record: UserRecord) -> tuple[object, ...]:
        return (record.owner, record.provider, record.scopes, record.active.active if record.active else None)

    return visible(merged) != visible(current.record)
