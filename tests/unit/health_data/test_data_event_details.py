"""The data events' details name what was stored, where, and how a backfill ended - never the health data itself -
and stay small whatever the values."""

import json
from typing import Any

from terra_connect.health_data.events import (
    BACKFILL_COMPLETED,
    DATA_RECEIVED,
    BackfillCompleted,
    BackfillStatus,
    DataReceived,
    TypeReport,
    TypeStatus,
)
from terra_connect.health_data.models import MAX_PART_RECORDS, DataPayload, ObjectVersion, PayloadSpan, payload_parts
from terra_connect.health_data.payloads import parse_payload
from tests.support.terra_data import RECEIVED_MS, SAMPLES


def received(**changes: object) -> DataReceived:
    values: dict[str, object] = {
        "payload_id": "0123456789abcdef0123456789abcdef",
        "reference_id": "alice",
        "terra_user_id": "40f7b0e1-89e2-43ac-a5b8-1e29c8d47cad",
        "provider": "GARMIN",
        "data_type": "daily",
        "start_date": "2026-07-01",
        "end_date": "2026-07-01",
        "start_time": "2026-07-01T00:00:00.000000+01:00",
        "end_time": "2026-07-02T00:00:00.000000+01:00",
        "records": 1,
        "records_changed": 1,
        "bucket": "terra-connect-databucket-1a2b3c4d5e6f",
        "key": "raw/dt=2026-07-01/" + "f" * 40 + ".json",
        "version_id": "3HL4kqtJlcpXroDTDmJ+rmSpXd3dIbrHY+MTRCxf3vjVBH40Nrjfkd",
        "terra_reference": "d3f1a9c2-6b1e-4f0a-8f21-9e5b2c7a4d10",
        "backfill": False,
        "time_ms": RECEIVED_MS + 1234,
    }
    return DataReceived(**values | changes)  # type: ignore[arg-type]


def span(event: dict[str, Any]) -> PayloadSpan:
    payload = parse_payload(json.dumps(event).encode(), received_ms=RECEIVED_MS)
    assert isinstance(payload, DataPayload)
    assert payload.span is not None
    return payload.span


def test_wearable_data_received_names_the_owner_the_data_and_where_it_is_stored() -> None:
    event = received()

    assert event.detail_type == DATA_RECEIVED == "Wearable Data Received"
    assert event.to_detail() == {
        "version": "1",
        "id": event.payload_id,
        "reference_id": "alice",
        "terra_user_id": "40f7b0e1-89e2-43ac-a5b8-1e29c8d47cad",
        "provider": "GARMIN",
        "type": "daily",
        "start_date": "2026-07-01",
        "end_date": "2026-07-01",
        "start_time": "2026-07-01T00:00:00.000000+01:00",
        "end_time": "2026-07-02T00:00:00.000000+01:00",
        "records": 1,
        "records_changed": 1,
        "bucket": "terra-connect-databucket-1a2b3c4d5e6f",
        "key": event.key,
        "version_id": event.version_id,
        "payload_id": event.payload_id,
        "terra_reference": "d3f1a9c2-6b1e-4f0a-8f21-9e5b2c7a4d10",
        "backfill": False,
        "time": "2026-07-01T10:00:01.234Z",
    }


def test_a_detail_holds_no_record_content() -> None:
    covered = span(SAMPLES["activity"])
    event = received(
        data_type="activity",
        start_date=covered.start_date,
        end_date=covered.end_date,
        start_time=covered.start_time,
        end_time=covered.end_time,
    )

    detail = json.dumps(event.to_detail())

    for value in ("Morning Run", "8250.4", "7902", "148.2", "123e4567-e89b-12d3-a456-426614174000"):
        assert value not in detail


def test_details_stay_far_below_eventbridges_limit_with_the_longest_values() -> None:
    longest = received(
        reference_id="r" * 256,
        terra_user_id="u" * 128,
        provider="P" * 64,
        data_type="t" * 40,
        terra_reference="c" * 256,
        version_id="v" * 64,
        start_time="s" * 64,
        end_time="e" * 64,
        bucket="b" * 63,
    )

    assert len(json.dumps(longest.to_detail()).encode()) < 2048


def test_a_payload_with_a_type_added_later_is_announced_like_any_other() -> None:
    assert received(data_type="ecg").to_detail()["type"] == "ecg"


def test_the_span_covers_every_record_compared_as_instants() -> None:
    event = {
        "type": "activity",
        "version": "1",
        "user": {"user_id": "u-1", "provider": "OURA"},
        "data": [
            {
                "metadata": {
                    "summary_id": "a",
                    "start_time": "2026-07-02T01:00:00+09:00",
                    "end_time": "2026-07-02T02:00:00+09:00",
                }
            },
            {
                "metadata": {
                    "summary_id": "b",
                    "start_time": "2026-07-01T20:00:00-04:00",
                    "end_time": "2026-07-01T21:00:00-04:00",
                }
            },
            {"metadata": {"summary_id": "c", "start_time": "not a time"}},
        ],
    }

    covered = span(event)

    assert (covered.start_date, covered.end_date) == ("2026-07-01", "2026-07-02")
    assert (covered.start_time, covered.end_time) == ("2026-07-02T01:00:00+09:00", "2026-07-01T21:00:00-04:00")


def test_only_the_first_part_of_a_payload_announces_it() -> None:
    event = received()
    raw = ObjectVersion(event.key, event.version_id)
    keys = tuple(f"r#daily#GARMIN#d:{n}" for n in range(MAX_PART_RECORDS * 2 + 1))

    parts = payload_parts(event.payload_id, "daily", keys, raw, event, signed_ms=1, terra_user_id=None)

    assert [len(part.sort_keys) for part in parts] == [MAX_PART_RECORDS, MAX_PART_RECORDS, 1]
    assert [part.announcement for part in parts] == [event, None, None]
    assert tuple(key for part in parts for key in part.sort_keys) == keys


def test_wearable_backfill_completed_reports_each_type() -> None:
    types = {
        "sleep": TypeReport(TypeStatus.INCOMPLETE, "ref-2", 12, 7),
        "daily": TypeReport(TypeStatus.COMPLETED, "ref-1", None, 1),
        "menstruation": TypeReport(TypeStatus.SKIPPED, None, None, 0),
    }
    event = BackfillCompleted(
        "alice",
        "tu-1",
        "GARMIN",
        BackfillStatus.INCOMPLETE,
        "2026-06-02",
        "2026-07-01",
        types,
        RECEIVED_MS,
        RECEIVED_MS + 86_400_000,
    )

    detail = event.to_detail()

    assert event.detail_type == BACKFILL_COMPLETED == "Wearable Backfill Completed"
    assert detail["status"] == "incomplete"
    assert list(detail["types"]) == ["daily", "menstruation", "sleep"]
    assert detail["types"]["sleep"] == {
        "status": "incomplete",
        "reference": "ref-2",
        "payloads_expected": 12,
        "payloads_received": 7,
    }
    assert (detail["started_at"], detail["time"]) == ("2026-07-01T10:00:00.000Z", "2026-07-02T10:00:00.000Z")
    assert (
        detail["id"]
        == BackfillCompleted("alice", "tu-1", "GARMIN", BackfillStatus.COMPLETED, "x", "y", {}, RECEIVED_MS, 0).id
    )  # one backfill, one id
    assert len(json.dumps(detail)) < 2048
