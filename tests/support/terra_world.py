"""A simulated Terra account for property-based tests: operations on Terra's side, the webhooks Terra sends for
them (shaped like Terra's published event schemas), and the truth the registry should end up agreeing with.

Hypothesis draws a list of `Step`s; `World.play` interprets each against the current state (targets are picked
by index among the users that exist), so every drawn list is a valid history and shrinks to a small one.

Each delivery is signed at the world's clock (whole seconds) and, like Terra's, carries an ordering timestamp
(milliseconds, strictly increasing, kept by its retries) - except, where the world is not exact, the steps drawn
`bare`: deliveries without one, which the registry stamps with the signing second.
"""

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from hypothesis import strategies as st

from terra_connect.webhooks.processor import WebhookProcessor
from tests.support.memory_registry import InMemoryRegistryStore, registry_over

OWNERS = ("alice", "bob", "carol")
PROVIDERS = ("GARMIN", "OURA")
SCOPE_SETS = ("activity:read,sleep:read", "activity:read", "daily:read,sleep:read,body:read")
START = 1_795_000_000
KINDS = ("connect", "error", "reconnect", "deauth", "reauth", "permission", "claim", "cancel")


@dataclass(frozen=True)
class Step:
    kind: str
    a: int  # picks an owner / a target user
    b: int  # picks a provider / another owner / scopes
    flag: bool  # variant: access_revoked vs deauth, old_user named, legacy event shape...
    strip: bool  # leave reference_id out of the event where the world allows it
    tick: int  # seconds before the event is sent (0: the same second as the previous one)
    bare: bool = False  # the delivery carries no ordering timestamp (in worlds that are not exact)


steps = st.builds(
    Step,
    kind=st.sampled_from(KINDS),
    a=st.integers(0, 99),
    b=st.integers(0, 99),
    flag=st.booleans(),
    strip=st.booleans(),
    tick=st.integers(0, 3),
    bare=st.booleans(),
)


@dataclass(frozen=True)
class Delivery:
    payload: dict[str, Any]
    sent_at: int  # the signature's t (seconds)
    trace_id: str
    ordered_at: int | None = None  # the x-terra-ordering-timestamp header (milliseconds), when it carries one

    def retried(self, seconds: int, trace_id: str) -> "Delivery":
        """Terra's retry: the same event, signed again later, with the same ordering timestamp."""
        return Delivery(self.payload, self.sent_at + seconds, trace_id, self.ordered_at)


@dataclass
class WorldUser:
    user_id: str
    owner: str
    provider: str
    scopes: set[str]
    status: str = "connected"


@dataclass
class World:
    """`exact`: every fact the registry needs is in the events (owners named where they must be, no ambiguous
    unnamed reauth, strictly increasing times: every delivery carries its ordering timestamp, so events of the same
    second are still ordered), so the registry must end up equal to `truth()`."""

    exact: bool
    clock: int = START
    live: dict[str, WorldUser] = field(default_factory=dict)
    deliveries: list[Delivery] = field(default_factory=list)
    created: int = 0
    emitted: int = 0  # the latest ordering timestamp (milliseconds)
    bare: bool = False  # the step being played sends its delivery without an ordering timestamp

    def play(self, history: list[Step]) -> "World":
        for step in history:
            self.clock += step.tick
            self.bare = step.bare and not self.exact
            needs_a_user = step.kind not in {"connect", "cancel"}
            getattr(self, "_connect" if needs_a_user and not self.live else f"_{step.kind}")(step)
        return self

    def truth(self) -> dict[str, list[tuple[str, str, str, tuple[str, ...]]]]:
        listed: dict[str, list[tuple[str, str, str, tuple[str, ...]]]] = {}
        for user in self.live.values():
            listed.setdefault(user.owner, []).append(
                (user.user_id, user.provider, user.status, tuple(sorted(user.scopes)))
            )
        return {owner: sorted(rows) for owner, rows in listed.items()}

    # --- what happens at Terra, and what it sends ---

    def _send(self, payload: dict[str, Any]) -> None:
        self.emitted = max(self.clock * 1000, self.emitted + 1)
        ordered_at = None if self.bare else self.emitted
        self.deliveries.append(Delivery(payload, self.clock, f"trace-{len(self.deliveries)}", ordered_at))

    def _new_user(self, owner: str, provider: str, scopes: str) -> WorldUser:
        self.created += 1
        user = WorldUser(f"tu-{self.created:03d}", owner, provider, set(scopes.split(",")))
        self.live[user.user_id] = user
        return user

    def _pick(self, index: int) -> WorldUser | None:
        users = sorted(self.live)
        return self.live[users[index % len(users)]] if users else None

    def _connect(self, step: Step) -> None:
        user = self._new_user(OWNERS[step.a % 3], PROVIDERS[step.b % 2], SCOPE_SETS[step.b % 3])
        # The event that introduces a user names its owner in an exact world.
        self._send(auth_event(user, named=not (step.strip and not self.exact), legacy=step.flag))

    def _error(self, step: Step) -> None:
        if (user := self._pick(step.a)) is not None:
            user.status = "needs_reauth"
            self._send(user_event("connection_error", user, named=not step.strip, status="warning"))

    def _reconnect(self, step: Step) -> None:
        if (user := self._pick(step.a)) is not None:
            user.status = "connected"
            user.scopes = set(SCOPE_SETS[step.b % 3].split(","))
            self._send(auth_event(user, named=not step.strip, legacy=False))

    def _deauth(self, step: Step) -> None:
        if (user := self._pick(step.a)) is not None:
            del self.live[user.user_id]
            kind, status = ("access_revoked", "warning") if step.flag else ("deauth", "success")
            self._send(user_event(kind, user, named=not step.strip, status=status))

    def _reauth(self, step: Step) -> None:
        old = self._pick(step.a)
        if old is None:
            return
        owner = old.owner if step.b % 2 else OWNERS[step.b % 3]
        siblings = [u for u in self.live.values() if u is not old and (u.owner, u.provider) == (owner, old.provider)]
        # Unnamed (old_user: null) only where the registry can tell which connection went: the same owner's only
        # other connection of that provider. In other worlds, anything goes.
        named = step.flag or (self.exact and (owner != old.owner or bool(siblings)))
        del self.live[old.user_id]
        new = self._new_user(owner, old.provider, SCOPE_SETS[step.b % 3])
        name_new = not step.strip or (self.exact and (owner != old.owner or not named))
        self._send(
            {
                "type": "user_reauth",
                "new_user": terra_user(new, named=name_new),
                "old_user": terra_user(old, named=not step.strip) if named else None,
                "status": "warning",
                "message": "User has re-authenticated; the old user will be deleted",
                "version": "2022-03-16",
            }
        )

    def _permission(self, step: Step) -> None:
        if (user := self._pick(step.a)) is not None:
            added, removed = SCOPE_SETS[step.b % 3].split(",")[0], SCOPE_SETS[(step.b + 1) % 3].split(",")[-1]
            user.scopes = (user.scopes - {removed}) | {added}
            event = user_event("permission_change", user, named=not step.strip, status="warning")
            self._send({**event, "version": "2022-03-16", "scopes_added": added, "scopes_removed": removed})

    def _claim(self, step: Step) -> None:
        """Terra reports a known Terra user, authenticated again, under another app user: it moves there."""
        user = self._pick(step.a)
        if user is None:
            return
        user.owner = OWNERS[(OWNERS.index(user.owner) + 1 + step.b % 2) % 3]
        user.status = "connected"
        self._send(auth_event(user, named=True, legacy=False))

    def _cancel(self, step: Step) -> None:
        owner, provider = OWNERS[step.a % 3], PROVIDERS[step.b % 2]
        if step.flag:  # 2025: auth with status error, the user and its provider beside the reason
            self._send(
                {
                    "type": "auth",
                    "status": "error",
                    "user": {"user_id": f"tu-failed-{self.clock}", "provider": provider, "reference_id": owner},
                    "provider": provider,
                    "reason": "user_denied",
                    "reference_id": owner,
                }
            )
        else:  # 2026: auth_cancelled, no user and no provider
            self._send({"type": "auth_cancelled", "status": "error", "reason": "cancelled", "reference_id": owner})


def terra_user(user: WorldUser, *, named: bool) -> dict[str, Any]:
    return {
        "user_id": user.user_id,
        "provider": user.provider,
        "reference_id": user.owner if named else None,
        "scopes": ",".join(sorted(user.scopes)),
        "active": True,
        "created_at": None,
        "last_webhook_update": None,
    }


def auth_event(user: WorldUser, *, named: bool, legacy: bool) -> dict[str, Any]:
    event: dict[str, Any] = {
        "type": "auth",
        "status": "success",
        "user": terra_user(user, named=named and not legacy),
        "message": "User has successfully authenticated",
        "widget_session_id": None,
    }
    if legacy and named:  # older docs and the JS types: reference_id beside the user, not in it
        event["reference_id"] = user.owner
    return event


def user_event(kind: str, user: WorldUser, *, named: bool, status: str) -> dict[str, Any]:
    return {"type": kind, "user": terra_user(user, named=named), "status": status, "message": f"{kind} event"}


def replay(deliveries: Sequence["Delivery"], *, dedupe: bool = True) -> InMemoryRegistryStore:
    """The deliveries, in this order, to a fresh in-memory registry (`dedupe`: honour their trace ids)."""
    store = InMemoryRegistryStore()
    processor = WebhookProcessor(registry_over(store))
    for delivery in deliveries:
        processor.process(
            delivery.payload, delivery.trace_id if dedupe else None, delivery.sent_at, delivery.ordered_at
        )
    return store
