"""Pacing a Terra user's data requests within Terra's limits - by saying when the next may run, never by sleeping.

Terra limits data requests per Terra user: at most 1,825 days in one request (rule r1) and 6,000 requested days in
any rolling hour (rule r2; a 429 with `Retry-After` beyond it). A backfill keeps below both on its own: requests
are split into pieces of at most 1,825 days, and a ledger of the days it requested in the last hour admits a
piece only while the hour's total stays within 5,000 - leaving 1,000 for the app's own requests for that user.
When Terra says more (its `X-Terra-RateLimit-Remaining` and reset, or a 429's `Retry-After`), that is obeyed too.

The caller persists the ledger with the plan and, when told to wait, leaves the work on a queue until then
(message visibility), so no function waits and no 429 drops a request.
"""

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import timedelta

from terra_connect.backfill.models import DataRequest, DayRange

MAX_DAYS_PER_REQUEST = 1825  # Terra's r1
TERRA_DAYS_PER_HOUR = 6000  # Terra's r2
DAY_BUDGET_PER_HOUR = 5000
WINDOW_MS = 3_600_000


def split(request: DataRequest, max_days: int = MAX_DAYS_PER_REQUEST) -> tuple[DataRequest, ...]:
    """The request as consecutive pieces of at most `max_days` days that together cover its range exactly once."""
    if request.days is None or request.days.days <= max_days:
        return (request,)
    pieces: list[DataRequest] = []
    start = request.days.start
    while start <= request.days.end:
        end = min(start + timedelta(days=max_days - 1), request.days.end)
        pieces.append(replace(request, days=DayRange(start, end)))
        start = end + timedelta(days=1)
    return tuple(pieces)


@dataclass(frozen=True, slots=True)
class Spend:
    at_ms: int
    days: int


@dataclass(frozen=True, slots=True)
class DayLedger:
    """The days requested for one Terra user, each at the time it was requested (only the last hour is kept)."""

    spends: tuple[Spend, ...] = ()

    def spent(self, now_ms: int) -> int:
        """Days requested in the hour before `now_ms` (a request at `t` counts while now - t < 1 h)."""
        return sum(spend.days for spend in self.spends if now_ms - spend.at_ms < WINDOW_MS)

    def spent_since(self, since_ms: int) -> int:
        return sum(spend.days for spend in self.spends if spend.at_ms >= since_ms)

    def record(self, now_ms: int, days: int) -> "DayLedger":
        kept = tuple(spend for spend in self.spends if now_ms - spend.at_ms < WINDOW_MS)
        return DayLedger((*kept, Spend(now_ms, days)))

    def fits_at(self, days: int, now_ms: int, budget: int = DAY_BUDGET_PER_HOUR) -> int:
        """The earliest time from `now_ms` at which `days` more stay within `budget` for the hour before."""
        if days > budget:
            raise ValueError("a request larger than the hourly budget can never run")
        at = now_ms
        for spend in sorted(self.spends, key=lambda s: s.at_ms):
            if self.spent(at) + days <= budget:
                break
            at = max(at, spend.at_ms + WINDOW_MS)  # the hour in which this spend counts has passed
        return at


@dataclass(frozen=True, slots=True)
class TerraAllowance:
    """What Terra last said of this user's r2 budget: `remaining` days until `reset_at_ms`, as of `observed_ms`."""

    remaining: int
    reset_at_ms: int
    observed_ms: int


@dataclass(frozen=True, slots=True)
class Run:
    request: DataRequest


@dataclass(frozen=True, slots=True)
class Wait:
    until_ms: int


def next_step(
    pending: Sequence[DataRequest],
    ledger: DayLedger,
    now_ms: int,
    *,
    terra: TerraAllowance | None = None,
    retry_at_ms: int | None = None,
    budget: int = DAY_BUDGET_PER_HOUR,
) -> Run | Wait | None:
    """The next request to make now, in order, or when to ask again (`retry_at_ms`: a 429's Retry-After); None
    when nothing is pending. `pending` holds pieces of at most 1,825 days (split())."""
    if not pending:
        return None
    request = pending[0]
    if request.cost > MAX_DAYS_PER_REQUEST:
        raise ValueError("split() the request first: Terra refuses more than 1,825 days in one request")
    at = ledger.fits_at(request.cost, now_ms, budget)
    if retry_at_ms is not None:
        at = max(at, retry_at_ms)
    if terra is not None and at < terra.reset_at_ms:
        left = terra.remaining - ledger.spent_since(terra.observed_ms)
        if request.cost > left:
            at = terra.reset_at_ms
    return Run(request) if at <= now_ms else Wait(at)
