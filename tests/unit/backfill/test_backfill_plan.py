"""A new connection's backfill asks Terra for the last BackfillDays days of every dated type its provider offers,
plus the athlete profile; SDK providers and BackfillDays=0 get none."""

from datetime import date

import pytest

from terra_connect.backfill.models import DataRequest, DayRange
from terra_connect.backfill.plan import DATED_TYPES, BackfillPlan, NewConnection, plan_backfill

NOW_MS = 1_782_900_000_000  # 2026-07-01T10:00:00Z
CONNECTION = NewConnection("alice", "tu-1", "GARMIN")
SDK_PROVIDERS = ("APPLE", "SAMSUNG", "HEALTH_CONNECT")


def plan(
    connection: NewConnection = CONNECTION, days: int = 30, supported: set[str] | None = None, hours: int = 24
) -> BackfillPlan | None:
    return plan_backfill(
        connection,
        backfill_days=days,
        timeout_hours=hours,
        now_ms=NOW_MS,
        supported_types=supported,
        sdk_providers=SDK_PROVIDERS,
    )


def test_a_new_connection_asks_for_the_last_days_of_every_type_then_the_athlete_profile() -> None:
    backfill = plan()

    assert backfill is not None
    last_30_days = DayRange(date(2026, 6, 2), date(2026, 7, 1))
    assert backfill.days == last_30_days
    assert backfill.requests == (
        *(DataRequest(name, last_30_days) for name in DATED_TYPES),
        DataRequest("athlete", None),
    )
    assert backfill.skipped == ()
    assert (backfill.started_ms, backfill.deadline_ms) == (NOW_MS, NOW_MS + 24 * 3_600_000)
    assert [request.cost for request in backfill.requests] == [30] * 6 + [1]


def test_only_the_types_the_provider_offers_are_asked_for_the_others_are_skipped() -> None:
    backfill = plan(supported={"sleep", "daily", "planned_workout"})

    assert backfill is not None
    assert backfill.types == ("daily", "sleep", "athlete")
    assert backfill.skipped == ("activity", "body", "menstruation", "nutrition")


@pytest.mark.parametrize("provider", ["APPLE", "samsung", "HEALTH_CONNECT"])
def test_sdk_providers_are_not_backfilled(provider: str) -> None:
    assert plan(NewConnection("alice", "tu-1", provider)) is None


def test_zero_days_turns_backfills_off() -> None:
    assert plan(days=0) is None


def test_the_longest_backfill_is_one_request_per_type_within_terras_limit() -> None:
    backfill = plan(days=1825)

    assert backfill is not None
    assert len(backfill.requests) == 7
    assert {request.cost for request in backfill.requests if request.days} == {1825}


@pytest.mark.parametrize(("days", "hours"), [(-1, 24), (1826, 24), (30, 0)])
def test_out_of_range_settings_are_refused(days: int, hours: int) -> None:
    with pytest.raises(ValueError, match="must be"):
        plan(days=days, hours=hours)


def test_a_request_is_terras_data_request_delivered_to_the_webhook() -> None:
    dated = DataRequest("sleep", DayRange(date(2026, 6, 2), date(2026, 7, 1)))

    assert dated.terra_query("tu-1", with_samples=False) == {
        "user_id": "tu-1",
        "start_date": "2026-06-02",
        "end_date": "2026-07-01",
        "to_webhook": "true",
        "with_samples": "false",
    }
    assert DataRequest("athlete", None).terra_query("tu-1", with_samples=True) == {
        "user_id": "tu-1",
        "to_webhook": "true",
        "with_samples": "true",
    }
