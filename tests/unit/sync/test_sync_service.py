"""The sync service's own rules: at most one real sync per caller per interval, counted from the claim in force;
a failed sync gives its claim back; the Terra calls one sync makes are bounded."""

import json
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from terra_connect.connections.service import ConnectionsService
from terra_connect.connections.vocabulary import TerraUser
from terra_connect.kernel.deadline import Deadline
from terra_connect.kernel.errors import TerraUnavailable
from terra_connect.kernel.redirects import RedirectPolicy
from terra_connect.sync.service import MAX_CONFIRMATIONS_PER_SYNC, SyncService
from terra_connect.webhooks.processor import WebhookProcessor
from tests.support.builders import terra_user
from tests.support.memory_registry import InMemoryRegistryStore, registry_over


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
    registry = registry_over(store)
    connections = ConnectionsService(registry, terra, RedirectPolicy([]))  # type: ignore[arg-type]
    return SyncService(registry, store.sync_claims, terra, connections, now=clock)


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
    assert store.sync_claims.claim_sync("alice", started, 30).claimed  # another sync, still asking Terra

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
    processor = WebhookProcessor(registry_over(store))
    for index in range(MAX_CONFIRMATIONS_PER_SYNC + 3):
        event = {"type": "auth", "status": "success", "user": terra_user(f"tu-{index}", reference_id="alice")}
        processor.process(json.loads(json.dumps(event)), None, 1_795_000_000)
    terra = FakeTerra()

    result = sync_service(store, terra, clock).sync("alice", Deadline.after(5))

    assert len(terra.calls) == 1 + MAX_CONFIRMATIONS_PER_SYNC
    assert len(result.connections.connections) == 3  # the rest are confirmed by the next sync or reconciliation
