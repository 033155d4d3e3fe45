"""Erasing an app user: every Terra user of theirs disconnected at Terra, everything stored about them gone but
expiring tombstones of the Terra user ids, one event, safe to retry, and no late delivery brings anything back."""

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from local.aws import create_connections_table
from moto import mock_aws

from terra_connect.connections.ports import RecordStore
from terra_connect.connections.records import Change, UnnamedReauth, seen_alive
from terra_connect.connections.registry import ConnectionRegistry
from terra_connect.connections.service import ConnectionsService
from terra_connect.connections.table_client import ConnectionsTable
from terra_connect.connections.vocabulary import AuthAttempt, TerraUser
from terra_connect.data_erasure.models import PurgeRequest
from terra_connect.entrypoints.shared import RegistryStores
from terra_connect.erasure.ports import ErasureStore
from terra_connect.erasure.service import ErasureReport, ErasureService, _erasure_id
from terra_connect.kernel.deadline import Deadline
from terra_connect.kernel.errors import TerraUnavailable
from terra_connect.kernel.redirects import RedirectPolicy
from terra_connect.lifecycle_events.events import DetailType
from terra_connect.sync.ports import UsersPage
from terra_connect.sync.service import SyncService
from terra_connect.webhooks.processor import WebhookProcessor
from tests.support.memory_registry import InMemoryRegistryStore, Stores, registry_over
from tests.support.terra_world import START, Delivery, Step, World, steps

ERASED_AT = datetime.fromtimestamp(START + 10_000, UTC)
TABLE = "erasure-under-test"


class TerraAccount:
    """Terra's side of an erasure: its users now, by id; deauthentication deletes one (404 when it is gone)."""

    def __init__(self, users: Sequence[TerraUser] = ()) -> None:
        self.users = {user.terra_user_id: user for user in users}
        self.deauthenticated: list[str] = []
        self.fail_deauth_of: set[str] = set()
        self.fail_listing = False
        self.lagging: set[str] = set()  # Terra users its reference_id listing does not show yet
        self.on_listing: Callable[[], object] | None = None  # what happens while Terra answers the listing

    def users_of(self, reference_id: str, deadline: Deadline) -> list[TerraUser]:
        if self.fail_listing:
            raise TerraUnavailable
        if self.on_listing is not None:
            self.on_listing()
        listed = self.users.values()
        return [user for user in listed if user.reference_id == reference_id and user.terra_user_id not in self.lagging]

    def users_by_ids(self, terra_user_ids: Sequence[str], deadline: Deadline) -> list[TerraUser]:
        return [self.users[uid] for uid in terra_user_ids if uid in self.users]

    def user(self, terra_user_id: str, deadline: Deadline) -> TerraUser | None:
        return self.users.get(terra_user_id)

    def users_page(self, page: int, per_page: int, deadline: Deadline) -> UsersPage:
        raise NotImplementedError

    def deauthenticate_user(self, terra_user_id: str, deadline: Deadline) -> bool:
        if terra_user_id in self.fail_deauth_of:
            raise TerraUnavailable
        self.deauthenticated.append(terra_user_id)
        return self.users.pop(terra_user_id, None) is not None

    def authenticate_user(self, params: Any, deadline: Deadline) -> Any:
        raise NotImplementedError


def erase(store: Stores, terra: TerraAccount, reference_id: str = "alice", at: datetime = ERASED_AT) -> ErasureReport:
    service = ErasureService(registry_over(store), store.records, store.erasures, terra, now=lambda: at)
    return service.erase(reference_id, Deadline.after(30))


def deliver(store: Stores, deliveries: Sequence[Delivery]) -> None:
    processor = WebhookProcessor(registry_over(store))
    for delivery in deliveries:
        processor.process(delivery.payload, delivery.trace_id, delivery.sent_at, delivery.ordered_at)


def nothing_left_of(store: Stores, reference_id: str, terra_user_ids: Iterable[str] | None = None) -> None:
    """Everything an app user could see, or the operator could find under their id, is gone: their partition
    holds nothing, no record names them (`terra_user_ids`: the records to look at, else every one)."""
    snapshot: Any = registry_view(store, reference_id)
    assert snapshot == {"listed": [], "history": [], "attempt": None, "rules": (), "holds_data": False}
    if terra_user_ids is None:
        assert isinstance(store, InMemoryRegistryStore)
        terra_user_ids = store.stored
    for stored in store.records.users(sorted(terra_user_ids)).values():
        assert reference_id not in {entry[0] for entry in stored.record.owners}
        assert not (stored.record.binding and stored.record.binding.verdict(reference_id) is not None)


def registry_view(store: Stores, reference_id: str) -> dict[str, Any]:
    registry = registry_over(store)
    scope = store.erasures.erasure_scope(reference_id)
    return {
        "listed": registry.connections(reference_id, Deadline.after(5)),
        "history": registry.history(reference_id),
        "attempt": registry.last_attempt(reference_id),
        "rules": store.records.rules(reference_id).rules.entries,
        "holds_data": scope.holds_data or bool(scope.terra_user_ids) or scope.pending is not None,
    }


def at_terra(world: World) -> list[TerraUser]:
    return [TerraUser(u.user_id, u.provider, u.owner, tuple(sorted(u.scopes))) for u in world.live.values()]


def erased_events(store: InMemoryRegistryStore) -> list[dict[str, Any]]:
    return [detail for detail_type, detail in store.outbox if detail_type == DetailType.ERASED]


# --- the property: in any interleaving of deliveries with the erasure's steps, and whatever arrives after --------


# Every call an erasure makes to the registry or to Terra; a delivery may arrive just before any of them.
ERASURE_STEPS = (
    "mark_erased",
    "erasure_scope",
    "erasure_claims",
    "users_of",
    "users_by_ids",
    "users",
    "begin_erasure",
    "deauthenticate_user",
    "user",
    "rules",
    "save_user",
    "delete_owner_data",
    "finish_erasure",
)
BEFORE, AFTER_IT = "before the erasure", "after it"
turns = st.tuples(st.sampled_from((BEFORE, *ERASURE_STEPS, AFTER_IT)), st.integers(0, 2))


class Interleaving:
    """Deliveries run between the erasure's steps: each drawn (step, n) is processed just before the erasure's
    n-th call of that step (its marker, its reads, each deauthentication, each tombstone, the claims, the deletion,
    the finish); one whose step never comes, after the erasure."""

    def __init__(self, store: Stores, planned: Sequence[tuple[tuple[str, int], Delivery]]) -> None:
        self.calls: dict[str, int] = {}
        self.pending = list(planned)
        self.delivered_during: list[Delivery] = []  # processed before the erasure returned
        self._processor = WebhookProcessor(registry_over(store))

    def turn(self, step: str) -> None:
        count = self.calls.get(step, 0)
        self.calls[step] = count + 1
        now = [delivery for (name, n), delivery in self.pending if (name, n) == (step, count)]
        self.pending = [(turn, delivery) for turn, delivery in self.pending if turn != (step, count)]
        for delivery in now:
            self.delivered_during.append(delivery)
            self._process(delivery)

    def rest(self) -> None:
        for _, delivery in self.pending:
            self._process(delivery)
        self.pending = []

    def _process(self, delivery: Delivery) -> None:
        self._processor.process(delivery.payload, delivery.trace_id, delivery.sent_at, delivery.ordered_at)


class Stepped:
    """The erasure's view of the store or of Terra: each call is one of its steps (a turn for deliveries)."""

    def __init__(self, target: object, interleaving: Interleaving) -> None:
        self._target, self._interleaving = target, interleaving

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._target, name)
        if not callable(attribute):
            return attribute

        def step(*args: Any, **kwargs: Any) -> Any:
            self._interleaving.turn(name)
            return attribute(*args, **kwargs)

        return step


def named_for(delivery: Delivery, reference_id: str | None) -> set[str]:
    """The Terra users a delivery names the app user for (in the user object, or beside it in older shapes);
    with None, every Terra user it names."""
    payload = delivery.payload
    users = [payload.get(key) for key in ("user", "new_user", "old_user")]
    return {
        user["user_id"]
        for user in users
        if isinstance(user, dict)
        and (reference_id is None or reference_id in (user.get("reference_id"), payload.get("reference_id")))
    }


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(history=st.lists(steps, min_size=4, max_size=30), data=st.data())
def test_erasure_leaves_nothing_of_the_user_in_any_interleaving_of_deliveries_with_its_steps(
    history: list[Step], data: st.DataObject
) -> None:
    store = InMemoryRegistryStore()
    erase_interleaved(store, World(exact=True).play(history), data, published=lambda: len(erased_events(store)))


@pytest.fixture(scope="module")
def dynamodb() -> Iterator[None]:
    with mock_aws():
        yield


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture]
)
@given(history=st.lists(steps, min_size=4, max_size=16), data=st.data())
def test_the_dynamodb_layout_keeps_that_promise(dynamodb: None, history: list[Step], data: st.DataObject) -> None:
    """The same, on the table: its conditional writes (the marker each write checks, the claims the finish counts)."""
    create_connections_table(None, TABLE)
    try:
        store = RegistryStores.over(ConnectionsTable(TABLE, retention=timedelta(days=30)))

        def published() -> int:
            items = boto3.client("dynamodb").scan(TableName=TABLE)["Items"]
            return sum(item["pk"]["S"].startswith("outbox#") for item in items)

        erase_interleaved(store, World(exact=True).play(history), data, published=published)
    finally:
        boto3.client("dynamodb").delete_table(TableName=TABLE)


def erase_interleaved(store: Stores, world: World, data: st.DataObject, published: Callable[[], int]) -> None:
    """Every delivery was signed before the erasure started; each arrives before it, between any two of its steps
    or after it, Terra's reference_id listing lagging behind some of the app user's Terra users, then all of them
    again, and again as retries Terra signs later (with their ordering timestamps)."""
    count = len(world.deliveries)
    planned = data.draw(st.lists(turns, min_size=count, max_size=count), label="arrives just before")
    terra = TerraAccount(at_terra(world))
    alices = {uid for uid, user in terra.users.items() if user.reference_id == "alice"}
    others = set(terra.users) - alices
    terra.lagging = data.draw(st.sets(st.sampled_from(sorted(alices))), label="not listed yet") if alices else set()
    interleaving = Interleaving(store, list(zip(planned, world.deliveries, strict=True)))
    records, erasures = Stepped(store.records, interleaving), Stepped(store.erasures, interleaving)
    service = ErasureService(
        ConnectionRegistry(records, erasures, store.deliveries),
        records,
        erasures,
        Stepped(terra, interleaving),
        now=lambda: ERASED_AT,
    )
    every_user = {uid for d in world.deliveries for uid in named_for(d, None)}

    interleaving.turn(BEFORE)
    report = service.erase("alice", Deadline.after(30))
    first = set(terra.deauthenticated)
    interleaving.rest()
    deliver(store, world.deliveries)  # all of them again
    deliver(store, [d.retried(3_600, f"retry-{i}") for i, d in enumerate(world.deliveries)])  # signed again later
    nothing_left_of(store, "alice", every_user)

    # The erasure disconnected at Terra every Terra user of alice's that Terra listed, or that a delivery processed
    # before it finished named her for - nobody else's.
    told = {uid for d in interleaving.delivered_during for uid in named_for(d, "alice")}
    assert (alices - terra.lagging) | (alices & told) <= first
    assert not first & others
    assert published() == int(report.erased)
    # What arrived after it finished is claimed: the next erasure (the app's retry, the operator's) disconnects it.
    named = {uid for d in world.deliveries for uid in named_for(d, "alice")}
    erase(store, terra, at=ERASED_AT + timedelta(minutes=5))
    assert alices & named <= set(terra.deauthenticated)
    assert not set(terra.deauthenticated) & others
    nothing_left_of(store, "alice", every_user)
    # The other app users lose nothing: what the events left out (a chain through an erased Terra user), their
    # next sync repairs from Terra.
    truth = {owner: rows for owner, rows in world.truth().items() if owner != "alice"}
    registry = registry_over(store)
    for owner in ("bob", "carol"):
        assert set(rows(registry.connections(owner, Deadline.after(5)))) <= set(truth.get(owner, []))
    connections = ConnectionsService(registry, terra, RedirectPolicy([]))
    sync = SyncService(registry, store.sync_claims, terra, connections, now=lambda: AFTER_SYNC)
    for owner in ("bob", "carol"):
        sync.sync(owner, Deadline.after(5))
    listed = {
        owner: rows(found) for owner in ("bob", "carol") if (found := registry.connections(owner, Deadline.after(5)))
    }
    assert listed == truth


AFTER_SYNC = datetime.fromtimestamp(START + 20_000, UTC)


def rows(connections: Sequence[Any]) -> list[tuple[str, str, str, tuple[str, ...]]]:
    return sorted((c.terra_user_id, c.provider, c.status.value, c.scopes) for c in connections)


# --- hand-picked cases ---------------------------------------------------------------------------------------


def connected(store: InMemoryRegistryStore, *users: TerraUser, at: int = START) -> None:
    registry = registry_over(store)
    for index, user in enumerate(users):
        registry.apply(Change(records=(seen_alive(user, (at + index) * 1000),)))


def test_a_user_with_many_connections_is_erased_in_one_call() -> None:
    users = [TerraUser(f"tu-{i:02d}", ("GARMIN", "OURA", "FITBIT")[i % 3], "alice") for i in range(40)]
    apple = TerraUser("tu-apple", "APPLE", "alice")  # claimed for alice by a device that had no token
    store, terra = InMemoryRegistryStore(), TerraAccount([*users[:30], apple])  # ten Terra already deleted
    connected(store, *users)
    registry = registry_over(store)
    registry.apply(Change(attempt=("alice", AuthAttempt("error", "OURA", "denied", ERASED_AT.replace(year=2025)))))
    registry.apply(Change(unnamed_reauth=UnnamedReauth("alice", "GARMIN", START * 1000, "tu-00")))
    store.sdk_tokens.record_sdk_token("alice", START * 1000, (START + 600) * 1000)
    store.sync_claims.claim_sync("alice", START, 30)
    store.sdk_tokens.record_unverified("alice", "tu-apple", "APPLE", START * 1000)

    report = erase(store, terra)

    assert report == ErasureReport(True, deauthenticated=31, tombstoned=41, forgotten=0, items_deleted=5)
    assert sorted(terra.deauthenticated) == sorted([u.terra_user_id for u in users[:30]] + ["tu-apple"])
    nothing_left_of(store, "alice")
    tombstones = {uid: stored for uid, stored in store.stored.items() if stored.erased}
    assert len(tombstones) == 41
    assert all(
        stored.record.is_empty and stored.erased_at == int(ERASED_AT.timestamp() * 1000)
        for stored in tombstones.values()
    )
    [event] = erased_events(store)
    assert (event["reference_id"], event["status"], event["reason"]) == ("alice", "erased", "requested_by_user")


def test_nothing_stored_and_nothing_at_terra_is_nothing_to_erase() -> None:
    store = InMemoryRegistryStore()

    assert erase(store, TerraAccount()) == ErasureReport(erased=False)
    assert store.outbox == []
    assert store.stored == {}
    assert store.erased == {"alice": int(ERASED_AT.timestamp() * 1000)}  # deliveries in flight are refused


def test_a_terra_user_only_terra_knows_is_disconnected_there_and_tombstoned() -> None:
    store, terra = InMemoryRegistryStore(), TerraAccount([TerraUser("tu-missed", "OURA", "alice")])

    report = erase(store, terra)

    assert (report.deauthenticated, report.tombstoned) == (1, 1)
    assert store.stored["tu-missed"].erased


def test_a_failure_half_way_leaves_the_rest_live_on_both_sides_and_the_retry_finishes_with_one_event() -> None:
    users = [TerraUser(f"tu-{i}", "GARMIN", "alice") for i in range(5)]
    store, terra = InMemoryRegistryStore(), TerraAccount(users)
    connected(store, *users)
    terra.fail_deauth_of = {"tu-3"}

    with pytest.raises(TerraUnavailable):
        erase(store, terra)

    # What Terra still holds, the registry still lists: never "gone" here while live there.
    listed = [c.terra_user_id for c in registry_over(store).connections("alice", Deadline.after(5))]
    assert listed == ["tu-3", "tu-4"] == sorted(terra.users)
    assert store.outbox == []
    pending = store.erasing["alice"]
    terra.fail_deauth_of = set()

    report = erase(store, terra)
    again = erase(store, terra)

    assert report.erased
    assert (report.deauthenticated, report.tombstoned) == (2, 2)
    assert again == ErasureReport(erased=False)
    assert [event["id"] for event in erased_events(store)] == [_event_id(pending.id)]
    nothing_left_of(store, "alice")


def _event_id(erasure_id: str) -> str:
    from terra_connect.lifecycle_events.events import event_id  # noqa: PLC0415

    return event_id("alice", "erased", erasure_id)


def test_terra_unreachable_at_the_start_changes_nothing_but_the_refusal() -> None:
    """The marker goes first: the registry is as it was, and facts from before the attempt are already refused."""
    store, terra = InMemoryRegistryStore(), TerraAccount([TerraUser("tu-1", "GARMIN", "alice")])
    connected(store, TerraUser("tu-1", "GARMIN", "alice"))
    before = store.snapshot()
    terra.fail_listing = True

    with pytest.raises(TerraUnavailable):
        erase(store, terra)

    assert store.snapshot() == before
    assert store.erasing == {}
    assert store.erased == {"alice": int(ERASED_AT.timestamp() * 1000)}


def test_a_terra_user_now_someone_elses_at_terra_is_not_disconnected_only_forgotten() -> None:
    """The registry still says alice (bob's claim is in flight); Terra says bob: bob keeps his wearable."""
    store, terra = InMemoryRegistryStore(), TerraAccount([TerraUser("tu-1", "GARMIN", "bob")])
    connected(store, TerraUser("tu-1", "GARMIN", "alice"))

    report = erase(store, terra)
    connected(store, TerraUser("tu-1", "GARMIN", "bob"), at=START + 5)  # bob's claim, sent before the erasure

    assert (report.deauthenticated, report.forgotten) == (0, 1)
    assert terra.deauthenticated == []
    assert [c.terra_user_id for c in registry_over(store).connections("bob", Deadline.after(5))] == ["tu-1"]
    nothing_left_of(store, "alice")


def test_an_auth_racing_the_erasure_is_refused_and_recreates_nothing() -> None:
    """The auth webhook is processed while the erasure writes the tombstone: whichever writes first, the other
    rereads, and the tombstone stands."""
    user = TerraUser("tu-1", "GARMIN", "alice")
    store, terra = InMemoryRegistryStore(), TerraAccount([user])
    auth = {
        "type": "auth",
        "status": "success",
        "user": {"user_id": "tu-1", "provider": "GARMIN", "reference_id": "alice"},
    }
    processor = WebhookProcessor(registry_over(store))

    def racing_auth(_: InMemoryRegistryStore) -> None:
        processor.process(auth, "trace-1", START + 5)  # lands just before the tombstone is written

    store.before_save = racing_auth

    erase(store, terra)
    processor.process(auth, "trace-2", START + 5)  # and Terra's retry, after it

    assert [after.erased for _, after in store.writes[-2:]] == [False, True]  # the auth wrote first, then lost
    assert store.stored["tu-1"].erased
    nothing_left_of(store, "alice")


def test_the_same_user_may_connect_again_as_a_new_user() -> None:
    store, terra = InMemoryRegistryStore(), TerraAccount([TerraUser("tu-1", "GARMIN", "alice")])
    connected(store, TerraUser("tu-1", "GARMIN", "alice"))
    erase(store, terra)
    after = int(ERASED_AT.timestamp()) + 60
    processor = WebhookProcessor(registry_over(store))

    auth = {
        "type": "auth",
        "status": "success",
        "user": {"user_id": "tu-2", "provider": "OURA", "reference_id": "alice"},
    }
    processor.process(auth, "trace-new", after)

    listed = registry_over(store).connections("alice", Deadline.after(5))
    assert [(c.terra_user_id, c.provider) for c in listed] == [("tu-2", "OURA")]
    assert registry_over(store).last_attempt("alice") == AuthAttempt(
        "success", "OURA", None, datetime.fromtimestamp(after, UTC)
    )
    assert store.stored["tu-1"].erased  # the old one stays a tombstone


# --- after the start, before the start: what Terra's own clock tells -----------------------------------------

AFTER = int(ERASED_AT.timestamp()) + 40  # a retry Terra signs again after the erasure started


def auth_event(user_id: str, reference_id: str = "alice") -> dict[str, Any]:
    user = {"user_id": user_id, "provider": "GARMIN", "reference_id": reference_id, "scopes": "activity:read"}
    return {"type": "auth", "status": "success", "user": user, "message": "connected"}


def test_a_retry_signed_after_the_start_recreates_no_attempt_of_an_erased_terra_user() -> None:
    """Without Terra's ordering timestamp it looks new; its Terra user's tombstone refuses it, attempt included."""
    store, terra = InMemoryRegistryStore(), TerraAccount([TerraUser("tu-1", "GARMIN", "alice")])
    processor = WebhookProcessor(registry_over(store))
    processor.process(auth_event("tu-1"), "trace-1", START)
    erase(store, terra)

    processor.process(auth_event("tu-1"), "retry-1", AFTER)

    nothing_left_of(store, "alice")


def test_a_retry_signed_after_the_start_with_its_ordering_timestamp_is_from_before_it() -> None:
    """Terra keeps the ordering timestamp on a retry: a failed attempt from before the start stays refused,
    although nothing else in it (no Terra user) says so."""
    store, terra = InMemoryRegistryStore(), TerraAccount([TerraUser("tu-1", "GARMIN", "alice")])
    processor = WebhookProcessor(registry_over(store))
    processor.process(auth_event("tu-1"), "trace-1", START, START * 1000)
    erase(store, terra)
    failure = {"type": "auth_cancelled", "status": "error", "reason": "cancelled", "reference_id": "alice"}

    processor.process(failure, "retry-1", AFTER, (START + 5) * 1000)

    nothing_left_of(store, "alice")


def test_an_auth_signed_just_before_the_start_and_delivered_while_terra_is_asked_does_not_survive() -> None:
    """Terra's list lags behind a connection made seconds before the erasure; its auth arrives while the erasure
    asks Terra for the list. It is refused (the marker is already there), claimed, and disconnected at Terra."""
    store, terra = InMemoryRegistryStore(), TerraAccount([TerraUser("tu-1", "GARMIN", "alice")])
    terra.users["tu-new"] = TerraUser("tu-new", "OURA", "alice")
    terra.lagging = {"tu-new"}
    processor = WebhookProcessor(registry_over(store))
    processor.process(auth_event("tu-1"), "trace-1", START)
    signed = int(ERASED_AT.timestamp()) - 3
    terra.on_listing = lambda: processor.process(auth_event("tu-new"), "trace-2", signed, signed * 1000 + 400)

    report = erase(store, terra)

    assert sorted(terra.deauthenticated) == ["tu-1", "tu-new"]
    assert report.tombstoned == 2
    assert store.stored["tu-new"].erased
    assert len(erased_events(store)) == 1
    nothing_left_of(store, "alice")


class MarkedMeanwhile:
    """A record store whose first write comes after an erasure of alice started (its marker written meanwhile)."""

    def __init__(self, records: RecordStore, erasures: ErasureStore) -> None:
        self._records, self._erasures, self._marked = records, erasures, False

    def __getattr__(self, name: str) -> Any:
        return getattr(self._records, name)

    def save_user(self, *args: Any, **kwargs: Any) -> bool:
        if not self._marked:
            self._marked = True
            self._erasures.mark_erased("alice", int(ERASED_AT.timestamp() * 1000))
        return self._records.save_user(*args, **kwargs)


@pytest.mark.parametrize("layout", ["memory", "dynamodb"])
def test_a_fact_weighed_before_the_marker_is_written_after_it_is_weighed_again(
    layout: str, request: pytest.FixtureRequest
) -> None:
    """The webhook read no marker; the erasure wrote it (and read the registry) before the webhook's write. The
    write checks the marker it read, fails, and the fact is weighed again: refused and claimed."""
    if layout == "dynamodb":
        request.getfixturevalue("dynamodb")
        create_connections_table(None, TABLE)
        request.addfinalizer(lambda: boto3.client("dynamodb").delete_table(TableName=TABLE))
    store: Stores = (
        InMemoryRegistryStore()
        if layout == "memory"
        else RegistryStores.over(ConnectionsTable(TABLE, retention=timedelta(days=1)))
    )

    marked = MarkedMeanwhile(store.records, store.erasures)
    WebhookProcessor(ConnectionRegistry(marked, store.erasures, store.deliveries)).process(
        auth_event("tu-1"), "trace-1", START
    )

    stored = store.records.user("tu-1")
    assert stored is not None
    assert stored.record.owner is None
    assert store.erasures.erasure_claims("alice") == {"tu-1"}
    assert registry_over(store).connections("alice", Deadline.after(5)) == []


def test_a_fact_from_before_the_start_that_arrives_after_the_erasure_finished_is_disconnected_by_the_next() -> None:
    store, terra = InMemoryRegistryStore(), TerraAccount([TerraUser("tu-late", "OURA", "alice")])
    terra.lagging = {"tu-late"}
    assert erase(store, terra).erased is False  # Terra's list did not show it yet; nothing else was stored

    WebhookProcessor(registry_over(store)).process(auth_event("tu-late"), "trace-1", START)
    again = erase(store, terra)

    assert registry_over(store).connections("alice", Deadline.after(5)) == []
    assert (again.erased, terra.deauthenticated) == (True, ["tu-late"])
    nothing_left_of(store, "alice")


@pytest.mark.parametrize("step", ["erasure_claims", "delete_owner_data", "finish_erasure"])
def test_a_terra_user_claimed_while_the_erasure_ends_is_disconnected_before_it_ends(step: str) -> None:
    """The erasure looked at its claims, then a fact from before its start claims another Terra user: it does not
    finish (its finish checks the claims it handled) until that one is disconnected too."""
    store, terra = InMemoryRegistryStore(), TerraAccount([TerraUser("tu-1", "GARMIN", "alice")])
    terra.users["tu-new"] = TerraUser("tu-new", "OURA", "alice")
    terra.lagging = {"tu-new"}
    WebhookProcessor(registry_over(store)).process(auth_event("tu-1"), "trace-1", START)
    signed = int(ERASED_AT.timestamp()) - 3
    late = Delivery(auth_event("tu-new"), signed, "trace-2", signed * 1000 + 400)
    interleaving = Interleaving(store, [((step, 1 if step == "erasure_claims" else 0), late)])
    records, erasures = Stepped(store.records, interleaving), Stepped(store.erasures, interleaving)
    service = ErasureService(
        ConnectionRegistry(records, erasures, store.deliveries), records, erasures, terra, now=lambda: ERASED_AT
    )

    report = service.erase("alice", Deadline.after(30))

    assert interleaving.delivered_during == [late]
    assert sorted(terra.deauthenticated) == ["tu-1", "tu-new"]
    assert (report.erased, report.tombstoned) == (True, 2)
    assert len(erased_events(store)) == 1
    nothing_left_of(store, "alice")


def test_a_terra_user_claimed_again_after_it_was_handled_does_not_leave_the_erasure_unfinished() -> None:
    """A connection moved to another app user at Terra is only forgotten; a late fact naming the erased user for it
    claims it again while the erasure deletes the rest. Nothing new to handle, but the claim count moved: the
    erasure finishes with the count as it now is, instead of taking the refused finish for a concurrent retry's."""
    store, terra = InMemoryRegistryStore(), TerraAccount([TerraUser("tu-2", "GARMIN", "bob")])
    WebhookProcessor(registry_over(store)).process(auth_event("tu-2"), "trace-1", START)
    signed = int(ERASED_AT.timestamp()) - 3
    late = Delivery(
        {"type": "connection_error", "status": "warning", "user": auth_event("tu-2")["user"]},
        signed,
        "trace-2",
        signed * 1000 + 400,
    )
    interleaving = Interleaving(store, [(("delete_owner_data", 0), late)])
    records, erasures = Stepped(store.records, interleaving), Stepped(store.erasures, interleaving)
    service = ErasureService(
        ConnectionRegistry(records, erasures, store.deliveries), records, erasures, terra, now=lambda: ERASED_AT
    )

    report = service.erase("alice", Deadline.after(30))

    assert interleaving.delivered_during == [late]
    assert report.erased
    assert store.erasures.erasure_scope("alice").pending is None
    assert len(erased_events(store)) == 1
    assert terra.deauthenticated == []  # bob's now: never disconnected for alice
    nothing_left_of(store, "alice")


class ConcurrentRetryThenNewErasure:
    """The erasure store as another invocation would leave it: at this erasure's finish, a concurrent retry has
    finished it and a new erasure of the same app user has begun."""

    def __init__(self, erasures: ErasureStore) -> None:
        self._erasures = erasures
        self.finishes = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self._erasures, name)

    def finish_erasure(self, erasure: Any, event: tuple[str, dict[str, Any]], claims: int) -> bool:
        self.finishes += 1
        assert self.finishes < 5, "the erasure keeps trying to finish"
        if self.finishes == 1:
            assert self._erasures.finish_erasure(erasure, event, claims)
            self._erasures.begin_erasure(replace(erasure, id="f" * 32, started_at=erasure.started_at + 1))
            return False
        return self._erasures.finish_erasure(erasure, event, claims)


def test_an_erasure_finished_by_a_concurrent_retry_stops_even_when_another_has_begun_since() -> None:
    store, terra = InMemoryRegistryStore(), TerraAccount([TerraUser("tu-1", "GARMIN", "alice")])
    WebhookProcessor(registry_over(store)).process(auth_event("tu-1"), "trace-1", START)
    erasures = ConcurrentRetryThenNewErasure(store.erasures)
    purges = RecordedPurges()
    service = ErasureService(
        ConnectionRegistry(store.records, erasures, store.deliveries),
        store.records,
        erasures,
        terra,
        purges=purges,
        now=lambda: ERASED_AT,
    )

    report = service.erase("alice", Deadline.after(30))

    assert report.erased
    assert erasures.finishes == 1  # not once more per turn of a loop that cannot end
    assert len(purges.sent) == 1


class RecordedPurges:
    def __init__(self) -> None:
        self.sent: list[PurgeRequest] = []

    def request(self, request: PurgeRequest, *, delay_seconds: int = 0) -> None:
        self.sent.append(request)


def erase_with_purges(store: Stores, terra: TerraAccount, purges: RecordedPurges) -> ErasureReport:
    service = ErasureService(
        registry_over(store), store.records, store.erasures, terra, purges=purges, now=lambda: ERASED_AT
    )
    return service.erase("alice", Deadline.after(30))


def test_the_purge_is_asked_for_when_the_registry_has_forgotten_the_user() -> None:
    """The history expired, the records are kept until erased: the data table's partition must still be purged."""
    store, purges = InMemoryRegistryStore(), RecordedPurges()

    assert erase_with_purges(store, TerraAccount(), purges) == ErasureReport(erased=False)

    started = int(ERASED_AT.timestamp() * 1000)
    [request] = purges.sent
    assert (request.reference_id, request.terra_user_ids, request.started_at) == ("alice", (), started)
    assert request.erasure_id == _erasure_id("alice", started)
    assert request.partitions() == ("u#alice",)
    assert store.outbox == []


def test_the_purge_leaves_the_data_of_a_terra_user_someone_else_owns_now() -> None:
    """tu-1 is bob's at Terra (only forgotten for alice): its t# data and backfill state are bob's."""
    store, terra = InMemoryRegistryStore(), TerraAccount([TerraUser("tu-1", "GARMIN", "bob")])
    terra.users["tu-2"] = TerraUser("tu-2", "OURA", "alice")
    connected(store, TerraUser("tu-1", "GARMIN", "alice"), TerraUser("tu-2", "OURA", "alice"))
    purges = RecordedPurges()

    report = erase_with_purges(store, terra, purges)

    assert (report.forgotten, report.tombstoned) == (1, 1)
    [request] = purges.sent
    assert request.terra_user_ids == ("tu-2",)
    assert request.partitions() == ("u#alice", "t#tu-2", "bf#tu-2")
