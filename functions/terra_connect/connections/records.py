"""What the registry knows about one Terra user, as a value that merges to the same result in any order.

Terra delivers webhooks at least once, in any order, and retries them for hours; reconciliation reads Terra's
own view at arbitrary moments. Each such fact becomes a partial `UserRecord`, stamped (in milliseconds) with the
time Terra sent it (the signature's `t`) or the time Terra was asked, and `merge` is a join - commutative,
associative and idempotent - so the merged record does not depend on the order the facts arrived in:

- owner: the reference_id named by the latest fact about this Terra user. An authentic fact naming another app
  user moves the Terra user there; the former owners are kept, so their history can say why it left. A Terra
  user no fact names inherits the owner of the one it replaced (see successors).
- liveness: the latest of connected and needs_reauth. An ending (deauth, revoked, replaced, gone) is final and
  beats everything else, so a late or replayed `auth` cannot bring a Terra user back.
- scopes: the latest full list Terra gave, then each later addition or removal, per scope.
- successors: the Terra users that replaced this one (`user_reauth`); they inherit its owners one link further
  away, so an event chain (A -> B -> C) that names the app user only once still reaches every link, while a
  link's own facts always outweigh what it inherits.
- binding (SDK providers only, sdk/binding.py; kept as connections/owners.py's Binding): the moment the Terra
  user's owners are judged by, fixed on its first sighting, and the verdict given once for each app user a fact
  named; a refusal stands.

Every bounded collection keeps a fixed selection (the latest, or the smallest), which is itself a join, so the
bounds do not break convergence.
"""

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple, Protocol

from terra_connect.connections.owners import ERASED_OWNER, Binding, OwnerEntry, closest_latest, merge_owners
from terra_connect.connections.vocabulary import (
    MAX_SCOPES,
    AuthAttempt,
    Connection,
    ConnectionStatus,
    EndReason,
    HistoryEntry,
    TerraUser,
)

UNKNOWN_PROVIDER = "UNKNOWN"
MOVED_REASON = "claimed_by_another_user"
MAX_SUCCESSORS = 8
MAX_SCOPE_CHANGES = 2 * MAX_SCOPES
# Between two facts of the same second, the more cautious one wins: needs_reauth over connected.
_LIVE_RANK = {ConnectionStatus.CONNECTED: 0, ConnectionStatus.NEEDS_REAUTH: 1}
_LIVE_BY_RANK = {rank: status for status, rank in _LIVE_RANK.items()}


def stamp(moment: datetime) -> int:
    """A fact's time: milliseconds since the epoch. Terra signs in whole seconds; what this service observes
    itself is finer, so Terra's answer read just after a webhook of the same second still counts as later."""
    return int(moment.timestamp() * 1000)


def at_time(milliseconds: int) -> datetime:
    """A stamp as shown to callers: UTC, whole seconds."""
    return datetime.fromtimestamp(milliseconds // 1000, UTC)


def moment(milliseconds: int) -> datetime:
    """A stamp as a time that keeps its milliseconds (an attempt's, which orders attempts of the same second)."""
    return datetime.fromtimestamp(milliseconds // 1000, UTC) + timedelta(milliseconds=milliseconds % 1000)


class _Ordered(Protocol):
    def __lt__(self, other: Any, /) -> bool: ...


def _earliest[T: _Ordered](a: T | None, b: T | None) -> T | None:
    return b if a is None else a if b is None else min(a, b)


def _latest[T: _Ordered](a: T | None, b: T | None) -> T | None:
    return b if a is None else a if b is None else max(a, b)


class Liveness(NamedTuple):
    at: int
    rank: int  # of connected / needs_reauth (_LIVE_RANK): on a tie, the more cautious wins


class ScopeList(NamedTuple):
    """A full list of scopes Terra gave."""

    at: int
    scopes: tuple[str, ...]


class ScopeChange(NamedTuple):
    """One scope added (present) or removed."""

    scope: str
    at: int
    present: bool


class ActiveFlag(NamedTuple):
    at: int
    active: bool


@dataclass(frozen=True, slots=True, order=True)
class Ending:
    at: int
    reason: EndReason


@dataclass(frozen=True, slots=True)
class Standing:
    """Where a Terra user stands once every known fact is weighed; what the registry lists and records."""

    status: ConnectionStatus | None  # None: nothing says it exists (e.g. only named as a replaced old_user)
    reason: EndReason | None = None
    at: int | None = None

    @property
    def is_live(self) -> bool:
        return self.status is not None and self.status.is_live

    @property
    def is_final(self) -> bool:
        return self.reason is not None


PENDING = Standing(None)


@dataclass(frozen=True, slots=True)
class UserRecord:
    terra_user_id: str
    provider: str | None = None
    owners: tuple[OwnerEntry, ...] = ()  # one entry per reference_id
    live: Liveness | None = None
    first_seen: int | None = None  # earliest fact saying the Terra user existed
    last_alive: int | None = None  # latest fact saying it was still alive
    ending: Ending | None = None  # the earliest ending; final
    scopes_base: ScopeList | None = None  # the latest full list
    scope_changes: tuple[ScopeChange, ...] = ()  # by scope
    active: ActiveFlag | None = None
    successors: tuple[str, ...] = field(default=())
    created_at: int | None = None  # when Terra says it created the Terra user (the earliest it said)
    binding: Binding | None = None  # SDK providers: who may own it, decided once (None: not judged yet)

    @property
    def owner(self) -> str | None:
        """None when no fact names one, or when the nearest and latest named is an erased app user."""
        owner = max(self.owners, key=closest_latest).reference_id if self.owners else None
        return None if owner == ERASED_OWNER else owner

    @property
    def former_owners(self) -> tuple[str, ...]:
        """The app users facts about this Terra user named before its current owner."""
        current = self.owner
        return tuple(
            reference_id
            for reference_id, links, _ in self.owners
            if links == 0 and reference_id not in (current, ERASED_OWNER)
        )

    @property
    def owned_since(self) -> int | None:
        """When the current owner was last named."""
        return max(self.owners, key=closest_latest).named_at if self.owners else None

    def owners_for_successors(self) -> tuple[OwnerEntry, ...]:
        return tuple(OwnerEntry(reference_id, links + 1, at) for reference_id, links, at in self.owners)

    @property
    def is_empty(self) -> bool:
        return self == UserRecord(self.terra_user_id)

    @property
    def scopes(self) -> tuple[str, ...]:
        """The latest full list, adjusted by every addition or removal made after it (a change wins a tie)."""
        base_at, base = self.scopes_base if self.scopes_base else (None, ())
        present = set() if base_at is None else set(base)
        for scope, at, added in self.scope_changes:
            if base_at is None or at >= base_at:
                (present.add if added else present.discard)(scope)
        return tuple(sorted(present))

    @property
    def updated_at(self) -> int | None:
        stamps = [at for _, links, at in self.owners if links == 0]
        stamps += [s for s in (self.first_seen, self.last_alive) if s is not None]
        stamps += [s.at for s in (self.live, self.scopes_base, self.active) if s is not None]
        stamps += [at for _, at, _ in self.scope_changes]
        if self.ending:
            stamps.append(self.ending.at)
        return max(stamps, default=None)

    def standing(self, unnamed_reauth_at: int | None = None) -> Standing:
        """`unnamed_reauth_at`: the latest user_reauth with no old_user, for another Terra user of the same owner
        and provider. Terra deleted some older connection of that provider then; this one, if it existed before and
        nothing showed it alive afterwards, is taken to be it."""
        if self.ending is not None:
            return Standing(self.ending.reason.status, self.ending.reason, self.ending.at)
        if (
            unnamed_reauth_at is not None
            and self.first_seen is not None
            and self.first_seen < unnamed_reauth_at
            and (self.last_alive is None or self.last_alive <= unnamed_reauth_at)
        ):
            return Standing(ConnectionStatus.REPLACED, EndReason.REPLACED_UNNAMED, unnamed_reauth_at)
        if self.live is not None:
            return Standing(_LIVE_BY_RANK[self.live.rank], None, self.live.at)
        if self.last_alive is not None:
            # Terra showed it (reconciliation, a permission change) but its auth event never arrived.
            return Standing(ConnectionStatus.CONNECTED, None, self.last_alive)
        return PENDING

    def merge(self, other: "UserRecord") -> "UserRecord":
        if other.terra_user_id != self.terra_user_id:
            raise ValueError("records of different Terra users do not merge")
        return UserRecord(
            terra_user_id=self.terra_user_id,
            provider=_earliest(self.provider, other.provider),
            owners=merge_owners(self.owners, other.owners),
            live=_latest(self.live, other.live),
            first_seen=_earliest(self.first_seen, other.first_seen),
            last_alive=_latest(self.last_alive, other.last_alive),
            ending=_earliest(self.ending, other.ending),
            scopes_base=_latest(self.scopes_base, other.scopes_base),
            scope_changes=_merge_scope_changes(self.scope_changes, other.scope_changes),
            active=_latest(self.active, other.active),
            successors=tuple(sorted(set(self.successors) | set(other.successors)))[:MAX_SUCCESSORS],
            created_at=_earliest(self.created_at, other.created_at),
            binding=_merge_bindings(self.binding, other.binding),
        )


def _merge_bindings(a: Binding | None, b: Binding | None) -> Binding | None:
    return a.merge(b) if a and b else a or b


def _merge_scope_changes(a: Iterable[ScopeChange], b: Iterable[ScopeChange]) -> tuple[ScopeChange, ...]:
    latest: dict[str, tuple[int, bool]] = {}
    for scope, at, present in (*a, *b):
        latest[scope] = max((at, present), latest.get(scope, (at, present)))
    return tuple(ScopeChange(scope, *latest[scope]) for scope in sorted(latest)[:MAX_SCOPE_CHANGES])


# --- facts -------------------------------------------------------------------------------------------------


def _described(user: TerraUser, at: int) -> UserRecord:
    """What a TerraUser object says at `at`: its provider, its owner, its scopes and whether it is active."""
    return UserRecord(
        terra_user_id=user.terra_user_id,
        provider=user.provider,
        owners=(OwnerEntry(user.reference_id, 0, at),) if user.reference_id else (),
        scopes_base=ScopeList(at, user.scopes) if user.scopes is not None else None,
        active=ActiveFlag(at, user.active) if user.active is not None else None,
        created_at=user.created_at,
    )


def seen_alive(user: TerraUser, at: int, status: ConnectionStatus | None = None) -> UserRecord:
    """The Terra user existed at `at`; with `status`, it was connected or needed reauth then."""
    return replace(
        _described(user, at),
        first_seen=at,
        last_alive=at,
        live=Liveness(at, _LIVE_RANK[status]) if status else None,
    )


def ended(user: TerraUser, at: int, reason: EndReason, *, successor: str | None = None) -> UserRecord:
    return replace(
        _described(user, at),
        ending=Ending(at, reason),
        successors=(successor,) if successor else (),
    )


def ended_by_id(terra_user_id: str, at: int, reason: EndReason) -> UserRecord:
    return UserRecord(terra_user_id, ending=Ending(at, reason))


def scopes_changed(user: TerraUser, at: int, added: Iterable[str], removed: Iterable[str]) -> UserRecord:
    changes = dict.fromkeys(removed, False) | dict.fromkeys(added, True)
    return replace(
        seen_alive(replace(user, scopes=None), at),
        scope_changes=_merge_scope_changes((), (ScopeChange(scope, at, present) for scope, present in changes.items())),
    )


# --- what one source tells the registry -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class UnnamedReauth:
    """A user_reauth with no old_user: Terra deleted an older `provider` connection of `owner` at `at`."""

    owner: str
    provider: str
    at: int
    new_user: str


@dataclass(frozen=True, slots=True)
class Change:
    """Facts from one source, applied together: partial records (in order), an unnamed reauth, an attempt."""

    records: tuple[UserRecord, ...] = ()
    unnamed_reauth: UnnamedReauth | None = None
    attempt: tuple[str, AuthAttempt] | None = None
    # The Terra user a successful attempt connected: the attempt is the app user's only if the registry took them
    # as its owner (an SDK connection kept out, or a Terra user erased, is nobody's attempt).
    attempt_user: str | None = None
    # When Terra signed them (a stamp), where that differs from the facts' own time (an ordering timestamp): what
    # the SDK binding trusts for a first sighting, as the signature covers it.
    signed_at: int | None = None


@dataclass(frozen=True, slots=True)
class StoredUser:
    """A record as stored: with the standing it was written with, and a version for optimistic concurrency."""

    record: UserRecord
    standing: Standing
    version: int
    # When the Terra user's app user was erased: the record is then a tombstone holding only the Terra user id,
    # which refuses every later fact about it until it expires (see erasure/service.py).
    erased_at: int | None = None

    @property
    def erased(self) -> bool:
        return self.erased_at is not None

    def live_view(self) -> Connection | None:
        """The connection the owner lists, while the Terra user is live."""
        record, owner = self.record, self.record.owner
        if owner is None or self.erased or not self.standing.is_live or self.standing.status is None:
            return None
        return Connection(
            reference_id=owner,
            terra_user_id=record.terra_user_id,
            provider=record.provider or UNKNOWN_PROVIDER,
            status=self.standing.status,
            scopes=record.scopes,
            active=record.active.active if record.active else None,
            connected_at=at_time(record.first_seen) if record.first_seen is not None else None,
            updated_at=at_time(record.updated_at) if record.updated_at is not None else None,
        )

    def history_views(self) -> tuple[HistoryEntry, ...]:
        """What each app user who had this Terra user sees of it now that it is gone from them, and why."""
        record, owner = self.record, self.record.owner
        provider = record.provider or UNKNOWN_PROVIDER
        entries: list[HistoryEntry] = []
        if self.erased:
            return ()
        standing = self.standing
        if owner is not None and standing.status is not None and standing.reason is not None:
            ended_at = at_time(standing.at or 0)
            entries.append(
                HistoryEntry(owner, record.terra_user_id, provider, standing.status, standing.reason.value, ended_at)
            )
        moved_at = at_time(record.owned_since or 0)
        entries += [
            HistoryEntry(former, record.terra_user_id, provider, ConnectionStatus.MOVED, MOVED_REASON, moved_at)
            for former in record.former_owners
        ]
        return tuple(entries)


def tombstone(terra_user_id: str, previous: StoredUser | None, at: int) -> StoredUser:
    """What is kept of an erased app user's Terra user: its id, and when it was erased."""
    return StoredUser(UserRecord(terra_user_id), PENDING, (previous.version if previous else 0) + 1, erased_at=at)


def without_owner(record: UserRecord, reference_id: str) -> UserRecord:
    """The record with no trace of an erased app user among its owners: ERASED_OWNER stands in for them."""
    binding = record.binding.without(reference_id) if record.binding else None
    if all(entry.reference_id != reference_id for entry in record.owners) and binding == record.binding:
        return record
    erased = (OwnerEntry(ERASED_OWNER if ref == reference_id else ref, links, at) for ref, links, at in record.owners)
    return replace(record, owners=merge_owners((), erased), binding=binding)
