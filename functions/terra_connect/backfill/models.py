"""What a backfill asks Terra for: one data request per type and range of days."""

from dataclasses import dataclass
from datetime import date


@dataclass(frozen=True, slots=True, order=True)
class DayRange:
    start: date
    end: date  # included

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1


@dataclass(frozen=True, slots=True, order=True)
class DataRequest:
    """`GET /<data_type>?user_id=...&start_date=...&end_date=...&to_webhook=true` for one Terra user."""

    data_type: str
    days: DayRange | None  # None: an undated type (athlete)

    @property
    def cost(self) -> int:
        """What it counts against Terra's per-user limits: its days, both ends included (Terra counts end - start,
        one less, so this errs on the safe side); an undated request counts 1."""
        return self.days.days if self.days is not None else 1

    def terra_query(self, terra_user_id: str, *, with_samples: bool) -> dict[str, str]:
        """The query string Terra's data endpoint takes (to_webhook: the data arrives as webhooks, chunked when
        large, under the reference Terra answers with)."""
        query = {"user_id": terra_user_id, "to_webhook": "true", "with_samples": "true" if with_samples else "false"}
        if self.days is not None:
            query |= {"start_date": self.days.start.isoformat(), "end_date": self.days.end.isoformat()}
        return query
