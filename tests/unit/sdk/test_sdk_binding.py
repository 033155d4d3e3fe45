"""The SDK binding over generated histories: whatever tokens, events, syncs and reconciliations follow, a connection
kept out of an app user stays out, and is never their last attempt (docs/security.md, "Mobile SDK connections").

Devices connect Apple Health under whichever reference_id they name; Terra dates the Terra user it creates (or says
`created_at: null`), reports it, and later reports it again (redeliveries, permission changes, connection errors),
or under another app user (a claim). Apps ask for tokens and sync at any moment. The rule the docs state is the
oracle: each app user is judged once per Terra user, by the moment fixed on its first sighting (Terra's
`created_at`, else the first signed time seen), against the tokens issued to them by then.
"""

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st

from terra_connect.connections.service import ConnectionsService
from terra_connect.connections.vocabulary import TerraUser
from terra_connect.kernel.deadline import Deadline
from terra_connect.kernel.redirects import RedirectPolicy
from terra_connect.sdk.binding import CLOCK_SKEW_MS, GRACE_MS, TOKEN_LIFETIME_MS, SdkBinding
from terra_connect.sdk.tokens import SdkTokenService
from terra_connect.sync.service import SyncService
from terra_connect.terra.messages import TerraSdkToken
from terra_connect.webhooks.processor import WebhookProcessor
from tests.support.memory_registry import InMemoryRegistryStore, registry_over

APP_USERS = ("alice", "bob")
START = 1_795_000_000
KINDS = ("token", "connect", "redeliver", "permission", "error", "claim", "sync", "reconcile")


@dataclass(frozen=True)
class Op:
    kind: str
    who: int  # picks an app user
    target: int  # picks a Terra user
    created: int | None  # Terra's created_at, in seconds from now (None: Terra says null)
    tick: int  # seconds before it happens


ops = st.builds(
    Op,
    kind=st.sampled_from(KINDS),
    who=st.integers(0, 1),
    target=st.integers(0, 9),
    created=st.one_of(st.none(), st.integers(-400, 120)),
    tick=st.sampled_from((1, 3, 30, 200, 400)),  # apart: which of two facts is later is not the question here
)


@dataclass
class SdkUser:
    user_id: str
    reference_id: str  # whom Terra lists it under: the device's choice, or a later claim
    created_at: int | None  # milliseconds


@dataclass
class Phone:
    """Terra and the app users' phones, the registry they feed, and the rule's own bookkeeping."""

    clock: int = START  # seconds
    store: InMemoryRegistryStore = field(default_factory=InMemoryRegistryStore)
    users: list[SdkUser] = field(default_factory=list)
    tokens: dict[str, list[int]] = field(default_factory=dict)  # app user -> issued at (ms)
    moments: dict[str, int] = field(default_factory=dict)  # Terra user -> the moment it is judged by (ms)
    verdicts: dict[tuple[str, str], bool] = field(default_factory=dict)  # (Terra user, app user) -> may own it
    owners: dict[str, str] = field(default_factory=dict)  # Terra user -> the latest app user named and allowed
    attempts: dict[str, int] = field(default_factory=dict)  # app user -> their latest own successful connection (s)
    traces: int = 0

    def __post_init__(self) -> None:
        self.registry = registry_over(self.store, SdkBinding(self.store.sdk_tokens))
        self.processor = WebhookProcessor(self.registry)
        self.sync_service = SyncService(
            self.registry,
            self.store.sync_claims,
            self,
            ConnectionsService(self.registry, self, RedirectPolicy([])),  # type: ignore[arg-type]
            now=lambda: datetime.fromtimestamp(self.clock, UTC),
        )
        self.token_service = SdkTokenService(
            self, self.store.sdk_tokens, now=lambda: datetime.fromtimestamp(self.clock, UTC)
        )

    # --- Terra, as the services ask it ---

    def generate_auth_token(self, reference_id: str, deadline: Deadline) -> TerraSdkToken:
        return TerraSdkToken(token="sdk-token", expires_in=180)

    def users_of(self, reference_id: str, deadline: Deadline) -> list[TerraUser]:
        return [self._terra_user(user) for user in self.users if user.reference_id == reference_id]

    def user(self, terra_user_id: str, deadline: Deadline) -> TerraUser | None:
        return next((self._terra_user(u) for u in self.users if u.user_id == terra_user_id), None)

    def users_page(self, page: int, per_page: int, deadline: Deadline) -> Any:
        raise NotImplementedError

    def users_by_ids(self, terra_user_ids: Sequence[str], deadline: Deadline) -> list[TerraUser]:
        raise NotImplementedError

    @staticmethod
    def _terra_user(user: SdkUser) -> TerraUser:
        return TerraUser(user.user_id, "APPLE", user.reference_id, ("activity:read",), True, user.created_at)

    # --- the history ---

    def play(self, op: Op) -> None:
        self.clock += op.tick
        who = APP_USERS[op.who]
        if op.kind == "token":
            self.token_service.issue(who, Deadline.after(5))
            self.tokens.setdefault(who, []).append(self.clock * 1000)
        elif op.kind == "connect" or not self.users:
            created = None if op.created is None else (self.clock + op.created) * 1000
            user = SdkUser(f"tu-apple-{len(self.users):02d}", who, created)
            self.users.append(user)
            self._deliver("auth", user)
        elif op.kind == "sync":
            if self.sync_service.sync(who, Deadline.after(5)).performed:
                for user in self.users:
                    if user.reference_id == who:
                        self._judge(user, self.clock * 1000)
        elif op.kind == "reconcile":
            self.registry.observe([self._terra_user(user) for user in self.users], self.clock * 1000)
            for user in self.users:
                self._judge(user, self.clock * 1000)
        else:
            user = self.users[op.target % len(self.users)]
            if op.kind == "claim":
                user.reference_id = who
            kind = {"redeliver": "auth", "claim": "auth", "permission": "permission_change"}.get(op.kind, op.kind)
            self._deliver("connection_error" if kind == "error" else kind, user)

    def _deliver(self, kind: str, user: SdkUser) -> None:
        document = {
            "user_id": user.user_id,
            "provider": "APPLE",
            "reference_id": user.reference_id,
            "scopes": "activity:read",
            "active": True,
            "created_at": None
            if user.created_at is None
            else datetime.fromtimestamp(user.created_at / 1000, UTC).isoformat(),
        }
        event: dict[str, Any] = {"type": kind, "user": document, "status": "success", "message": kind}
        if kind == "permission_change":
            event["scopes_added"] = "sleep:read"
        self.traces += 1
        self.processor.process(event, f"trace-{self.traces}", self.clock)
        allowed = self._judge(user, self.clock * 1000)
        if kind == "auth" and allowed:
            self.attempts[user.reference_id] = self.clock

    def _judge(self, user: SdkUser, signed_at: int) -> bool:
        """The docs' rule, applied independently of the code: once per (Terra user, app user)."""
        moment = self.moments.setdefault(user.user_id, user.created_at or signed_at)
        key = (user.user_id, user.reference_id)
        if key not in self.verdicts:
            issued = self.tokens.get(user.reference_id, [])
            self.verdicts[key] = any(at - CLOCK_SKEW_MS <= moment <= at + TOKEN_LIFETIME_MS + GRACE_MS for at in issued)
        if self.verdicts[key]:
            self.owners[user.user_id] = user.reference_id
        return self.verdicts[key]

    # --- what must hold after every step ---

    def check(self) -> None:
        for who in APP_USERS:
            listed = {c.terra_user_id for c in self.registry.connections(who, Deadline.after(5))}
            kept_out = {uid for (uid, ref), allowed in self.verdicts.items() if ref == who and not allowed}
            theirs = {uid for uid, owner in self.owners.items() if owner == who}
            assert not listed & kept_out, f"{who} lists a connection kept out of them"
            # A claim by someone kept out does not take it from its verified owner.
            assert listed == theirs, f"{who} lists {listed}, the rule says {theirs}"
            attempt = self.registry.last_attempt(who)
            expected = self.attempts.get(who)
            assert (attempt.at.timestamp() if attempt and attempt.at else None) == expected
        judged = [(ref, uid) for ref, uid, _, _ in self.store.unverified]
        assert len(judged) == len(set(judged)), "an app user was judged twice for one Terra user"


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(history=st.lists(ops, min_size=3, max_size=25))
def test_a_connection_kept_out_stays_out_whatever_tokens_syncs_and_events_follow(history: list[Op]) -> None:
    phone = Phone()
    for op in history:
        note(repr(op))
        phone.play(op)
        phone.check()
