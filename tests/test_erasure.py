"""Erasing an app user: every Terra user of theirs disconnected at Terra, everything stored about them gone but
expiring tombstones of the Terra user ids, one event, safe to retry, and no late delivery brings anything back."""

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from terra_connect.domain.connections import AuthAttempt, TerraUser
from terra_connect.domain.deadline import Deadline
from terra_connect.domain.erasure import ErasureReport, ErasureService
from terra_connect.domain.errors import TerraUnavailable
from terra_connect.domain.lifecycle import DetailType
from terra_connect.domain.ports import UsersPage
from terra_connect.domain.records import Change, UnnamedReauth, seen_alive
from terra_connect.domain.registry import ConnectionRegistry
from terra_connect.domain.webhooks import WebhookProcessor
from tests.memory_store import InMemoryRegistryStore
from tests.terra_world import START, Delivery, Step, World, steps

ERASED_AT = datetime.fromtimestamp(START + 10_000, UTC)


class TerraAccount:
    """Terra's side of an erasure: its users now, by id; deauthentication deletes one (404 when it is gone)."""

    def __init__(self, users: Sequence[TerraUser] = ()) -> None:
        self.users = {user.terra_user_id: user for user in users}
        self.deauthenticated: list[str] = []
        self.fail_deauth_of: set[str] = set()
        self.fail_listing = False

    def users_of(self, reference_id: str, deadline: Deadline) -> list[TerraUser]:
        if self.fail_listing:
            raise TerraUnavailable
        return [user for user in self.users.values() if user.reference_id == reference_id]

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


def erase(store: InMemoryRegistryStore, terra: TerraAccount, reference_id: str = "alice") -> ErasureReport:
    service = ErasureService(ConnectionRegistry(store), store, terra, now=lambda: ERASED_AT)
    return service.erase(reference_id, Deadline.after(30))


def deliver(store: InMemoryRegistryStore, deliveries: Sequence[Delivery]) -> None:
    processor = WebhookProcessor(ConnectionRegistry(store))
    for delivery in deliveries:
        processor.process(delivery.payload, delivery.trace_id, delivery.sent_at, delivery.ordered_at)


def nothing_left_of(store: InMemoryRegistryStore, reference_id: str) -> None:
    """Everything an app user could see, or the operator could find under their id, is gone."""
    snapshot: Any = registry_view(store, reference_id)
    assert snapshot == {"listed": [], "history": [], "attempt": None, "rules": (), "holds_data": False}
    for stored in store.records.values():
        assert reference_id not in {entry[0] for entry in stored.record.owners}


def registry_view(store: InMemoryRegistryStore, reference_id: str) -> dict[str, Any]:
    registry = ConnectionRegistry(store)
    scope = store.erasure_scope(reference_id)
    return {
        "listed": registry.connections(reference_id, Deadline.after(5)),
        "history": registry.history(reference_id),
        "attempt": registry.last_attempt(reference_id),
        "rules": store.rules(reference_id).rules.entries,
        "holds_data": scope.holds_data or bool(scope.terra_user_ids) or scope.pending is not None,
    }


def at_terra(world: World) -> list[TerraUser]:
    return [TerraUser(u.user_id, u.provider, u.owner, tuple(sorted(u.scopes))) for u in world.live.values()]


def erased_events(store: InMemoryRegistryStore) -> list[dict[str, Any]]:
    return [detail for detail_type, detail in store.outbox if detail_type == DetailType.ERASED]


# --- the property: whatever was delivered before, whatever arrives after -----------------------------------


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(history=st.lists(steps, min_size=4, max_size=30), data=st.data())
def test_erasure_leaves_nothing_of_the_user_whatever_was_delivered_before_or_arrives_after(
    history: list[Step], data: st.DataObject
) -> None:
    world = World(exact=True).play(history)
    order = data.draw(st.permutations(world.deliveries), label="delivery order")
    before = data.draw(st.integers(0, len(order)), label="delivered before the erasure")
    store, terra = InMemoryRegistryStore(), TerraAccount(at_terra(world))
    alices = {uid for uid, user in terra.users.items() if user.reference_id == "alice"}
    deliver(store, order[:before])

    report = erase(store, terra)
    deliver(store, order[before:])  # late: every one of them was sent before the erasure
    deliver(store, order)  # and all of them again (Terra retries)

    nothing_left_of(store, "alice")
    assert sorted(terra.deauthenticated) == sorted(alices)  # Terra's copy of each is deleted, nobody else's
    assert not [user for user in terra.users.values() if user.reference_id == "alice"]
    assert len(erased_events(store)) == int(report.erased)
    # The other app users end up with exactly what Terra holds for them.
    truth = {owner: rows for owner, rows in world.truth().items() if owner != "alice"}
    listed = {
        owner: sorted((c.terra_user_id, c.provider, c.status.value, c.scopes) for c in rows)
        for owner in ("bob", "carol")
        if (rows := ConnectionRegistry(store).connections(owner, Deadline.after(5)))
    }
    assert listed == truth


# --- hand-picked cases ---------------------------------------------------------------------------------------


def connected(store: InMemoryRegistryStore, *users: TerraUser, at: int = START) -> None:
    registry = ConnectionRegistry(store)
    for index, user in enumerate(users):
        registry.apply(Change(records=(seen_alive(user, (at + index) * 1000),)))


def test_a_user_with_many_connections_is_erased_in_one_call() -> None:
    users = [TerraUser(f"tu-{i:02d}", ("GARMIN", "OURA", "FITBIT")[i % 3], "alice") for i in range(40)]
    apple = TerraUser("tu-apple", "APPLE", "alice")  # claimed for alice by a device that had no token
    store, terra = InMemoryRegistryStore(), TerraAccount([*users[:30], apple])  # ten Terra already deleted
    connected(store, *users)
    registry = ConnectionRegistry(store)
    registry.apply(Change(attempt=("alice", AuthAttempt("error", "OURA", "denied", ERASED_AT.replace(year=2025)))))
    registry.apply(Change(unnamed_reauth=UnnamedReauth("alice", "GARMIN", START * 1000, "tu-00")))
    store.record_sdk_token("alice", START * 1000, (START + 600) * 1000)
    store.claim_sync("alice", START, 30)
    store.record_unverified("alice", "tu-apple", "APPLE", START * 1000)

    report = erase(store, terra)

    assert report == ErasureReport(True, deauthenticated=31, tombstoned=41, forgotten=0, items_deleted=5)
    assert sorted(terra.deauthenticated) == sorted([u.terra_user_id for u in users[:30]] + ["tu-apple"])
    nothing_left_of(store, "alice")
    tombstones = {uid: stored for uid, stored in store.records.items() if stored.erased}
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
    assert store.records == {}
    assert store.erased == {"alice": int(ERASED_AT.timestamp() * 1000)}  # deliveries in flight are refused


def test_a_terra_user_only_terra_knows_is_disconnected_there_and_tombstoned() -> None:
    store, terra = InMemoryRegistryStore(), TerraAccount([TerraUser("tu-missed", "OURA", "alice")])

    report = erase(store, terra)

    assert (report.deauthenticated, report.tombstoned) == (1, 1)
    assert store.records["tu-missed"].erased


def test_a_failure_half_way_leaves_the_rest_live_on_both_sides_and_the_retry_finishes_with_one_event() -> None:
    users = [TerraUser(f"tu-{i}", "GARMIN", "alice") for i in range(5)]
    store, terra = InMemoryRegistryStore(), TerraAccount(users)
    connected(store, *users)
    terra.fail_deauth_of = {"tu-3"}

    with pytest.raises(TerraUnavailable):
        erase(store, terra)

    # What Terra still holds, the registry still lists: never "gone" here while live there.
    listed = [c.terra_user_id for c in ConnectionRegistry(store).connections("alice", Deadline.after(5))]
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
    from terra_connect.domain.lifecycle import event_id  # noqa: PLC0415

    return event_id("alice", "erased", erasure_id)


def test_terra_unreachable_before_anything_changed_changes_nothing() -> None:
    store, terra = InMemoryRegistryStore(), TerraAccount([TerraUser("tu-1", "GARMIN", "alice")])
    connected(store, TerraUser("tu-1", "GARMIN", "alice"))
    before = store.snapshot()
    terra.fail_listing = True

    with pytest.raises(TerraUnavailable):
        erase(store, terra)

    assert store.snapshot() == before
    assert store.erasing == {}
    assert store.erased == {}


def test_a_terra_user_now_someone_elses_at_terra_is_not_disconnected_only_forgotten() -> None:
    """The registry still says alice (bob's claim is in flight); Terra says bob: bob keeps his wearable."""
    store, terra = InMemoryRegistryStore(), TerraAccount([TerraUser("tu-1", "GARMIN", "bob")])
    connected(store, TerraUser("tu-1", "GARMIN", "alice"))

    report = erase(store, terra)
    connected(store, TerraUser("tu-1", "GARMIN", "bob"), at=START + 5)  # bob's claim, sent before the erasure

    assert (report.deauthenticated, report.forgotten) == (0, 1)
    assert terra.deauthenticated == []
    assert [c.terra_user_id for c in ConnectionRegistry(store).connections("bob", Deadline.after(5))] == ["tu-1"]
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
    processor = WebhookProcessor(ConnectionRegistry(store))

    def racing_auth(_: InMemoryRegistryStore) -> None:
        processor.process(auth, "trace-1", START + 5)  # lands just before the tombstone is written

    store.before_save = racing_auth

    erase(store, terra)
    processor.process(auth, "trace-2", START + 5)  # and Terra's retry, after it

    assert [after.erased for _, after in store.writes[-2:]] == [False, True]  # the auth wrote first, then lost
    assert store.records["tu-1"].erased
    nothing_left_of(store, "alice")


def test_the_same_user_may_connect_again_as_a_new_user() -> None:
    store, terra = InMemoryRegistryStore(), TerraAccount([TerraUser("tu-1", "GARMIN", "alice")])
    connected(store, TerraUser("tu-1", "GARMIN", "alice"))
    erase(store, terra)
    after = int(ERASED_AT.timestamp()) + 60
    processor = WebhookProcessor(ConnectionRegistry(store))

    auth = {
        "type": "auth",
        "status": "success",
        "user": {"user_id": "tu-2", "provider": "OURA", "reference_id": "alice"},
    }
    processor.process(auth, "trace-new", after)

    listed = ConnectionRegistry(store).connections("alice", Deadline.after(5))
    assert [(c.terra_user_id, c.provider) for c in listed] == [("tu-2", "OURA")]
    assert ConnectionRegistry(store).last_attempt("alice") == AuthAttempt(
        "success", "OURA", None, datetime.fromtimestamp(after, UTC)
    )
    assert store.records["tu-1"].erased  # the old one stays a tombstone
