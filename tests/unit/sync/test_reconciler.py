"""The scheduled reconciliation repairs the whole registry from Terra's user list: what webhooks never delivered,
what Terra deleted silently, what moved; it resumes where it stopped and waits out Terra's Retry-After."""

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import pytest

from terra_connect.connections.vocabulary import TerraUser
from terra_connect.kernel.deadline import Deadline
from terra_connect.kernel.errors import TerraUnavailable
from terra_connect.sync.ports import UsersPage
from terra_connect.sync.reconciler import Reconciler
from terra_connect.webhooks.processor import WebhookProcessor
from tests.support.builders import terra_user
from tests.support.memory_registry import InMemoryRegistryStore, registry_over

T = 1_795_000_000


class FakeTime:
    """Wall clock and monotonic clock in one; only sleeping (or a Terra call) moves them."""

    def __init__(self) -> None:
        self.seconds = float(T + 3600)
        self.slept: list[float] = []

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.seconds, UTC)

    def monotonic(self) -> float:
        return self.seconds

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.seconds += seconds


class FakeTerra:
    """Terra's user list, paged; each call costs `call_seconds` of the fake clock."""

    def __init__(self, clock: FakeTime, users: Sequence[TerraUser] = (), call_seconds: float = 1.0) -> None:
        self.clock = clock
        self.users = {user.terra_user_id: user for user in users}
        self.call_seconds = call_seconds
        self.pages_read: list[int] = []
        self.failures: list[Exception] = []
        self.asked: list[str] = []

    def _call(self) -> None:
        self.clock.seconds += self.call_seconds
        if self.failures:
            raise self.failures.pop(0)

    def users_page(self, page: int, per_page: int, deadline: Deadline) -> UsersPage:
        self._call()
        self.pages_read.append(page)
        users = sorted(self.users.values(), key=lambda u: u.terra_user_id)
        chunk = tuple(users[page * per_page : (page + 1) * per_page])
        return UsersPage(chunk, page + 1 if (page + 1) * per_page < len(users) else None)

    def users_by_ids(self, terra_user_ids: Sequence[str], deadline: Deadline) -> list[TerraUser]:
        self._call()
        self.asked += terra_user_ids
        return [self.users[uid] for uid in terra_user_ids if uid in self.users]

    def user(self, terra_user_id: str, deadline: Deadline) -> TerraUser | None:
        self._call()
        return self.users.get(terra_user_id)

    def users_of(self, reference_id: str, deadline: Deadline) -> list[TerraUser]:
        raise NotImplementedError


@pytest.fixture
def clock() -> FakeTime:
    return FakeTime()


def webhooks(store: InMemoryRegistryStore, *events: dict[str, Any]) -> None:
    processor = WebhookProcessor(registry_over(store))
    for event in events:
        processor.process(event, None, T)


def auth(user_id: str, reference_id: str = "alice", provider: str = "GARMIN") -> dict[str, Any]:
    return {"type": "auth", "status": "success", "user": terra_user(user_id, provider, reference_id)}


def reconciler(store: InMemoryRegistryStore, terra: FakeTerra, clock: FakeTime, page_size: int = 2) -> Reconciler:
    return Reconciler(
        registry_over(store),
        store.reconciliation,
        terra,
        now=clock.now,
        sleep=clock.sleep,
        page_size=page_size,
        scan_batch=2,
    )


def listed(store: InMemoryRegistryStore, reference_id: str) -> list[str]:
    return [c.terra_user_id for c in registry_over(store).connections(reference_id, Deadline.after(5))]


def test_a_run_adds_missed_connections_removes_silent_deletions_and_follows_moves(clock: FakeTime) -> None:
    store = InMemoryRegistryStore()
    webhooks(store, auth("tu-kept"), auth("tu-deleted"), auth("tu-moved"))
    terra = FakeTerra(
        clock,
        [
            TerraUser("tu-kept", "GARMIN", "alice", ("activity:read",), True),
            TerraUser("tu-missed", "OURA", "alice", ("sleep:read",), True),
            TerraUser("tu-moved", "GARMIN", "bob", None, True),
            TerraUser("tu-not-ours", "WHOOP", None, None, True),
        ],
    )

    report = reconciler(store, terra, clock).run(Deadline.after(600, clock.monotonic))

    assert report.finished
    assert listed(store, "alice") == ["tu-kept", "tu-missed"]
    assert listed(store, "bob") == ["tu-moved"]
    assert "tu-not-ours" not in store.stored
    assert {h.terra_user_id: h.reason for h in store.records.history("alice")} == {
        "tu-deleted": "gone_at_terra",
        "tu-moved": "claimed_by_another_user",
    }
    assert (report.checked, report.repaired, report.failed) == (5, 4, 0)


def test_a_second_run_over_an_unchanged_registry_writes_nothing(clock: FakeTime) -> None:
    store = InMemoryRegistryStore()
    terra = FakeTerra(clock, [TerraUser(f"tu-{i}", "GARMIN", "alice", ("a",), True) for i in range(5)])
    reconciler(store, terra, clock).run(Deadline.after(600, clock.monotonic))
    saves = store.saves

    report = reconciler(store, terra, clock).run(Deadline.after(600, clock.monotonic))

    assert report.finished
    assert (report.repaired, store.saves) == (0, saves)


def test_a_run_that_runs_out_of_time_resumes_where_it_stopped(clock: FakeTime) -> None:
    store = InMemoryRegistryStore()
    terra = FakeTerra(clock, [TerraUser(f"tu-{i:02d}", "GARMIN", "alice") for i in range(10)], call_seconds=4)

    first = reconciler(store, terra, clock).run(Deadline.after(14, clock.monotonic))
    second = reconciler(store, terra, clock).run(Deadline.after(600, clock.monotonic))

    assert (first.finished, second.finished) == (False, True)
    assert terra.pages_read == [0, 1, 2, 3, 4]  # every page once: the second run did not start over
    assert len(listed(store, "alice")) == 10


def test_terras_retry_after_is_waited_out_when_there_is_time(clock: FakeTime) -> None:
    store = InMemoryRegistryStore()
    terra = FakeTerra(clock, [TerraUser("tu-1", "GARMIN", "alice")])
    terra.failures.append(TerraUnavailable(retry_after=7))

    report = reconciler(store, terra, clock).run(Deadline.after(600, clock.monotonic))

    assert report.finished
    assert clock.slept == [7]
    assert listed(store, "alice") == ["tu-1"]


def test_a_retry_after_beyond_the_time_left_stops_the_run_for_the_next_one(clock: FakeTime) -> None:
    store = InMemoryRegistryStore()
    terra = FakeTerra(clock, [TerraUser("tu-1", "GARMIN", "alice")])
    terra.failures.append(TerraUnavailable(retry_after=3600))

    report = reconciler(store, terra, clock).run(Deadline.after(600, clock.monotonic))

    assert (report.finished, report.stopped_by, clock.slept) == (False, "terra_unavailable", [])
    assert store.cursor is None or store.cursor.finished_at is None
    assert reconciler(store, terra, clock).run(Deadline.after(600, clock.monotonic)).finished


def test_a_user_the_registry_cannot_store_is_counted_and_the_others_are_kept(clock: FakeTime) -> None:
    store = InMemoryRegistryStore(refused={"tu-2"})
    terra = FakeTerra(clock, [TerraUser(f"tu-{i}", "GARMIN", "alice") for i in range(1, 4)])

    report = reconciler(store, terra, clock, page_size=5).run(Deadline.after(600, clock.monotonic))

    assert (report.finished, report.failed, listed(store, "alice")) == (True, 1, ["tu-1", "tu-3"])
