"""POST /v1/connections/sync: the app comes back from the widget and the caller's records are repaired from Terra's
own view, then listed exactly as GET /v1/connections lists them. At most one real sync per caller per 30 s."""

import json
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import responses

from terra_connect.connections.registry import ConnectionRegistry
from terra_connect.connections.service import ConnectionsService
from terra_connect.connections.vocabulary import TerraUser
from terra_connect.kernel.deadline import Deadline
from terra_connect.kernel.errors import TerraUnavailable
from terra_connect.kernel.redirects import RedirectPolicy
from terra_connect.sync.reconciler import MAX_CONFIRMATIONS_PER_SYNC, SyncService
from terra_connect.webhooks.processor import WebhookProcessor
from tests.support.builders import SUBJECT, ApiAnswer, api_event, terra_user, webhook_event
from tests.support.memory_registry import InMemoryRegistryStore

Deliver = Callable[[dict[str, Any]], ApiAnswer]
USER_INFO = "https://api.tryterra.co/v2/userInfo"
SYNC: dict[str, Any] = {"method": "POST", "path": "/v1/connections/sync"}


def connect(deliver: Deliver, user_id: str, provider: str = "GARMIN") -> None:
    event = {"type": "auth", "status": "success", "user": terra_user(user_id, provider)}
    assert deliver(webhook_event(event)).status == 200


def terra_lists(terra: responses.RequestsMock, *users: dict[str, Any]) -> None:
    terra.get(USER_INFO, match=[responses.matchers.query_param_matcher({"reference_id": SUBJECT})], json=list(users))


def test_a_connection_whose_webhook_never_came_is_added(
    invoke: Callable[..., ApiAnswer], terra: responses.RequestsMock
) -> None:
    terra_lists(terra, {**terra_user("tu-missed", "OURA"), "scopes": "sleep:read", "active": True})

    answer = invoke(api_event(**SYNC))

    assert answer.status == 200
    assert answer.headers["Sync-Status"] == "performed"
    assert answer.headers["Cache-Control"] == "no-store"
    listed = [(c["terra_user_id"], c["provider"], c["status"], c["scopes"]) for c in answer.json["connections"]]
    assert listed == [("tu-missed", "OURA", "connected", ["sleep:read"])]
    assert answer.json == invoke(api_event(method="GET", path="/v1/connections")).json


def test_a_connection_terra_no_longer_has_is_confirmed_and_removed(
    invoke: Callable[..., ApiAnswer], deliver: Deliver, terra: responses.RequestsMock, registry: Any
) -> None:
    connect(deliver, "tu-kept")
    connect(deliver, "tu-gone", "OURA")
    terra_lists(terra, terra_user("tu-kept"))
    terra.get(
        USER_INFO,
        match=[responses.matchers.query_param_matcher({"user_id": "tu-gone"})],
        status=404,
        json={"type": "about:blank", "title": "not found", "detail": "user not found"},
    )

    answer = invoke(api_event(**SYNC))

    assert [c["terra_user_id"] for c in answer.json["connections"]] == ["tu-kept"]
    assert [(h.terra_user_id, h.reason) for h in registry.history(SUBJECT)] == [("tu-gone", "gone_at_terra")]


def test_a_connection_terra_lists_under_another_app_user_moves_there(
    invoke: Callable[..., ApiAnswer], deliver: Deliver, terra: responses.RequestsMock, registry: Any
) -> None:
    connect(deliver, "tu-1")
    terra_lists(terra)
    moved = {**terra_user("tu-1", reference_id="someone-else")}
    terra.get(
        USER_INFO,
        match=[responses.matchers.query_param_matcher({"user_id": "tu-1"})],
        json={"user": moved, "status": "success", "is_authenticated": True},
    )

    answer = invoke(api_event(**SYNC))

    assert answer.json["connections"] == []
    assert [c.terra_user_id for c in registry.connections("someone-else", Deadline.after(5))] == ["tu-1"]


def test_scopes_and_the_active_flag_follow_terra(
    invoke: Callable[..., ApiAnswer], deliver: Deliver, terra: responses.RequestsMock
) -> None:
    connect(deliver, "tu-1")
    terra_lists(terra, {**terra_user("tu-1"), "scopes": "activity:read,heart:read", "active": False})

    (connection,) = invoke(api_event(**SYNC)).json["connections"]

    assert (connection["scopes"], connection["active"]) == (["activity:read", "heart:read"], False)


def test_a_second_sync_within_30_seconds_answers_from_the_registry_and_says_so(
    invoke: Callable[..., ApiAnswer], terra: responses.RequestsMock
) -> None:
    terra_lists(terra, terra_user("tu-1"))
    first = invoke(api_event(**SYNC))
    calls = len(terra.calls)

    second = invoke(api_event(**SYNC))

    assert len(terra.calls) == calls
    assert second.status == 200
    assert second.headers["Sync-Status"] == "recent"
    assert second.headers["Synced-At"] == first.headers["Synced-At"]
    assert 1 <= int(second.headers["Retry-After"]) <= 30
    assert second.json == first.json


def test_terra_being_unavailable_is_a_503(invoke: Callable[..., ApiAnswer], terra: responses.RequestsMock) -> None:
    terra.get(USER_INFO, status=503, json={"status": "error", "message": "down"})

    answer = invoke(api_event(**SYNC))

    assert (answer.status, answer.code) == (503, "terra_unavailable")


def test_a_failed_sync_releases_its_claim_so_the_retry_after_it_answers_works(
    invoke: Callable[..., ApiAnswer], terra: responses.RequestsMock
) -> None:
    terra.get(USER_INFO, status=503, json={"status": "error", "message": "down"})
    failed = invoke(api_event(**SYNC))
    terra.replace(responses.GET, USER_INFO, json=[terra_user("tu-1")])

    retried = invoke(api_event(**SYNC))  # at once: within the 1 s the failure asked for, well within 30 s

    assert (failed.status, failed.headers["Retry-After"]) == (503, "1")
    assert retried.headers["Sync-Status"] == "performed"
    assert [c["terra_user_id"] for c in retried.json["connections"]] == ["tu-1"]


def test_the_sync_reads_only_the_callers_own_terra_users(
    invoke: Callable[..., ApiAnswer], terra: responses.RequestsMock
) -> None:
    terra.get(USER_INFO, json=[])

    invoke(api_event(**SYNC, headers={"x-reference-id": "someone-else"}))
    invoke(api_event(**SYNC, claims={"sub": "bob"}))

    assert [call.request.url for call in terra.calls] == [f"{USER_INFO}?reference_id=bob"]


def test_the_sync_needs_an_identity(invoke: Callable[..., ApiAnswer], terra: responses.RequestsMock) -> None:
    answer = invoke(api_event(**SYNC, claims=None))

    assert (answer.status, answer.code) == (401, "unauthenticated")
    assert len(terra.calls) == 0


class FakeTerra:
    """Terra's user lists, for the domain rules."""

    def __init__(self, *users: TerraUser) -> None:
        self.users = {user.terra_user_id: user for user in users}
        self.calls: list[str] = []
        self.failing = False

    def users_of(self, reference_id: str, deadline: Deadline) -> list[TerraUser]:
        self.calls.append(f"users_of {reference_id}")
        if self.failing:
            raise TerraUnavailable
        return [u for u in self.users.values() if u.reference_id == reference_id]

    def user(self, terra_user_id: str, deadline: Deadline) -> TerraUser | None:
        self.calls.append(f"user {terra_user_id}")
        return self.users.get(terra_user_id)

    def users_page(self, page: int, per_page: int, deadline: Deadline) -> Any:
        raise NotImplementedError

    def users_by_ids(self, terra_user_ids: Sequence[str], deadline: Deadline) -> list[TerraUser]:
        raise NotImplementedError


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 11, 24, 12, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


def sync_service(store: InMemoryRegistryStore, terra: FakeTerra, clock: Clock) -> SyncService:
    registry = ConnectionRegistry(store)
    connections = ConnectionsService(registry, terra, RedirectPolicy([]))  # type: ignore[arg-type]
    return SyncService(registry, terra, connections, now=clock)


def test_a_real_sync_is_allowed_again_after_the_interval(clock: Clock) -> None:
    terra = FakeTerra(TerraUser("tu-1", "GARMIN", "alice"))
    service = sync_service(InMemoryRegistryStore(), terra, clock)

    results = [service.sync("alice", Deadline.after(5))]
    clock.now += timedelta(seconds=29)
    results.append(service.sync("alice", Deadline.after(5)))
    clock.now += timedelta(seconds=1)
    results.append(service.sync("alice", Deadline.after(5)))

    assert [r.performed for r in results] == [True, False, True]
    assert results[1].retry_after == 1
    assert terra.calls.count("users_of alice") == 2


def test_the_retry_after_a_recent_sync_answers_is_when_its_claim_ends(clock: Clock) -> None:
    """A sync still under way (claimed, not finished) holds the interval from its claim, not from the last sync that
    finished: the Retry-After answered is the moment a real sync is allowed again."""
    terra = FakeTerra(TerraUser("tu-1", "GARMIN", "alice"))
    store = InMemoryRegistryStore()
    service = sync_service(store, terra, clock)
    service.sync("alice", Deadline.after(5))
    clock.now += timedelta(seconds=100)
    started = int(clock.now.timestamp())
    assert store.claim_sync("alice", started, 30).claimed  # another sync, still asking Terra

    clock.now += timedelta(seconds=10)
    waiting = service.sync("alice", Deadline.after(5))
    clock.now += timedelta(seconds=waiting.retry_after - 1)
    early = service.sync("alice", Deadline.after(5))
    clock.now += timedelta(seconds=1)
    on_time = service.sync("alice", Deadline.after(5))

    assert (waiting.performed, waiting.retry_after) == (False, 20)
    assert (early.performed, on_time.performed) == (False, True)


def test_a_sync_that_fails_part_way_releases_its_claim(clock: Clock) -> None:
    terra = FakeTerra(TerraUser("tu-1", "GARMIN", "alice"))
    store = InMemoryRegistryStore()
    service = sync_service(store, terra, clock)
    terra.failing = True

    with pytest.raises(TerraUnavailable):
        service.sync("alice", Deadline.after(5))
    terra.failing = False
    retried = service.sync("alice", Deadline.after(5))

    assert retried.performed
    assert [c.terra_user_id for c in retried.connections.connections] == ["tu-1"]


def test_the_terra_calls_a_sync_makes_are_bounded(clock: Clock) -> None:
    store = InMemoryRegistryStore()
    processor = WebhookProcessor(ConnectionRegistry(store))
    for index in range(MAX_CONFIRMATIONS_PER_SYNC + 3):
        event = {"type": "auth", "status": "success", "user": terra_user(f"tu-{index}", reference_id="alice")}
        processor.process(json.loads(json.dumps(event)), None, 1_795_000_000)
    terra = FakeTerra()

    result = sync_service(store, terra, clock).sync("alice", Deadline.after(5))

    assert len(terra.calls) == 1 + MAX_CONFIRMATIONS_PER_SYNC
    assert len(result.connections.connections) == 3  # the rest are confirmed by the next sync or reconciliation
