"""Which data requests a new connection's backfill makes: each type the provider offers, over the last days.

A connection made in the widget gets Terra data requests (`to_webhook=true`) for the last `BackfillDays` days
(today included, UTC) of every dated type the provider supports - `/integrations/detailed` says which; when that
is unknown, all six - plus the athlete profile. SDK providers (Apple Health, Samsung Health, Health Connect)
are not backfilled: their data is on the phone, which sends it through Terra's mobile SDK. `BackfillDays = 0`
turns backfills off.
"""

from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from terra_connect.backfill.models import DataRequest, DayRange
from terra_connect.backfill.pacing import MAX_DAYS_PER_REQUEST, split

# Terra's data endpoints: GET /activity, /body, /daily, /menstruation, /nutrition, /sleep (dated) and /athlete.
DATED_TYPES = ("activity", "body", "daily", "menstruation", "nutrition", "sleep")
UNDATED_TYPES = ("athlete",)
MAX_BACKFILL_DAYS = MAX_DAYS_PER_REQUEST
HOUR_MS = 3_600_000


@dataclass(frozen=True, slots=True)
class NewConnection:
    """The connection the registry just recorded (its Wearable Connected event)."""

    reference_id: str
    terra_user_id: str
    provider: str


@dataclass(frozen=True, slots=True)
class BackfillPlan:
    connection: NewConnection
    days: DayRange
    requests: tuple[DataRequest, ...]  # in the order to make them, each within Terra's per-request limit
    skipped: tuple[str, ...]  # dated types the provider does not offer
    started_ms: int
    deadline_ms: int  # after this the backfill is reported incomplete

    @property
    def types(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(request.data_type for request in self.requests))


def plan_backfill(
    connection: NewConnection,
    *,
    backfill_days: int,
    timeout_hours: int,
    now_ms: int,
    supported_types: Collection[str] | None,
    sdk_providers: Collection[str],
) -> BackfillPlan | None:
    """The backfill a new connection gets, or None when backfills are off or the provider is an SDK one.
    `supported_types`: the dated types Terra says the provider offers (None: unknown)."""
    if not 0 <= backfill_days <= MAX_BACKFILL_DAYS:
        raise ValueError(f"backfill_days must be 0-{MAX_BACKFILL_DAYS}")
    if timeout_hours < 1:
        raise ValueError("timeout_hours must be at least 1")
    if backfill_days == 0 or connection.provider.upper() in {code.upper() for code in sdk_providers}:
        return None
    today = datetime.fromtimestamp(now_ms / 1000, UTC).date()
    days = DayRange(today - timedelta(days=backfill_days - 1), today)
    offered = set(DATED_TYPES) if supported_types is None else set(supported_types) & set(DATED_TYPES)
    dated = [piece for name in DATED_TYPES if name in offered for piece in split(DataRequest(name, days))]
    undated = [DataRequest(name, None) for name in UNDATED_TYPES]
    return BackfillPlan(
        connection,
        days,
        (*dated, *undated),
        tuple(name for name in DATED_TYPES if name not in offered),
        now_ms,
        now_ms + timeout_hours * HOUR_MS,
    )
