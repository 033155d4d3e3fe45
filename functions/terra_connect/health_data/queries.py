"""The read route's rules (`GET /v1/data/{type}`): which types it serves, which days, how many records a page holds.

A query is checked whole before anything is read, and every refusal is a 4xx the app can act on:
- a type the store does not list → `404 unknown_data_type`;
- an unknown parameter, a date that is not a real `YYYY-MM-DD`, a missing date, `limit` outside 1-100, a
  malformed `payload_id` → `422 validation_error` naming each parameter (never its value);
- `end_date` before `start_date`, or more than 366 days from one to the other inclusive → `422 invalid_date_range`;
- a page token another query gave, or altered → `422 invalid_page_token`.

Dates are the days records are listed under (the local date Terra wrote), both included. `payload_id` (from a
`Wearable Data Received` event) asks for the records one payload changed, instead of a range of days.
"""

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from terra_connect.health_data import keys
from terra_connect.health_data.layout import day_key_bounds
from terra_connect.health_data.models import RecordPosition
from terra_connect.health_data.page_tokens import TokenScope, decode_page_token
from terra_connect.kernel.errors import InvalidDateRange, InvalidRequest, UnknownDataType

# The types Terra documents; records of a type it adds later are kept and announced, and readable here once the
# type is added to this list (and to the Athena table's partition projection).
READABLE_TYPES = tuple(sorted(keys.KNOWN_DATA_TYPES))
MAX_RANGE_DAYS = 366
MAX_LIMIT = 100
DEFAULT_LIMIT = MAX_LIMIT
PARAMETERS = ("start_date", "end_date", "payload_id", "limit", "page_token")
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_PAYLOAD_ID = re.compile(r"[0-9a-f]{32}")


@dataclass(frozen=True, slots=True)
class DateRange:
    start: date
    end: date  # included

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1


@dataclass(frozen=True, slots=True)
class DataQuery:
    """A checked read: a type and either a range of days or a payload, a page size, and where to continue."""

    data_type: str
    dates: DateRange | None  # None when asking for a payload's records
    payload_id: str | None
    limit: int
    after: RecordPosition | None  # from the page token; None: from the start

    @property
    def scope(self) -> TokenScope:
        if self.dates is None:
            return TokenScope(self.data_type, payload_id=self.payload_id)
        return TokenScope(self.data_type, self.dates.start.isoformat(), self.dates.end.isoformat())

    @property
    def day_key_bounds(self) -> tuple[str, str] | None:
        """The index's day-key bounds of the range (None for a payload's records)."""
        if self.dates is None:
            return None
        return day_key_bounds(self.data_type, self.dates.start.isoformat(), self.dates.end.isoformat())


def readable_type(value: Any) -> str:
    if not isinstance(value, str) or value not in READABLE_TYPES:
        raise UnknownDataType(log_context={"reason": "a data type the store does not list"})
    return value


def data_query(data_type: Any, parameters: Mapping[str, Any] | None) -> DataQuery:
    """The query `GET /v1/data/{data_type}?<parameters>` asks for; raises the route's 4xx otherwise."""
    data_type = readable_type(data_type)
    given = dict(parameters or {})
    errors = [_error(name, "extra_forbidden") for name in sorted(set(given) - set(PARAMETERS), key=str)]
    payload_id = given.get("payload_id")
    if payload_id is not None and not (isinstance(payload_id, str) and _PAYLOAD_ID.fullmatch(payload_id)):
        errors.append(_error("payload_id", "string_pattern_mismatch"))
    if payload_id is None:
        start, end = _date(given, "start_date", errors), _date(given, "end_date", errors)
    else:
        errors.extend(_error(name, "extra_forbidden") for name in ("start_date", "end_date") if name in given)
        start = end = None
    limit = _limit(given.get("limit"), errors)
    if errors:
        raise InvalidRequest(errors=errors)
    dates = None
    if start is not None and end is not None:
        dates = DateRange(start, end)
        if end < start or dates.days > MAX_RANGE_DAYS:
            raise InvalidDateRange(log_context={"days": dates.days})
    query = DataQuery(data_type, dates, payload_id, limit, None)
    token = given.get("page_token")
    if token is None:
        return query
    return DataQuery(data_type, dates, payload_id, limit, decode_page_token(token, query.scope))


def _date(given: Mapping[str, Any], name: str, errors: list[dict[str, Any]]) -> date | None:
    value = given.get(name)
    if value is None:
        errors.append(_error(name, "missing"))
        return None
    if isinstance(value, str) and _DATE.fullmatch(value):
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    errors.append(_error(name, "date_parsing"))
    return None


def _limit(value: Any, errors: list[dict[str, Any]]) -> int:
    if value is None:
        return DEFAULT_LIMIT
    if not (isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 6):
        errors.append(_error("limit", "int_parsing"))
        return DEFAULT_LIMIT
    limit = int(value)
    if limit < 1:
        errors.append(_error("limit", "greater_than_equal"))
    elif limit > MAX_LIMIT:
        errors.append(_error("limit", "less_than_equal"))
    return limit


def _error(name: str, kind: str) -> dict[str, Any]:
    return {"loc": ["query", name], "type": kind}
