"""Every data event Terra publishes is read into its records, its Terra user and its owner hint; control events into
what they announce; and no body, however malformed, makes reading raise."""

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from terra_connect.health_data.models import (
    DataPayload,
    LargeRequestProcessing,
    LargeRequestSending,
    Notice,
    PayloadPointer,
    Unreadable,
    UnreadableReason,
)
from terra_connect.health_data.payloads import parse_payload, read_event
from tests.support.terra_data import (
    LISTED_TYPES,
    RECEIVED_MS,
    SAMPLES,
    TERRA_USER_ID,
    data_event,
    data_events,
    day_record,
    json_values,
    terra_user,
)
from tests.support.terra_schemas import DATA_SCHEMAS, shapes_matching

PARSED = (DataPayload, PayloadPointer, LargeRequestProcessing, LargeRequestSending, Notice, Unreadable)


def parse(event: Any) -> Any:
    return parse_payload(json.dumps(event).encode(), received_ms=RECEIVED_MS)


def test_every_sample_has_exactly_the_shape_of_its_terra_schema() -> None:
    assert set(SAMPLES) >= set(DATA_SCHEMAS)
    for name, event in SAMPLES.items():
        assert shapes_matching(event) == [name], name


SESSION = "297405620317847552"
# (sample, type kept under, record keys, day, owner hint)
EXPECTED = [
    ("activity", "activity", ["s:123e4567-e89b-12d3-a456-426614174000"], "2026-07-01", "alice"),
    ("sleep", "sleep", ["t:2026-06-30T23:12:00.000000+01:00"], "2026-06-30", "alice"),
    ("daily", "daily", ["d:2026-07-01"], "2026-07-01", "alice"),
    ("body", "body", ["d:2026-07-01"], "2026-07-01", "alice"),
    ("nutrition", "nutrition", ["d:2026-07-01"], "2026-07-01", "alice"),
    ("menstruation", "menstruation", ["d:2026-07-01"], "2026-07-01", "alice"),
    ("health_observation", "health_observation", ["s:7C3A5D9E-1F42"], "2022-10-28", "alice"),
    ("hormone", "hormone", ["t:2026-05-07T08:00:00+02:00"], "2026-05-07", "alice"),
    ("planned_workout", "planned_workout", ["w:pw-1"], "2026-07-03", "alice"),
    ("athlete", "athlete", ["profile"], "2026-07-01", "alice"),  # the receipt day
    ("lab_report.completed", "lab_report", [f"l:{SESSION}"], "2026-06-30", "alice"),
    ("lab_report.failed", "lab_report", [f"l:{SESSION}"], "2026-07-01", "alice"),  # no report date: occurred_at
    ("lab_report (flat)", "lab_report", [f"l:{SESSION}"], "2026-06-30", "alice"),
]


@pytest.mark.parametrize(("sample", "data_type", "keys", "day", "hint"), EXPECTED, ids=[e[0] for e in EXPECTED])
def test_every_published_data_event_is_read_into_its_keyed_records(
    sample: str, data_type: str, keys: list[str], day: str, hint: str
) -> None:
    payload = parse(SAMPLES[sample])

    assert isinstance(payload, DataPayload)
    assert (payload.event_type, payload.data_type, payload.owner_hint) == (SAMPLES[sample]["type"], data_type, hint)
    assert [record.identity.record_key for record in payload.records] == keys
    assert {record.day for record in payload.records} == {day}
    assert payload.unkeyed == 0


@pytest.mark.parametrize("sample", [e[0] for e in EXPECTED if not e[0].startswith("lab_report")])
def test_wearable_data_names_its_terra_user_and_provider(sample: str) -> None:
    payload = parse(SAMPLES[sample])

    assert payload.terra_user.terra_user_id == TERRA_USER_ID
    assert payload.terra_user.provider == "GARMIN"
    assert {record.identity.provider for record in payload.records} == {"GARMIN"}


def test_a_lab_report_has_no_terra_user_and_its_owner_hint_comes_from_the_report() -> None:
    envelope = parse(SAMPLES["lab_report.completed"])
    top_level_only = parse({**SAMPLES["lab_report.completed"], "data": {"session_id": SESSION}, "reference_id": "bob"})

    assert envelope.terra_user is None
    assert {record.identity.provider for record in envelope.records} == {"-"}
    assert top_level_only.owner_hint == "bob"


def test_a_stored_record_is_terras_record_with_every_field_kept() -> None:
    for sample in ("activity", "daily", "planned_workout", "hormone"):
        record = SAMPLES[sample]["data"][0]
        (stored,) = parse(SAMPLES[sample]).records
        assert json.loads(stored.content) == record
    (report,) = parse(SAMPLES["lab_report.completed"]).records
    assert json.loads(report.content) == SAMPLES["lab_report.completed"]  # the envelope says completed or failed


def test_an_athlete_profile_is_read_from_athlete_or_from_data() -> None:
    profile = SAMPLES["athlete"]["athlete"]
    in_data = {key: value for key, value in SAMPLES["athlete"].items() if key != "athlete"} | {"data": profile}

    assert parse(in_data).records == parse(SAMPLES["athlete"]).records


def test_large_request_announcements_name_their_reference_and_expected_payloads() -> None:
    processing = parse(SAMPLES["large_request_processing"])
    sending = parse(SAMPLES["large_request_sending"])

    assert processing == LargeRequestProcessing("d3f1a9c2-6b1e-4f0a-8f21-9e5b2c7a4d10", processing.terra_user, "alice")
    assert isinstance(sending, LargeRequestSending)
    assert (sending.reference, sending.expected_payloads, sending.owner_hint) == (processing.reference, 43, "alice")
    assert sending.terra_user is not None
    assert sending.terra_user.terra_user_id == TERRA_USER_ID


@pytest.mark.parametrize("name", ["s3_payload", "s3_upload"])
def test_both_names_of_the_payload_pointer_ask_for_a_fetch(name: str) -> None:
    pointer = parse(SAMPLES[name])

    assert isinstance(pointer, PayloadPointer)
    assert (pointer.url, pointer.expires_in) == (SAMPLES[name]["url"], SAMPLES[name]["expires_in"])
    assert SAMPLES[name]["url"] not in repr(pointer)  # the URL is a credential


@pytest.mark.parametrize("expires_in", [None, "300", -5, 0, True, 10**9])
def test_a_pointer_without_a_usable_expiry_gets_terras_five_minutes(expires_in: Any) -> None:
    pointer = parse({**SAMPLES["s3_payload"], "expires_in": expires_in, "payload_reference": "ref-1"})

    assert (pointer.expires_in, pointer.payload_reference) == (300, "ref-1")


@pytest.mark.parametrize(
    "event_type", ["healthcheck", "processing", "rate_limit_hit", "google_no_datasource", "deauth"]
)
def test_events_without_data_are_notices(event_type: str) -> None:
    notice = parse({"type": event_type, "status": "success", "user": terra_user()})

    assert notice == Notice(event_type, notice.terra_user, "alice")


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(event=data_events())
def test_generated_events_of_every_type_are_read_record_by_record(event: dict[str, Any]) -> None:
    if event["type"] in LISTED_TYPES:
        assert shapes_matching(event) == [event["type"]]
    payload = parse(event)

    assert isinstance(payload, DataPayload)
    assert payload.data_type == event["type"]
    assert len(payload.records) + payload.unkeyed >= 1
    assert len({record.identity for record in payload.records}) == len(payload.records)
    originals = [json.dumps(record, sort_keys=True) for record in event["data"]]
    assert all(json.dumps(json.loads(record.content), sort_keys=True) in originals for record in payload.records)


def test_a_payload_naming_one_record_twice_keeps_the_copy_the_store_would_keep() -> None:
    start, end = "2026-07-01T00:00:00+02:00", "2026-07-02T00:00:00+02:00"
    copies = [day_record("daily", start, end, steps) for steps in (100, 5000)]

    one = parse(data_event("daily", copies)).records
    other = parse(data_event("daily", list(reversed(copies)))).records

    assert one == other
    assert len(one) == 1
    assert one[0].digest == max(parse(data_event("daily", [copy])).records[0].digest for copy in copies)


UNREADABLE = {
    "not json": (b"{not json", UnreadableReason.NOT_JSON, None),
    "not utf-8": (b'{"type": "daily\xff"}', UnreadableReason.NOT_JSON, None),
    "NaN": (b'{"type": "daily", "data": [NaN]}', UnreadableReason.NOT_JSON, None),
    "nested too deep": (b"[" * 200_000 + b"]" * 200_000, UnreadableReason.NOT_JSON, None),
    "a number too long": (b'{"type": "daily", "data": [' + b"9" * 5000 + b"]}", UnreadableReason.NOT_JSON, None),
    "an array": (b"[]", UnreadableReason.NOT_AN_OBJECT, None),
    "no type": (b'{"data": []}', UnreadableReason.NO_TYPE, None),
    "a type that is not a string": (b'{"type": 7}', UnreadableReason.NO_TYPE, None),
    "a type no partition can hold": (b'{"type": "Daily Data!"}', UnreadableReason.BAD_TYPE, None),
    "data not a list": (b'{"type": "daily", "data": {}}', UnreadableReason.BAD_SHAPE, "daily"),
    "athlete without a profile": (b'{"type": "athlete", "athlete": 3}', UnreadableReason.BAD_SHAPE, "athlete"),
    "pointer without url": (b'{"type": "s3_payload", "expires_in": 300}', UnreadableReason.BAD_SHAPE, "s3_payload"),
    "sending without reference": (
        b'{"type": "large_request_sending", "expected_payloads": 3}',
        UnreadableReason.BAD_SHAPE,
        "large_request_sending",
    ),
    "expected_payloads as text": (
        b'{"type": "large_request_sending", "reference": "r", "expected_payloads": "3"}',
        UnreadableReason.BAD_SHAPE,
        "large_request_sending",
    ),
}


@pytest.mark.parametrize(("body", "reason", "event_type"), UNREADABLE.values(), ids=UNREADABLE.keys())
def test_an_unreadable_body_is_reported_as_such_never_raised(
    body: bytes, reason: UnreadableReason, event_type: str | None
) -> None:
    assert parse_payload(body, received_ms=RECEIVED_MS) == Unreadable(reason, event_type)


def test_values_beyond_the_registrys_bounds_lose_only_themselves() -> None:
    long_reference = terra_user(reference_id="x" * 1000) | {"provider": "P" * 500}
    bad_user_id = terra_user(user_id="not a terra id!")
    record = day_record("daily", "2026-07-01T00:00:00Z", "2026-07-02T00:00:00Z")

    absurd = parse(data_event("daily", [record], long_reference))
    anonymous = parse(data_event("daily", [record], bad_user_id))

    assert (absurd.terra_user.terra_user_id, absurd.terra_user.provider, absurd.owner_hint) == (
        TERRA_USER_ID,
        None,
        None,
    )
    assert anonymous.terra_user is None
    assert len(absurd.records) == len(anonymous.records) == 1


def test_records_their_types_rules_cannot_key_are_counted_and_the_others_kept() -> None:
    keyed = day_record("daily", "2026-07-01T00:00:00Z", "2026-07-02T00:00:00Z")
    no_start = {"metadata": {"end_time": "2026-07-02T00:00:00Z"}}

    payload = parse(data_event("daily", [keyed, no_start, "not a record", {"metadata": "nope"}]))

    assert (len(payload.records), payload.unkeyed) == (1, 3)


def test_any_string_terra_may_escape_is_kept_and_stored_as_encodable_text() -> None:
    body = b'{"type": "activity", "version": "1", "user": {"user_id": "u-1", "provider": "OURA"}, "data": [{"metadata":'
    body += b' {"summary_id": "\\ud800", "start_time": "2026-07-01T10:00:00Z", "name": "caf\\u00e9 \\ud83c\\udfc3"}}]}'

    payload = parse_payload(body, received_ms=RECEIVED_MS)

    assert isinstance(payload, DataPayload)
    (record,) = payload.records

    assert record.content.encode("ascii")
    assert json.loads(record.content)["metadata"]["name"] == "caf\u00e9 \U0001f3c3"
    assert record.identity.record_key.startswith("h:")  # an unpaired surrogate is no key DynamoDB can hold


@settings(max_examples=500, deadline=None)
@given(body=st.binary(max_size=200))
def test_any_bytes_are_read_without_raising(body: bytes) -> None:
    assert isinstance(parse_payload(body, received_ms=RECEIVED_MS), PARSED)


def _replace_at(value: Any, path: list[int], replacement: Any) -> Any:
    """`value` with the node reached by following `path` (indices into each container's children) replaced."""
    if not path or not isinstance(value, dict | list) or not value:
        return replacement
    if isinstance(value, dict):
        keys = list(value)
        key = keys[path[0] % len(keys)]
        return {**value, key: _replace_at(value[key], path[1:], replacement)}
    index = path[0] % len(value)
    return [*value[:index], _replace_at(value[index], path[1:], replacement), *value[index + 1 :]]


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    sample=st.sampled_from(sorted(SAMPLES)),
    path=st.lists(st.integers(min_value=0, max_value=50), max_size=6),
    replacement=json_values,
)
def test_a_published_shape_with_any_value_anywhere_is_read_without_raising(
    sample: str, path: list[int], replacement: Any
) -> None:
    mutated = _replace_at(SAMPLES[sample], path, replacement)

    assert isinstance(read_event(mutated, received_ms=RECEIVED_MS), PARSED)
    assert isinstance(parse(mutated), PARSED)


def test_a_record_too_deep_or_not_json_to_write_out_again_leaves_the_payload_unreadable() -> None:
    deep: list[Any] = []
    for _ in range(100_000):
        deep = [deep]
    for record in ({"metadata": {"start_time": "2026-07-01T00:00:00Z"}, "x": deep}, {"x": float("nan")}):
        outcome = read_event(data_event("ecg", [record]), received_ms=RECEIVED_MS)
        assert outcome == Unreadable(UnreadableReason.NOT_JSON, "ecg")


def test_several_profiles_in_one_athlete_event_are_one_record() -> None:
    event = {
        "type": "athlete",
        "version": "1",
        "user": terra_user(),
        "data": [{"first_name": "A"}, {"first_name": "B"}],
    }

    payload = parse(event)

    assert [record.identity.record_key for record in payload.records] == ["profile"]
    assert payload.span.start_time is None


def test_an_athlete_event_with_a_null_athlete_reads_its_profile_from_data() -> None:
    event = {"type": "athlete", "version": "1", "user": terra_user(), "athlete": None, "data": {"first_name": "J"}}

    assert [record.identity.record_key for record in parse(event).records] == ["profile"]
