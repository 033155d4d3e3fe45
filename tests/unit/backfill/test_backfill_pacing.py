"""Pacing keeps every Terra user's data requests within Terra's limits by saying when the next may run: for any
requests and any clock, every range is requested exactly once, in pieces of at most 1,825 days, and no rolling hour
holds more than 5,000 requested days - nor more than Terra said remains."""

from datetime import date, timedelta
from itertools import pairwise

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from terra_connect.backfill.models import DataRequest, DayRange
from terra_connect.backfill.pacing import (
    DAY_BUDGET_PER_HOUR,
    MAX_DAYS_PER_REQUEST,
    WINDOW_MS,
    DayLedger,
    Run,
    Spend,
    TerraAllowance,
    Wait,
    next_step,
    split,
)

ranges = st.builds(
    lambda start, days: DayRange(
        date(2015, 1, 1) + timedelta(days=start), date(2015, 1, 1) + timedelta(days=start + days - 1)
    ),
    st.integers(0, 4000),
    st.integers(1, 6000),
)
requests = st.builds(DataRequest, st.sampled_from(["activity", "sleep", "daily", "body"]), ranges) | st.just(
    DataRequest("athlete", None)
)


@settings(max_examples=300, deadline=None)
@given(request=requests)
def test_a_request_is_split_into_consecutive_pieces_within_terras_limit(request: DataRequest) -> None:
    pieces = split(request)

    assert all(piece.cost <= MAX_DAYS_PER_REQUEST and piece.data_type == request.data_type for piece in pieces)
    if request.days is None:
        assert pieces == (request,)
        return
    ranges = [piece.days for piece in pieces if piece.days is not None]
    assert (ranges[0].start, ranges[-1].end) == (request.days.start, request.days.end)
    for before, after in pairwise(ranges):
        assert after.start == before.end + timedelta(days=1)  # no day twice, none left out
    assert sum(piece.cost for piece in pieces) == request.cost


@settings(max_examples=300, deadline=None)
@given(
    wanted=st.lists(requests, min_size=1, max_size=8),
    delays=st.lists(st.integers(0, 2 * WINDOW_MS), min_size=1, max_size=50),
    early=st.lists(st.booleans(), min_size=1, max_size=50),
)
def test_any_requests_on_any_clock_are_each_made_once_within_every_rolling_hour(
    wanted: list[DataRequest], delays: list[int], early: list[bool]
) -> None:
    pending = [piece for request in wanted for piece in split(request)]
    ledger, now, made, tick = DayLedger(), 1_782_900_000_000, [], 0
    while (step := next_step(pending, ledger, now)) is not None:
        tick += 1
        if isinstance(step, Run):
            made.append((now, step.request))
            ledger = ledger.record(now, step.request.cost)
            pending.remove(step.request)
            now += delays[tick % len(delays)]  # the next message arrives whenever it does
        else:
            assert step.until_ms > now
            # Woken early (a redelivered message) the answer is to wait again; otherwise at or after the time given.
            now = (
                now + (step.until_ms - now) // 2 + 1
                if early[tick % len(early)]
                else step.until_ms + delays[tick % len(delays)]
            )
        assert tick < 10_000

    assert sorted(request for _, request in made) == sorted(piece for request in wanted for piece in split(request))
    assert all(request.cost <= MAX_DAYS_PER_REQUEST for _, request in made)
    for at, _ in made:  # every rolling hour that ends with a request
        assert sum(request.cost for t, request in made if at - WINDOW_MS < t <= at) <= DAY_BUDGET_PER_HOUR


def test_a_request_waits_until_the_hour_frees_enough_days() -> None:
    ledger = DayLedger((Spend(0, 1825), Spend(1_000, 1825), Spend(2_000, 1000)))
    request = DataRequest("daily", DayRange(date(2026, 1, 1), date(2026, 12, 31)))  # 365 days

    assert ledger.spent(2_000) == 4650
    assert next_step([request], ledger, 3_000) == Wait(WINDOW_MS)  # the first spend leaves the window
    assert next_step([request], ledger, WINDOW_MS) == Run(request)
    assert ledger.record(WINDOW_MS + 1_500, 1).spends == (Spend(2_000, 1000), Spend(WINDOW_MS + 1_500, 1))


def test_terras_own_count_and_retry_after_are_obeyed() -> None:
    request = DataRequest("sleep", DayRange(date(2026, 6, 2), date(2026, 7, 1)))  # 30 days
    ledger = DayLedger((Spend(10_000, 20),))
    allowance = TerraAllowance(remaining=45, reset_at_ms=600_000, observed_ms=5_000)

    assert next_step([request], ledger, 20_000, terra=allowance) == Wait(600_000)  # 45 - 20 spent since < 30
    assert next_step([request], ledger, 600_000, terra=allowance) == Run(request)
    assert next_step([request], DayLedger(), 20_000, terra=allowance) == Run(request)
    assert next_step([request], DayLedger(), 20_000, retry_at_ms=80_000) == Wait(80_000)
    assert next_step([], ledger, 20_000) is None


def test_an_unsplit_request_is_refused_rather_than_sent() -> None:
    too_long = DataRequest("daily", DayRange(date(2020, 1, 1), date(2025, 12, 31)))

    with pytest.raises(ValueError, match="split"):
        next_step([too_long], DayLedger(), 0)
    with pytest.raises(ValueError, match="budget"):
        DayLedger().fits_at(DAY_BUDGET_PER_HOUR + 1, 0)
