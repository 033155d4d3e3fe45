"""Terra's data events as the tests write them: a sample of every shape Terra publishes (each checked against the
JSON Schemas in tests/support/terra_schemas.py), and hypothesis strategies for times, records and whole events."""

import json
import random
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from hypothesis import strategies as st

TERRA_USER_ID = "40f7b0e1-89e2-43ac-a5b8-1e29c8d47cad"
RECEIVED_MS = 1_782_900_000_000  # 2026-07-01T10:00:00Z


def terra_user(
    provider: str = "GARMIN", reference_id: str | None = "alice", user_id: str = TERRA_USER_ID
) -> dict[str, Any]:
    return {
        "user_id": user_id,
        "provider": provider,
        "reference_id": reference_id,
        "scopes": "ACTIVITY_EXPORT,HEALTH_EXPORT",
        "active": True,
        "created_at": "2026-06-01T09:00:00.000000+00:00",
        "last_webhook_update": None,
    }


def time_text(moment: datetime, offset_minutes: int | None) -> str:
    """A time as Terra writes it: microseconds, and the offset when known (else the user's local time)."""
    text = moment.strftime("%Y-%m-%dT%H:%M:%S.%f")
    if offset_minutes is None:
        return text
    sign = "-" if offset_minutes < 0 else "+"
    hours, minutes = divmod(abs(offset_minutes), 60)
    return f"{text}{sign}{hours:02d}:{minutes:02d}"


def data_event(data_type: str, records: list[Any], user: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"type": data_type, "version": "2022-03-16", "status": None, "user": user or terra_user(), "data": records}


def activity(summary_id: str, start: str, end: str) -> dict[str, Any]:
    return {
        "metadata": {
            "name": "Morning Run",
            "summary_id": summary_id,
            "start_time": start,
            "end_time": end,
            "type": 8,
            "upload_type": 1,
        },
        "distance_data": {"summary": {"distance_meters": 8250.4, "steps": 7902}},
        "heart_rate_data": {"summary": {"avg_hr_bpm": 148.2, "max_hr_bpm": 181}},
    }


def sleep(summary_id: str | None, start: str, end: str) -> dict[str, Any]:
    metadata = {"start_time": start, "end_time": end, "summary_id": summary_id, "is_nap": False, "upload_type": 1}
    return {"metadata": metadata, "sleep_durations_data": {"asleep": {"duration_asleep_state_seconds": 25200}}}


def day_record(data_type: str, start: str, end: str, steps: int = 11894) -> dict[str, Any]:
    metadata: dict[str, Any] = {"start_time": start, "end_time": end}
    if data_type == "daily":
        metadata["upload_type"] = 0
    contents: dict[str, dict[str, Any]] = {
        "daily": {"distance_data": {"steps": steps, "distance_meters": 9412.7}},
        "body": {"measurements_data": {"measurements": [{"measurement_time": start, "weight_kg": 72.4}]}},
        "nutrition": {"summary": {"macros": {"calories": steps % 3000}, "water_ml": 2300}},
        "menstruation": {"menstruation_data": {"period_start_date": start[:10], "day_in_cycle": 4}},
    }
    return {"metadata": metadata, **contents[data_type]}


def health_observation(summary_id: str, start: str) -> dict[str, Any]:
    return {
        "metadata": {"start_time": start, "end_time": None, "summary_id": summary_id},
        "observation_data": {"observation_type": "intermenstrual_bleeding"},
    }


def hormone(timestamp: str) -> dict[str, Any]:
    return {"timestamp": timestamp, "lh_mIU_per_ml": 5.2, "e3g_ng_per_ml": None, "pdg_ug_per_ml": 2.4}


def planned_workout(**ids: Any) -> dict[str, Any]:
    """A planned workout; `ids` sets planned_workout_id, provider_workout_id, details_id, metadata_id, planned_date."""
    workout: dict[str, Any] = {
        "planned_workout_id": ids.get("planned_workout_id"),
        "workout_id": None,
        "planned_date": ids.get("planned_date", "2026-07-03"),
        "provider_workout_id": ids.get("provider_workout_id"),
        "created_at": ids.get("created_at", "2026-06-30T12:00:00Z"),
        "is_external": "details_id" in ids,
        "details": {"metadata": {"id": ids["details_id"], "planned_date": "2026-07-03"}}
        if "details_id" in ids
        else None,
    }
    if "metadata_id" in ids:
        workout["metadata"] = {"id": ids["metadata_id"]}
    return workout


def lab_report_completed(session_id: str = "297405620317847552", reference_id: str = "alice") -> dict[str, Any]:
    return {
        "type": "lab_report.completed",
        "event_id": "evt_4a2b8c1d-3f9e-4c0a-8b21-9d6e5f2a1c7b",
        "occurred_at": "2026-07-01T09:12:33Z",
        "upload_id": "upl_9d6e5f2a1c7b",
        "data": {
            "session_id": session_id,
            "reference_id": reference_id,
            "report_date": "2026-06-30",
            "results_count": 1,
            "results": [{"biomarker": {"key": "hemoglobin"}, "measurement": {"numeric": 14.2, "units": "g/dL"}}],
        },
    }


def lab_report_failed(session_id: str = "297405620317847552", reference_id: str = "alice") -> dict[str, Any]:
    return {
        "type": "lab_report.failed",
        "event_id": "evt_7c1f0a92-52c8-4a63-9082-7e50e2f5a1cd",
        "occurred_at": "2026-07-01T09:15:02Z",
        "data": {
            "session_id": session_id,
            "reference_id": reference_id,
            "error": {"code": "file_unreadable", "message": "The uploaded file could not be read.", "retriable": False},
        },
    }


def lab_report_flat(session_id: str = "297405620317847552", reference_id: str = "alice") -> dict[str, Any]:
    return {"type": "lab_report", "session_id": session_id, "reference_id": reference_id, "report_date": "2026-06-30"}


START = "2026-07-01T00:00:00.000000+01:00"
END = "2026-07-02T00:00:00.000000+01:00"

# One sample of every data and control event shape Terra publishes, under its schema's name.
SAMPLES: dict[str, dict[str, Any]] = {
    "activity": data_event(
        "activity",
        [
            activity(
                "123e4567-e89b-12d3-a456-426614174000",
                "2026-07-01T07:04:11.000000+01:00",
                "2026-07-01T07:52:48.000000+01:00",
            )
        ],
    ),
    "sleep": data_event("sleep", [sleep(None, "2026-06-30T23:12:00.000000+01:00", "2026-07-01T07:02:00.000000+01:00")]),
    "daily": data_event("daily", [day_record("daily", START, END)]),
    "body": data_event("body", [day_record("body", START, END)]),
    "nutrition": data_event("nutrition", [day_record("nutrition", START, END)]),
    "menstruation": data_event("menstruation", [day_record("menstruation", START, END)]),
    "health_observation": data_event(
        "health_observation", [health_observation("7C3A5D9E-1F42", "2022-10-28T10:00:00.000000+01:00")]
    ),
    "hormone": data_event("hormone", [hormone("2026-05-07T08:00:00+02:00")]),
    "planned_workout": data_event("planned_workout", [planned_workout(planned_workout_id="pw-1")]),
    "athlete": {
        "type": "athlete",
        "version": "2022-03-16",
        "user": terra_user(),
        "athlete": {"first_name": "John", "last_name": "Smith", "email": "john.smith@example.com"},
    },
    "lab_report.completed": lab_report_completed(),
    "lab_report.failed": lab_report_failed(),
    "lab_report (flat)": lab_report_flat(),
    "large_request_processing": {
        "type": "large_request_processing",
        "status": "processing",
        "reference": "d3f1a9c2-6b1e-4f0a-8f21-9e5b2c7a4d10",
        "message": "Large request is being processed; payloads will be delivered when ready",
        "user": terra_user(),
    },
    "large_request_sending": {
        "type": "large_request_sending",
        "reference": "d3f1a9c2-6b1e-4f0a-8f21-9e5b2c7a4d10",
        "message": "Large request payloads are being sent",
        "expected_payloads": 43,
        "user": terra_user(),
    },
    "s3_payload": {
        "type": "s3_payload",
        "status": "success",
        "url": "https://terra-payload-bucket.s3.eu-west-2.amazonaws.com/payloads/a.json?X-Amz-Signature=abc",
        "expires_in": 300,
    },
    "s3_upload": {
        "type": "s3_upload",
        "status": "success",
        "url": "https://terra-payload-bucket.s3.eu-west-2.amazonaws.com/payloads/b.json?X-Amz-Signature=def",
        "expires_in": 600,
    },
}


# Strategies.

# Every type Terra has published, for data or not: a type Terra adds later is none of these.
TAKEN_TYPES = frozenset(
    {"activity", "athlete", "body", "daily", "health_observation", "hormone", "lab_report", "menstruation"}
    | {"nutrition", "planned_workout", "sleep", "healthcheck", "processing", "rate_limit_hit", "google_no_datasource"}
    | {"auth", "auth_cancelled", "deauth", "user_reauth", "access_revoked", "connection_error", "permission_change"}
    | {"large_request_processing", "large_request_sending", "s3_payload", "s3_upload"}
)

offsets = st.one_of(st.none(), st.integers(min_value=-12 * 60, max_value=14 * 60))
moments = st.datetimes(min_value=datetime(1971, 1, 1), max_value=datetime(2099, 12, 30))  # noqa: DTZ001  # local times
times = st.builds(time_text, moments, offsets)
identifiers = st.text(min_size=1, max_size=80).filter(str.strip)
providers = st.sampled_from(["GARMIN", "OURA", "FITBIT", "WHOOP", "POLAR", "WITHINGS", "GOOGLE"])
unknown_types = st.from_regex(r"[a-z][a-z0-9_]{0,30}", fullmatch=True).filter(lambda name: name not in TAKEN_TYPES)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=12,
)


@st.composite
def timed(draw: st.DrawFn) -> tuple[str, str]:
    """A start and an end time, written with the same offset."""
    start = draw(moments)
    offset = draw(offsets)
    return time_text(start, offset), time_text(start + timedelta(minutes=draw(st.integers(1, 24 * 60))), offset)


def _planned(draw: st.DrawFn, start: str, end: str) -> dict[str, Any]:
    names = ("planned_workout_id", "details_id", "metadata_id", "provider_workout_id")
    chosen = draw(st.lists(st.sampled_from(names), unique=True))
    planned_date = draw(st.none() | st.just(start[:10]))
    return planned_workout(**{name: draw(identifiers) for name in chosen}, planned_date=planned_date)


def _later_type(draw: st.DrawFn, start: str, end: str) -> dict[str, Any]:
    """A record of a type Terra adds later: with Terra's usual metadata, or in a shape nobody published yet."""
    extra = draw(st.dictionaries(st.from_regex(r"[a-z_]{1,10}", fullmatch=True), json_values, max_size=3))
    shape = draw(st.sampled_from(["summary", "start", "other"]))
    if shape == "summary":
        return {**extra, "metadata": {"summary_id": draw(identifiers), "start_time": start, "end_time": end}}
    if shape == "start":
        return {**extra, "metadata": {"start_time": start}}
    return {**extra, "value": draw(json_values)}


Builder = Callable[[st.DrawFn, str, str], dict[str, Any]]


def _day(data_type: str) -> Builder:
    return lambda draw, start, end: day_record(data_type, start, end, draw(st.integers(0, 100_000)))


_BUILDERS: dict[str, Builder] = {
    "activity": lambda draw, start, end: activity(draw(identifiers), start, end),
    "sleep": lambda draw, start, end: sleep(draw(st.none() | identifiers), start, end),
    **{name: _day(name) for name in ("daily", "body", "nutrition", "menstruation")},
    "health_observation": lambda draw, start, end: health_observation(draw(identifiers), start),
    "hormone": lambda draw, start, end: hormone(start),
    "planned_workout": _planned,
}


@st.composite
def records_of(draw: st.DrawFn, data_type: str) -> dict[str, Any]:
    """A schema-shaped record of a type whose records are listed in `data`."""
    start, end = draw(timed())
    return _BUILDERS.get(data_type, _later_type)(draw, start, end)


LISTED_TYPES = (
    "activity",
    "sleep",
    "daily",
    "body",
    "nutrition",
    "menstruation",
    "health_observation",
    "hormone",
    "planned_workout",
)


@st.composite
def data_events(draw: st.DrawFn, data_type: str | None = None) -> dict[str, Any]:
    """A data event of a listed type, or of a type Terra may add later."""
    name = data_type or draw(st.sampled_from(LISTED_TYPES) | unknown_types)
    user = terra_user(draw(providers), draw(st.none() | st.text(min_size=1, max_size=20).filter(str.isprintable)))
    records = draw(st.lists(records_of(name), min_size=1, max_size=4))
    return data_event(name, records, user)


def reshuffled(value: Any, rng: random.Random) -> Any:
    """The same JSON value with every object's keys in another order."""
    if isinstance(value, dict):
        items = list(value.items())
        rng.shuffle(items)
        return {key: reshuffled(item, rng) for key, item in items}
    if isinstance(value, list):
        return [reshuffled(item, rng) for item in value]
    return value


def reserialised(value: Any, seed: int) -> bytes:
    """The same JSON value written another way: key order, spacing, escapes."""
    rng = random.Random(seed)  # noqa: S311  # reproducible variety, not secrecy
    separators = rng.choice([(",", ":"), (", ", ": "), (",", ": ")])
    indent = rng.choice([None, 2])
    text = json.dumps(reshuffled(value, rng), separators=separators, indent=indent, ensure_ascii=rng.random() < 0.5)
    return text.encode()
