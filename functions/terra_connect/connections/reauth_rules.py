"""The user_reauth events with no old_user that named an app user: Terra deleted some older connection of theirs of
that provider, without saying which (connections/records.py weighs a record against them)."""

from dataclasses import dataclass
from typing import NamedTuple


class ReauthEntry(NamedTuple):
    provider: str
    at: int
    new_user: str  # the new Terra user's id


class RulesAsRead(NamedTuple):
    """An owner's rules at the version a record was weighed with: its write is conditional on them."""

    reference_id: str
    version: int


@dataclass(frozen=True, slots=True)
class ReauthRules:
    """The user_reauth events with no old_user that named one app user, kept per provider.

    For each provider only the two latest (time, new Terra user) with different new users matter: a Terra user
    asks for the latest one that is not itself.
    """

    entries: tuple[ReauthEntry, ...] = ()  # sorted

    def merge(self, other: "ReauthRules") -> "ReauthRules":
        latest: dict[tuple[str, str], int] = {}
        for provider, at, new_user in (*self.entries, *other.entries):
            key = (provider, new_user)
            latest[key] = max(at, latest.get(key, at))
        kept: list[ReauthEntry] = []
        for provider in sorted({provider for provider, _ in latest}):
            mine = sorted(((at, user) for (p, user), at in latest.items() if p == provider), reverse=True)[:2]
            kept += [ReauthEntry(provider, at, user) for at, user in mine]
        return ReauthRules(tuple(sorted(kept)))

    def with_reauth(self, provider: str, at: int, new_user: str) -> "ReauthRules":
        return self.merge(ReauthRules((ReauthEntry(provider, at, new_user),)))

    def replaced_at(self, provider: str | None, terra_user_id: str) -> int | None:
        """The latest unnamed reauth, by another Terra user of `provider`, that may have replaced this one."""
        times = [at for p, at, user in self.entries if p == provider and user != terra_user_id]
        return max(times, default=None)


@dataclass(frozen=True, slots=True)
class StoredRules:
    rules: ReauthRules = ReauthRules()
    version: int = 0  # 0: never written
