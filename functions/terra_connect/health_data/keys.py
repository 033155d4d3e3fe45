"""A record's identity and its day, from the record itself, by Terra's rules for its type.

Identity is (owner, type, provider, record key): the owner comes from attribution, the rest from here. Provider,
not Terra user id, because reconnecting creates a new Terra user for the same account, and its backfill must
overwrite what the old one delivered, not duplicate it (so one app user with two accounts of the same provider
shares day-keyed records: a documented limit).

- activity, sleep, health_observation: `s:<metadata.summary_id>`, else `t:<metadata.start_time>`; the start's day.
- daily, body, nutrition, menstruation: `d:<start day>` (Terra: one record per day, each copy the whole day).
- hormone: `t:<timestamp>`; the timestamp's day.
- planned_workout: the first of `w:<planned_workout_id>`, `p:<details.metadata.id>`, `m:<metadata.id>`,
  `p:<provider_workout_id>`, else `h:<digest>`; `planned_date`, else `created_at`'s day, else the receipt day.
- athlete: `profile` (one per account); the receipt day (UTC), so it is listed where it last changed.
- lab_report: `l:<session_id>`; `report_date`, else `occurred_at`'s day, else the receipt day.
- any other type: `s:<metadata.summary_id>`, else `t:<metadata.start_time>`, else `h:<digest>` (content only);
  the start's day, else the receipt day.

The day of a time is its first ten characters as Terra wrote them - the user's local date, never converted to
UTC - when they are a real date from 1970 to 2100. Everything is derived from values, never from how the JSON was
written, so a record re-serialised or with its keys in another order has the same identity and day. Every part is
bounded so that keys fit DynamoDB's limits whatever an authentic payload holds.
"""

import hashlib
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

ACTIVITY = "activity"
ATHLETE = "athlete"
BODY = "body"
DAILY = "daily"
HEALTH_OBSERVATION = "health_observation"
HORMONE = "hormone"
LAB_REPORT = "lab_report"
MENSTRUATION = "menstruation"
NUTRITION = "nutrition"
PLANNED_WORKOUT = "planned_workout"
SLEEP = "sleep"

SUMMARY_KEYED = frozenset({ACTIVITY, SLEEP, HEALTH_OBSERVATION})
# Terra: one record per day, each copy a cumulative superset of the last (daily, body) or the day's whole state.
DAY_KEYED = frozenset({DAILY, BODY, NUTRITION, MENSTRUATION})
KNOWN_DATA_TYPES = SUMMARY_KEYED | DAY_KEYED | {ATHLETE, HORMONE, LAB_REPORT, PLANNED_WORKOUT}

# Terra's types are lower_snake_case; a dot separates an envelope's variant (lab_report.completed).
DATA_TYPE_PATTERN = re.compile(r"[a-z][a-z0-9_.]{0,39}")
_PROVIDER_CODE = re.compile(r"[A-Z0-9_]{1,64}")
NO_PROVIDER = "-"  # lab reports: no Terra user, no provider ("-" is no provider code)
MAX_RECORD_KEY_BYTES = 256
MAX_TIME_LENGTH = 64
FIRST_YEAR, LAST_YEAR = 1970, 2100
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
ATHLETE_KEY = "profile"
# Ids Terra sends in headers and control events (trace ids, references: UUIDs, `<id>:chunk:<n>`).
_TERRA_TOKEN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._~:@+=/-]{0,255}")


@dataclass(frozen=True, slots=True, order=True)
class RecordIdentity:
    """A record of an owner's: at most one current copy per identity."""

    data_type: str
    provider: str  # provider_code(): Terra's code, or a stand-in that can never be one
    record_key: str


@dataclass(frozen=True, slots=True)
class KeyedRecord:
    """What the rules of a record's type say about it: its key, its day, and the times Terra wrote for it."""

    record_key: str
    day: str
    start_time: str | None
    end_time: str | None


def data_type_of(event_type: str) -> str | None:
    """The type records of an event are kept under (`lab_report.completed` → `lab_report`); None when the type
    cannot name a partition of the store (not lower_snake_case, or over 40 characters)."""
    if not DATA_TYPE_PATTERN.fullmatch(event_type):
        return None
    return LAB_REPORT if event_type.split(".", 1)[0] == LAB_REPORT else event_type


def provider_code(provider: str | None) -> str:
    """The provider part of an identity: Terra's code (GARMIN), or - for a value that is none, which a key could
    not hold unambiguously - a digest that no code can equal, so that two providers never share a record."""
    if provider is None:
        return NO_PROVIDER
    if _PROVIDER_CODE.fullmatch(provider):
        return provider
    return "~" + _sha256(provider)[:32]


def record_key(prefix: str, value: str) -> str:
    """`prefix:value`, or its digest `h:<sha256>` when that would be unprintable or over 256 bytes."""
    key = f"{prefix}:{value}"
    if key.isprintable() and len(key.encode("utf-8", "surrogatepass")) <= MAX_RECORD_KEY_BYTES:
        return key
    return "h:" + _sha256(key)


def day_of(value: Any) -> str | None:
    """The date a time (or date) was written on: its first ten characters when they are a real date in 1970-2100,
    whatever the offset that follows."""
    if not isinstance(value, str) or not (len(value) == 10 or (len(value) > 10 and value[10] in "Tt ")):
        return None
    day = value[:10]
    if not _DATE.fullmatch(day):
        return None
    try:
        year = date.fromisoformat(day).year
    except ValueError:
        return None
    return day if FIRST_YEAR <= year <= LAST_YEAR else None


def receipt_day(received_ms: int) -> str:
    """The UTC date a payload was received: the day of records whose own times name none."""
    return datetime.fromtimestamp(received_ms / 1000, UTC).date().isoformat()


def terra_token(value: Any) -> str | None:
    """A trace id or reference as Terra sends it; None when absent or not one (spaces, controls, over 256)."""
    return value if isinstance(value, str) and _TERRA_TOKEN.fullmatch(value) else None


def base_reference(value: Any) -> str | None:
    """The reference of a data request a `terra-reference` names: Terra's FAQ writes a chunk's as
    `<reference>:chunk:<n>`, its agent guidance keeps it plain; either way, what precedes the first colon."""
    token = terra_token(value)
    return token.split(":", 1)[0] if token else None


def delivery_key(trace_id: str | None, body: bytes) -> str:
    """The identity of one delivered body (64 hex): a redelivery - same trace id, same bytes - has the same one; a
    lab report reprocessed under its old trace id with new content has another. Without a trace id, the bytes."""
    body_digest = hashlib.sha256(body).hexdigest()
    if trace_id is None:
        return body_digest
    return _sha256(f"{trace_id}\n{body_digest}")


def payload_id(key: str) -> str:
    """The id of a delivered payload (32 hex), as events and reads name it: the start of its delivery key."""
    return key[:32]


def key_record(data_type: str, record: Mapping[str, Any], *, digest: str, received_ms: int) -> KeyedRecord | None:
    """The key and day of one record of `data_type` (`digest`: its content's sha256, the key of last resort);
    None when the rules of its type cannot key it (a daily with no start day): it is kept in the raw payload only."""
    return _RULES.get(data_type, _any_type)(record, digest, received_ms)


def _by_summary(record: Mapping[str, Any], digest: str, received_ms: int) -> KeyedRecord | None:
    return _summary_or_start(record, received_ms, fallback=None)


def _any_type(record: Mapping[str, Any], digest: str, received_ms: int) -> KeyedRecord | None:
    return _summary_or_start(record, received_ms, fallback="h:" + digest)


def _summary_or_start(record: Mapping[str, Any], received_ms: int, *, fallback: str | None) -> KeyedRecord | None:
    start, end = _metadata_times(record)
    summary_id = _identifier(_metadata(record).get("summary_id"))
    if summary_id is not None:
        key = record_key("s", summary_id)
    elif start is not None:
        # Sleep's summary_id may be null (its schema); the start time is the session's next best identity.
        key = record_key("t", start)
    elif fallback is not None:
        key = fallback
    else:
        return None
    return KeyedRecord(key, day_of(start) or receipt_day(received_ms), start, end)


def _by_day(record: Mapping[str, Any], digest: str, received_ms: int) -> KeyedRecord | None:
    start, end = _metadata_times(record)
    day = day_of(start)
    return KeyedRecord(record_key("d", day), day, start, end) if day else None


def _hormone(record: Mapping[str, Any], digest: str, received_ms: int) -> KeyedRecord | None:
    timestamp = _time(record.get("timestamp"))
    if timestamp is None:
        return None
    return KeyedRecord(record_key("t", timestamp), day_of(timestamp) or receipt_day(received_ms), timestamp, None)


def _athlete(record: Mapping[str, Any], digest: str, received_ms: int) -> KeyedRecord | None:
    return KeyedRecord(ATHLETE_KEY, receipt_day(received_ms), None, None)


def _planned_workout(record: Mapping[str, Any], digest: str, received_ms: int) -> KeyedRecord:
    # Terra's spec keys a planned workout by planned_workout_id, its agent guidance by metadata.id; either may be
    # null, and an external workout has only its provider's id: the first one present wins.
    details = record.get("details")
    details_metadata = _metadata(details) if isinstance(details, dict) else {}
    candidates = (
        ("w", record.get("planned_workout_id")),
        ("p", details_metadata.get("id")),
        ("m", _metadata(record).get("id")),
        ("p", record.get("provider_workout_id")),
    )
    key = next(
        (record_key(prefix, value) for prefix, raw in candidates if (value := _identifier(raw)) is not None),
        "h:" + digest,
    )
    planned = _time(record.get("planned_date"))
    day = day_of(planned) or day_of(record.get("created_at")) or receipt_day(received_ms)
    return KeyedRecord(key, day, planned, None)


def _lab_report(report: Mapping[str, Any], digest: str, received_ms: int) -> KeyedRecord | None:
    # Terra's spec wraps the report in an envelope (`data`); the shape it shipped first was flat.
    inner = report.get("data")
    body: Mapping[str, Any] = inner if isinstance(inner, dict) else report
    session_id = _identifier(body.get("session_id"))
    if session_id is None:
        return None
    occurred = _time(report.get("occurred_at"))
    report_date = _time(body.get("report_date"))
    day = day_of(report_date) or day_of(occurred) or receipt_day(received_ms)
    return KeyedRecord(record_key("l", session_id), day, report_date or occurred, None)


Rule = Callable[[Mapping[str, Any], str, int], KeyedRecord | None]
_RULES: dict[str, Rule] = {
    **dict.fromkeys(SUMMARY_KEYED, _by_summary),
    **dict.fromkeys(DAY_KEYED, _by_day),
    HORMONE: _hormone,
    ATHLETE: _athlete,
    PLANNED_WORKOUT: _planned_workout,
    LAB_REPORT: _lab_report,
}


def _metadata(record: Mapping[str, Any]) -> Mapping[str, Any]:
    metadata = record.get("metadata")
    return metadata if isinstance(metadata, dict) else {}


def _metadata_times(record: Mapping[str, Any]) -> tuple[str | None, str | None]:
    metadata = _metadata(record)
    return _time(metadata.get("start_time")), _time(metadata.get("end_time"))


def _time(value: Any) -> str | None:
    """A time as Terra wrote it, when it is a non-empty string of sensible length."""
    return value if isinstance(value, str) and value.strip() and len(value) <= MAX_TIME_LENGTH else None


def _identifier(value: Any) -> str | None:
    """An id Terra wrote as a string or an integer (never a boolean)."""
    if isinstance(value, str):
        return value if value.strip() else None
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return None


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()
