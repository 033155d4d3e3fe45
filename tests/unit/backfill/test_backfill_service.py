"""The backfill service: one plan per connection, steps within Terra's limits, each of Terra's answers handled
without sleeping, and the end reported once - completed when the data arrived, incomplete at the deadline."""

from dataclasses import replace

import pytest

from terra_connect.backfill.plan import DATED_TYPES, NewConnection
from terra_connect.backfill.ports import (
    MAX_WAKE_DELAY_MS,
    Accepted,
    Allowance,
    DataInline,
    ProviderSupport,
    RateLimited,
    Refused,
    Unauthorized,
    Unavailable,
)
from terra_connect.backfill.service import (
    LEASE_MS,
    STALL_MS,
    BackfillBusy,
    BackfillService,
    BackfillSettings,
    StepResult,
)
from terra_connect.health_data.events import BackfillStatus, TypeStatus
from terra_connect.kernel.deadline import Deadline
from tests.support.memory_backfill import Clock, KeptInline, MemoryBackfillStore, RecordedWakes, ScriptedTerra

GARMIN = NewConnection("alice", "tu-1", "GARMIN")
TIME = Deadline(60.0, clock=lambda: 0.0)  # an invocation with a minute left, whatever the test's clock says


class World:
    def __init__(self, days: int = 30, timeout_hours: int = 24) -> None:
        self.clock = Clock()
        self.store = MemoryBackfillStore()
        self.wakes = RecordedWakes(self.clock)
        self.terra = ScriptedTerra(self.clock)
        self.inline = KeptInline()
        self.service = BackfillService(
            terra=self.terra,
            store=self.store,
            scheduler=self.wakes,
            inline=self.inline,
            settings=BackfillSettings(days, timeout_hours),
            clock=self.clock,
        )

    def asked(self) -> list[str]:
        return [request.data_type for _, _, request in self.terra.asked]

    def last_token(self) -> int:
        return self.wakes.sent[-1].token


@pytest.fixture
def world() -> World:
    return World()


def test_a_connection_announced_twice_gets_one_plan_and_each_request_once(world: World) -> None:
    first = world.service.connected(GARMIN, TIME)
    again = world.service.connected(GARMIN, TIME)

    assert first.result is StepResult.REQUESTED
    assert [request.data_type for request in first.made] == [*DATED_TYPES, "athlete"]
    assert again.result is StepResult.REQUESTED
    assert world.asked() == [*DATED_TYPES, "athlete"]  # nothing asked twice
    assert world.terra.support_asked == ["GARMIN"]
    assert list(world.store.items) == ["tu-1"]
    assert world.wakes.sent == []  # nothing to wait for


def test_the_days_asked_for_are_the_last_backfill_days_with_today(world: World) -> None:
    world.service.connected(GARMIN, TIME)

    daily = next(request for _, _, request in world.terra.asked if request.data_type == "daily")
    assert daily.days is not None
    assert (daily.days.start.isoformat(), daily.days.end.isoformat(), daily.cost) == ("2026-06-02", "2026-07-01", 30)


def test_backfill_days_zero_asks_and_stores_nothing() -> None:
    world = World(days=0)

    assert world.service.connected(GARMIN, TIME).result is StepResult.OFF
    assert (world.terra.asked, world.terra.support_asked, world.store.items) == ([], [], {})


def test_an_sdk_provider_is_not_backfilled(world: World) -> None:
    world.terra.support = ProviderSupport(sdk=True, types=None)

    assert world.service.connected(NewConnection("alice", "tu-2", "APPLE"), TIME).result is StepResult.NOT_BACKFILLED
    assert (world.terra.asked, world.store.items) == ([], {})


def test_only_the_types_the_provider_offers_are_asked_for_the_rest_reported_skipped(world: World) -> None:
    world.terra.support = ProviderSupport(sdk=False, types=frozenset({"sleep", "daily"}))
    world.service.connected(GARMIN, TIME)

    assert world.asked() == ["daily", "sleep", "athlete"]
    world.clock.now += 24 * 3_600_000
    (ended,) = world.service.sweep()
    assert ended.types["activity"].status is TypeStatus.SKIPPED
    assert ended.types["sleep"].status is TypeStatus.INCOMPLETE


def test_a_429_with_retry_after_is_asked_again_then_by_a_wake_up_never_a_sleep(world: World) -> None:
    world.terra.scripts["activity"] = [RateLimited("r2", 90_000)]

    report = world.service.connected(GARMIN, TIME)

    assert report.result is StepResult.WAITING
    assert world.asked() == ["activity"]
    assert (world.wakes.sent[-1].delay_ms, report.wake_at_ms) == (90_000, world.clock.now + 90_000)
    world.clock.now += 90_000
    later = world.service.step("tu-1", world.last_token(), TIME)
    assert later.result is StepResult.REQUESTED
    assert world.asked() == ["activity", *DATED_TYPES, "athlete"]  # the refused request again, then the rest


def test_a_429_without_retry_after_waits_a_minute_then_twice_as_long(world: World) -> None:
    world.terra.scripts["activity"] = [RateLimited(None, None), RateLimited("r2", None)]

    world.service.connected(GARMIN, TIME)
    world.clock.now += 60_000
    world.service.step("tu-1", world.last_token(), TIME)

    assert [wake.delay_ms for wake in world.wakes.sent] == [60_000, 120_000]
    assert world.asked() == ["activity", "activity"]


def test_a_wait_longer_than_a_queue_delay_takes_several_wake_ups_and_early_messages_do_nothing(world: World) -> None:
    world.terra.scripts["activity"] = [RateLimited("r2", 2_000_000)]
    world.service.connected(GARMIN, TIME)
    first = world.wakes.sent[-1]
    assert first.delay_ms == MAX_WAKE_DELAY_MS

    assert world.service.step("tu-1", 0, TIME).result is StepResult.STALE  # a duplicate of the connection's message
    world.clock.now += MAX_WAKE_DELAY_MS
    assert world.service.step("tu-1", first.token, TIME).result is StepResult.WAITING
    assert world.service.step("tu-1", first.token, TIME).result is StepResult.STALE  # its duplicate
    world.clock.now += MAX_WAKE_DELAY_MS
    world.service.step("tu-1", world.last_token(), TIME)
    world.clock.now += 2_000_000 - 2 * MAX_WAKE_DELAY_MS
    assert world.service.step("tu-1", world.last_token(), TIME).result is StepResult.REQUESTED

    assert [wake.delay_ms for wake in world.wakes.sent] == [900_000, 900_000, 200_000]
    assert world.asked().count("activity") == 2


def test_pacing_spreads_a_long_backfill_over_hours() -> None:
    world = World(days=1825)

    report = world.service.connected(GARMIN, TIME)

    assert [request.data_type for request in report.made] == ["activity", "body"]  # 3,650 of 5,000 days
    assert report.result is StepResult.WAITING
    assert world.wakes.sent[-1].delay_ms == MAX_WAKE_DELAY_MS


@pytest.mark.parametrize(
    ("answer", "type_status"),
    [
        (RateLimited("r1", None), TypeStatus.FAILED),
        (Refused(400), TypeStatus.FAILED),
        (Refused(None), TypeStatus.FAILED),
    ],
)
def test_a_request_terra_refuses_for_good_fails_its_type_and_the_rest_go_on(
    world: World, answer: RateLimited | Refused, type_status: TypeStatus
) -> None:
    world.terra.scripts["sleep"] = [answer]

    world.service.connected(GARMIN, TIME)

    assert world.asked() == [*DATED_TYPES, "athlete"]
    state = world.store.state("tu-1")
    assert state.backfill.report()["sleep"].status is type_status
    assert state.retry_at_ms is None


def test_a_404_fails_every_request_left_and_ends_incomplete_once_the_rest_arrived(world: World) -> None:
    world.terra.scripts["body"] = [Refused(404)]

    world.service.connected(GARMIN, TIME)
    ended = world.service.delivered("tu-1", "ref-1", "trace-1", "d")

    assert world.asked() == ["activity", "body"]
    assert ended is not None
    assert ended.status is BackfillStatus.INCOMPLETE
    assert {name: report.status for name, report in ended.types.items()} == {
        "activity": TypeStatus.COMPLETED,
        **dict.fromkeys((*DATED_TYPES[1:], "athlete"), TypeStatus.FAILED),
    }


@pytest.mark.parametrize(
    ("answers", "delays"),
    [
        ([Unauthorized(401), Unauthorized(403)], [300_000, 300_000]),
        ([Unavailable(), Unavailable(), Unavailable()], [30_000, 60_000, 120_000]),
        ([Unavailable(retry_after_ms=45_000)], [45_000]),
    ],
)
def test_terra_down_or_refusing_the_key_is_asked_again_later(
    world: World, answers: list[Unauthorized | Unavailable], delays: list[int]
) -> None:
    world.terra.scripts["activity"] = list(answers)

    world.service.connected(GARMIN, TIME)
    for delay in delays:
        assert world.wakes.sent[-1].delay_ms == delay
        world.clock.now += delay
        world.service.step("tu-1", world.last_token(), TIME)

    assert world.asked() == ["activity"] * len(delays) + [*DATED_TYPES, "athlete"]
    assert world.store.state("tu-1").failures == 0


def test_terras_remaining_allowance_is_obeyed() -> None:
    world = World(days=100)
    world.terra.scripts["activity"] = [Accepted("ref-a", large=True, allowance=Allowance(120, 600_000))]

    report = world.service.connected(GARMIN, TIME)

    assert world.asked() == ["activity"]  # Terra said 120 days remain: 100 more do not fit
    assert report.wake_at_ms == world.clock.now + 600_000


def test_data_answered_inline_is_handed_over_and_counts_as_the_requests_payload(world: World) -> None:
    world.terra.support = ProviderSupport(sdk=False, types=frozenset({"daily"}))
    world.terra.scripts["daily"] = [DataInline(b'{"type":"daily","data":[]}')]
    world.terra.scripts["athlete"] = [DataInline(b'{"athlete":{}}')]

    report = world.service.connected(GARMIN, TIME)

    assert world.inline.kept == [
        ("tu-1", "daily", b'{"type":"daily","data":[]}'),
        ("tu-1", "athlete", b'{"athlete":{}}'),
    ]
    assert report.ended is not None
    assert report.ended.status is BackfillStatus.COMPLETED
    assert world.store.ended == [report.ended]


def test_large_requests_complete_once_every_announced_chunk_arrived_in_any_order(world: World) -> None:
    world.terra.support = ProviderSupport(sdk=False, types=frozenset({"activity"}))
    world.terra.scripts["activity"] = [Accepted("big", large=True)]
    assert world.service.delivered("tu-1", "big:chunk:1", "t1", "d1") is None  # before any plan: nothing to count
    world.service.connected(GARMIN, TIME)
    service = world.service

    assert service.delivered("tu-1", "big:chunk:1", "t1", "d1") is None
    assert service.delivered("tu-1", "ref-2", "t-athlete", "d") is None  # the athlete's request is done
    assert service.delivered("tu-1", "big:chunk:1", "t1-again", "d1") is None  # a redelivery of chunk 1
    assert service.announced("tu-1", "big", None) is None
    assert service.delivered("tu-1", "big:chunk:2", "t2", "d2") is None
    ended = service.announced("tu-1", "big", 2)

    assert ended is not None
    assert ended.status is BackfillStatus.COMPLETED
    assert ended.types["activity"].payloads_expected == 2
    assert ended.types["activity"].payloads_received == 2
    assert ended.to_detail()["types"]["activity"]["status"] == "completed"
    assert service.delivered("tu-1", "big:chunk:3", "t3", "d3") is None  # after the end: reported once
    assert world.store.ended == [ended]


def test_the_sweep_ends_overdue_backfills_incomplete_once_and_wakes_stalled_ones() -> None:
    world = World(days=1825)
    world.service.connected(GARMIN, TIME)
    world.service.connected(NewConnection("bob", "tu-2", "OURA"), TIME)
    world.wakes.sent.clear()

    world.clock.now += 3_600_000 + STALL_MS  # both wake-ups lost, the hour's budget free again
    assert world.service.sweep() == []
    assert sorted((wake.terra_user_id, wake.delay_ms) for wake in world.wakes.sent) == [("tu-1", 0), ("tu-2", 0)]
    woken = world.wakes.sent[0]
    assert world.service.step(woken.terra_user_id, woken.token, TIME).made != ()

    world.clock.now += 24 * 3_600_000
    ended = world.service.sweep()
    assert sorted(event.terra_user_id for event in ended) == ["tu-1", "tu-2"]
    assert all(event.status is BackfillStatus.INCOMPLETE for event in ended)
    assert world.service.sweep() == []
    assert world.store.open_backfills(10) == []


def test_a_step_under_way_elsewhere_is_left_to_it_until_its_lease_expires(world: World) -> None:
    world.terra.scripts["activity"] = [RateLimited("r2", 1_000)]
    world.service.connected(GARMIN, TIME)
    world.clock.now += 1_000
    stored = world.store.load("tu-1")
    assert stored is not None
    world.store.save(
        replace(stored.state, lease="elsewhere", lease_until_ms=world.clock.now + LEASE_MS), stored.version
    )

    assert world.service.step("tu-1", world.last_token(), TIME).result is StepResult.BUSY
    world.clock.now += LEASE_MS
    assert world.service.step("tu-1", world.last_token(), TIME).result is StepResult.REQUESTED
    assert world.asked().count("activity") == 2


def test_with_too_little_time_left_the_step_is_handed_to_a_new_message(world: World) -> None:
    report = world.service.connected(GARMIN, Deadline(5.0, clock=lambda: 0.0))

    assert (report.result, report.made, world.asked()) == (StepResult.WAITING, (), [])
    assert world.wakes.sent[-1].delay_ms == 0


def test_an_answer_lands_on_whatever_the_backfill_became_meanwhile(world: World) -> None:
    writes = iter(range(3))

    def chunk_meanwhile() -> None:  # a delivery reported between every claim and its answer
        if next(writes, None) == 1:
            world.store.before_save = lambda: None
            world.service.delivered("tu-1", "ref-1", "early", "d")

    world.store.before_save = chunk_meanwhile
    world.service.connected(GARMIN, TIME)

    state = world.store.state("tu-1")
    assert state.made == 7
    assert state.backfill.report()["activity"].status is TypeStatus.COMPLETED


def test_a_backfill_changed_by_others_on_every_attempt_gives_up_for_a_retry(world: World) -> None:
    world.service.connected(GARMIN, TIME)
    world.store.before_save = lambda: world.store.items.update(
        {"tu-1": (world.store.items["tu-1"][0], world.store.items["tu-1"][1] + 1)}
    )

    with pytest.raises(BackfillBusy):
        world.service.delivered("tu-1", "ref-1", "t", "d")
