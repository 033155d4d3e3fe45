"""A record's identity and day come from its values by its type's rule: the same however the JSON is written, the
local date Terra wrote whatever the offset, never shared between providers, and always within the store's bounds."""

import json
from datetime import date, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from terra_connect.health_data import keys, layout
from terra_connect.health_data.keys import RecordIdentity
from terra_connect.health_data.models import DataPayload
from terra_connect.health_data.ordering import CopyOrder
from terra_connect.health_data.payloads import parse_payload
from terra_connect.kernel.errors import RegistryRejected
from terra_connect.terra import users
from tests.support.terra_data import (
    RECEIVED_MS,
    activity,
    data_event,
    data_events,
    day_record,
    health_observation,
    hormone,
    lab_report_completed,
    lab_report_failed,
    lab_report_flat,
    moments,
    offsets,
    planned_workout,
    reserialised,
    sleep,
    terra_user,
    time_text,
)

RECEIPT_DAY = "2026-07-01"


def parsed(body: bytes | dict[str, Any]) -> DataPayload:
    payload = parse_payload(body if isinstance(body, bytes) else json.dumps(body).encode(), received_ms=RECEIVED_MS)
    assert isinstance(payload, DataPayload)
    return payload


def placement(payload: DataPayload) -> list[tuple[RecordIdentity, str, str | None, str | None, str]]:
    return [(r.identity, r.day, r.start_time, r.end_time, r.digest) for r in payload.records]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(event=data_events(), seed=st.integers(min_value=0, max_value=2**32))
def test_identity_day_and_digest_survive_reserialisation_and_key_order(event: dict[str, Any], seed: int) -> None:
    compact = parsed(json.dumps(event, separators=(",", ":")).encode())
    rewritten = parsed(reserialised(event, seed))

    assert placement(rewritten) == placement(compact)
    assert [r.content for r in rewritten.records] == [r.content for r in compact.records]


DATED_BUILDERS = {
    "activity": lambda start, end: activity("a-1", start, end),
    "sleep": lambda start, end: sleep("s-1", start, end),
    "daily": lambda start, end: day_record("daily", start, end),
    "body": lambda start, end: day_record("body", start, end),
    "nutrition": lambda start, end: day_record("nutrition", start, end),
    "menstruation": lambda start, end: day_record("menstruation", start, end),
    "health_observation": lambda start, end: health_observation("o-1", start),
    "hormone": lambda start, end: hormone(start),
}


@settings(max_examples=400, deadline=None)
@given(data_type=st.sampled_from(sorted(DATED_BUILDERS)), moment=moments, offset=offsets)
def test_the_day_is_the_date_terra_wrote_whatever_the_offset(
    data_type: str, moment: datetime, offset: int | None
) -> None:
    start = time_text(moment, offset)

    (record,) = parsed(data_event(data_type, [DATED_BUILDERS[data_type](start, start)])).records

    assert record.day == start[:10] == moment.date().isoformat()  # never the UTC date
    if data_type in keys.DAY_KEYED:
        assert record.identity.record_key == f"d:{start[:10]}"


def test_late_evening_west_of_utc_stays_on_its_local_day() -> None:
    (record,) = parsed(data_event("daily", [day_record("daily", "2026-07-01T23:30:00-08:00", "x")])).records

    assert (record.day, record.identity.record_key) == ("2026-07-01", "d:2026-07-01")  # 2026-07-02 in UTC


provider_names = st.text(min_size=1, max_size=70)


def normalised(provider: str) -> str | None:
    try:
        return users.provider(provider)
    except RegistryRejected:
        return None


@settings(max_examples=400, deadline=None)
@given(first=provider_names, second=provider_names, data_type=st.sampled_from(["daily", "athlete", "activity"]))
def test_two_providers_never_share_a_record(first: str, second: str, data_type: str) -> None:
    if data_type == "athlete":
        record: dict[str, Any] = {"first_name": "J"}
    elif data_type == "daily":
        record = day_record("daily", "2026-07-01T00:00:00Z", "2026-07-02T00:00:00Z")
    else:
        record = activity("same-summary", "2026-07-01T07:00:00Z", "2026-07-01T08:00:00Z")

    def sort_key(provider: str) -> str:
        user = terra_user(provider=provider)
        event = {"type": "athlete", "version": "1", "user": user, "athlete": record}
        (stored,) = parsed(event if data_type == "athlete" else data_event(data_type, [record], user)).records
        return layout.sort_key(stored.identity)

    assert (sort_key(first) == sort_key(second)) == (normalised(first) == normalised(second))


segments = st.text(min_size=1, max_size=30)


@settings(max_examples=300, deadline=None)
@given(
    types=st.lists(st.from_regex(keys.DATA_TYPE_PATTERN, fullmatch=True), min_size=2, max_size=2),
    providers=st.lists(st.none() | segments, min_size=2, max_size=2),
    values=st.lists(segments, min_size=2, max_size=2),
)
def test_a_sort_key_names_exactly_one_identity(
    types: list[str], providers: list[str | None], values: list[str]
) -> None:
    first, second = (
        RecordIdentity(t, keys.provider_code(p), keys.record_key("s", v))
        for t, p, v in zip(types, providers, values, strict=True)
    )

    assert (layout.sort_key(first) == layout.sort_key(second)) == (first == second)
    assert (layout.day_key(first, "2026-07-01") == layout.day_key(second, "2026-07-01")) == (first == second)


@settings(max_examples=400, deadline=None)
@given(value=st.text(max_size=400), provider=st.none() | st.text(max_size=200))
def test_keys_stay_within_dynamodbs_bounds_whatever_terra_sends(value: str, provider: str | None) -> None:
    key = keys.record_key("s", value)
    identity = RecordIdentity("health_observation", keys.provider_code(provider), key)

    assert key.isprintable()
    assert len(key.encode()) <= keys.MAX_RECORD_KEY_BYTES
    assert len(layout.sort_key(identity).encode()) <= 1024  # DynamoDB's sort key limit
    assert len(layout.day_key(identity, "2026-07-01").encode()) <= 1024
    assert key == keys.record_key("s", value)


KEYED = {
    # D8: sleep's summary_id is a string or null, or absent.
    "sleep with a summary_id": (
        data_event("sleep", [sleep("s-9", "2026-06-30T23:00:00+01:00", "x")]),
        "s:s-9",
        "2026-06-30",
    ),
    "sleep with a null summary_id": (
        data_event("sleep", [sleep(None, "2026-06-30T23:00:00+01:00", "x")]),
        "t:2026-06-30T23:00:00+01:00",
        "2026-06-30",
    ),
    "sleep without a summary_id": (
        data_event(
            "sleep", [{"metadata": {"start_time": "2026-06-30T23:00:00+01:00", "end_time": "x", "upload_type": 1}}]
        ),
        "t:2026-06-30T23:00:00+01:00",
        "2026-06-30",
    ),
    "activity with a numeric summary_id": (
        data_event("activity", [{"metadata": {"summary_id": 42, "start_time": "2026-07-02T08:00:00Z"}}]),
        "s:42",
        "2026-07-02",
    ),
    # D9: planned workouts, every link of the chain.
    "planned_workout_id": (
        data_event(
            "planned_workout", [planned_workout(planned_workout_id="pw", details_id="d", provider_workout_id="p")]
        ),
        "w:pw",
        "2026-07-03",
    ),
    "details.metadata.id": (
        data_event("planned_workout", [planned_workout(details_id="d", metadata_id="m", provider_workout_id="p")]),
        "p:d",
        "2026-07-03",
    ),
    "metadata.id": (
        data_event("planned_workout", [planned_workout(metadata_id="m", provider_workout_id="p")]),
        "m:m",
        "2026-07-03",
    ),
    "provider_workout_id": (
        data_event("planned_workout", [planned_workout(provider_workout_id="p")]),
        "p:p",
        "2026-07-03",
    ),
    "planned workout by created_at": (
        data_event("planned_workout", [planned_workout(planned_workout_id="pw", planned_date=None)]),
        "w:pw",
        "2026-06-30",
    ),
    "planned workout without dates": (
        data_event("planned_workout", [planned_workout(planned_workout_id="pw", planned_date=None, created_at=None)]),
        "w:pw",
        RECEIPT_DAY,
    ),
    # D7: lab reports in the spec's envelope (completed and failed) and the flat shape first shipped.
    "lab_report.completed": (lab_report_completed("s-1"), "l:s-1", "2026-06-30"),
    "lab_report.failed": (lab_report_failed("s-1"), "l:s-1", "2026-07-01"),
    "flat lab_report": (lab_report_flat("s-1"), "l:s-1", "2026-06-30"),
    "flat lab_report without dates": ({"type": "lab_report", "session_id": "s-1"}, "l:s-1", RECEIPT_DAY),
    "hormone": (
        data_event("hormone", [hormone("2026-05-07T08:00:00+02:00")]),
        "t:2026-05-07T08:00:00+02:00",
        "2026-05-07",
    ),
    "health_observation": (
        data_event("health_observation", [health_observation("o-1", "2026-05-01T10:00:00Z")]),
        "s:o-1",
        "2026-05-01",
    ),
    "activity on an impossible date": (
        data_event("activity", [activity("a-1", "2026-02-30T10:00:00Z", "x")]),
        "s:a-1",
        RECEIPT_DAY,
    ),
    "activity before 1970": (
        data_event("activity", [activity("a-1", "1969-12-31T10:00:00Z", "x")]),
        "s:a-1",
        RECEIPT_DAY,
    ),
    "activity in basic ISO format": (
        data_event("activity", [activity("a-1", "20260701T100000Z", "x")]),
        "s:a-1",
        RECEIPT_DAY,
    ),
    # Types Terra adds later.
    "later type with a summary_id": (
        data_event("ecg", [{"metadata": {"summary_id": "e-1", "start_time": "2026-06-29T10:00:00Z"}}]),
        "s:e-1",
        "2026-06-29",
    ),
    "later type with a start only": (
        data_event("ecg", [{"metadata": {"start_time": "2026-06-29T10:00:00Z"}}]),
        "t:2026-06-29T10:00:00Z",
        "2026-06-29",
    ),
}


@pytest.mark.parametrize(("event", "key", "day"), KEYED.values(), ids=KEYED.keys())
def test_every_type_and_variant_is_keyed_by_its_rule(event: dict[str, Any], key: str, day: str) -> None:
    (record,) = parsed(event).records

    assert (record.identity.record_key, record.day) == (key, day)


def test_records_with_nothing_else_to_key_them_by_are_keyed_by_their_content() -> None:
    later = data_event("ecg", [{"value": [1, 2, 3]}, {"value": [1, 2, 3]}, {"value": [4]}])
    planned = data_event("planned_workout", [planned_workout(planned_date=None, created_at=None)])
    shapeless = {"type": "ecg", "user": terra_user(), "readings": [1, 2]}

    for event, count in ((later, 2), (planned, 1), (shapeless, 1)):
        records = parsed(event).records
        assert len(records) == count
        assert all(r.identity.record_key == f"h:{r.digest}" and r.day == RECEIPT_DAY for r in records)


@pytest.mark.parametrize(
    ("event_type", "kept_under"),
    [
        ("daily", "daily"),
        ("lab_report.completed", "lab_report"),
        ("lab_report.new_variant", "lab_report"),
        ("ecg_v2", "ecg_v2"),
    ],
)
def test_an_event_type_names_the_type_its_records_are_kept_under(event_type: str, kept_under: str) -> None:
    assert keys.data_type_of(event_type) == kept_under


@pytest.mark.parametrize("event_type", ["Daily", "daily data", "9lives", "x" * 41, "daily#1", "ré"])
def test_a_type_that_cannot_name_a_partition_is_refused(event_type: str) -> None:
    assert keys.data_type_of(event_type) is None


@settings(max_examples=300, deadline=None)
@given(
    days=st.lists(st.dates(min_value=date(1970, 1, 1), max_value=date(2100, 12, 31)), min_size=3, max_size=3),
    value=segments,
    provider=st.none() | segments,
)
def test_day_key_bounds_hold_exactly_the_days_of_the_range(days: list[Any], value: str, provider: str | None) -> None:
    start, end, day = (d.isoformat() for d in days)
    identity = RecordIdentity("daily", keys.provider_code(provider), keys.record_key("d", value))
    low, high = layout.day_key_bounds("daily", start, end)
    other_type = RecordIdentity("daily_extra", identity.provider, identity.record_key)

    assert (low <= layout.day_key(identity, day) <= high) == (start <= day <= end)
    assert not low <= layout.day_key(other_type, day) <= high


def test_object_keys_follow_athenas_partitions_name_no_one_and_are_one_payloads_own() -> None:
    identity = RecordIdentity("daily", "GARMIN", "d:2026-07-01")
    alice = layout.owner_partition("alice@example.com")

    def key(partition: str = alice, ordering_ms: int = 1_782_900_000_123, payload_id: str = "a" * 32) -> str:
        order = CopyOrder(ordering_ms, ordering_ms, "ab" * 32)
        return layout.record_object_key(partition, identity, "2026-07-01", order, payload_id)

    copies = {
        key(),
        key(ordering_ms=1_782_900_000_124),
        key(payload_id="b" * 32),
        key(layout.unattributed_partition("x")),
    }

    assert key().startswith("records/type=daily/day=2026-07-01/")
    assert key().endswith(".json")
    assert "alice" not in key()
    assert "GARMIN" not in key()
    assert "d:2026-07-01" not in key()
    assert len(copies) == 4
    assert key() == key()  # a retry of the payload writes under the same key
    assert layout.raw_object_key("f" * 64, RECEIVED_MS) == f"raw/dt=2026-07-01/{'f' * 40}.json"
    assert layout.payload_part_key("0" * 32, 3) == f"p#{'0' * 32}#0003"


def test_a_delivery_is_identified_by_its_trace_id_and_its_bytes() -> None:
    body = b'{"type": "daily"}'
    key = keys.delivery_key("trace-1", body)

    assert key == keys.delivery_key("trace-1", body)
    assert key != keys.delivery_key("trace-1", body + b" ")  # a lab report reprocessed under the same trace id
    assert key != keys.delivery_key("trace-2", body)
    assert keys.delivery_key(None, body) != key
    assert len(key) == 64
    assert keys.payload_id(key) == key[:32]


@pytest.mark.parametrize(
    ("header", "reference"),
    [("d3f1-a9c2", "d3f1-a9c2"), ("d3f1-a9c2:chunk:3", "d3f1-a9c2"), ("bad reference", None), (None, None), ("", None)],
)
def test_a_terra_reference_names_its_request_with_or_without_a_chunk_suffix(
    header: str | None, reference: str | None
) -> None:
    assert keys.base_reference(header) == reference


def test_records_missing_what_their_type_is_keyed_by_are_not_keyed() -> None:
    events = [
        data_event("hormone", [{"lh_mIU_per_ml": 5.2}]),
        data_event("activity", [{"metadata": {"name": "no summary id, no start"}}]),
        data_event("lab_report", []) | {"type": "lab_report.completed", "data": {"results": []}},
    ]

    for event in events:
        payload = parsed(event)
        assert (payload.records, payload.unkeyed) == ((), 1)
        assert payload.span is None
