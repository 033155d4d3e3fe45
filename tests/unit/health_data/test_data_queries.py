"""The read route's rules: the documented types, real inclusive date ranges of at most 366 days, pages of 1-100
records; anything else is refused with the route's own 4xx, naming each parameter and never its value."""

from datetime import date, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from terra_connect.health_data.models import RecordPosition
from terra_connect.health_data.page_tokens import encode_page_token
from terra_connect.health_data.queries import READABLE_TYPES, DataQuery, DateRange, data_query
from terra_connect.kernel.errors import (
    InvalidDateRange,
    InvalidPageToken,
    InvalidRequest,
    ServiceError,
    UnknownDataType,
)

DAYS = {"start_date": "2026-06-01", "end_date": "2026-06-30"}


def refused(data_type: Any, parameters: dict[str, Any] | None) -> ServiceError:
    with pytest.raises(ServiceError) as raised:
        data_query(data_type, parameters)
    assert isinstance(raised.value, InvalidRequest | UnknownDataType)
    return raised.value


def test_the_route_serves_exactly_the_types_terra_documents() -> None:
    assert READABLE_TYPES == (
        "activity", "athlete", "body", "daily", "health_observation", "hormone", "lab_report", "menstruation",
        "nutrition", "planned_workout", "sleep",
    )  # fmt: skip


@pytest.mark.parametrize("data_type", ["ecg", "Daily", "daily ", "", None, "lab_report.completed", "../daily"])
def test_a_type_the_store_does_not_list_is_404_unknown_data_type(data_type: Any) -> None:
    error = refused(data_type, DAYS)

    assert (error.status, error.code) == (404, "unknown_data_type")


def test_a_range_query_reads_the_days_both_included_a_full_page_at_a_time() -> None:
    query = data_query("daily", DAYS)

    assert query == DataQuery("daily", DateRange(date(2026, 6, 1), date(2026, 6, 30)), None, 100, None)
    assert query.day_key_bounds == ("daily#2026-06-01#", "daily#2026-06-30$")
    assert query.dates is not None
    assert query.dates.days == 30


@pytest.mark.parametrize(
    ("start", "end", "accepted"),
    [
        ("2026-06-01", "2026-06-01", True),
        ("2024-01-01", "2024-12-31", True),  # a leap year: 366 days
        ("2025-07-01", "2026-07-01", True),  # 366 days
        ("2025-06-30", "2026-07-01", False),  # 367
        ("2026-06-02", "2026-06-01", False),
    ],
)
def test_a_range_is_at_most_366_days_and_never_inverted(start: str, end: str, accepted: bool) -> None:
    parameters = {"start_date": start, "end_date": end}
    if accepted:
        assert data_query("sleep", parameters).dates == DateRange(date.fromisoformat(start), date.fromisoformat(end))
    else:
        error = refused("sleep", parameters)
        assert isinstance(error, InvalidDateRange)
        assert (error.status, error.code) == (422, "invalid_date_range")


@settings(max_examples=300, deadline=None)
@given(start=st.dates(), length=st.integers(min_value=-400, max_value=400))
def test_any_real_range_is_accepted_exactly_when_forward_and_within_366_days(start: date, length: int) -> None:
    try:
        end = start + timedelta(days=length)
    except OverflowError:
        return
    parameters = {"start_date": start.isoformat(), "end_date": end.isoformat()}
    if len(parameters["start_date"]) != 10 or len(parameters["end_date"]) != 10:
        return  # years before 1000 are written with fewer digits; no data is kept that early

    if 0 <= length < 366:
        assert data_query("body", parameters).dates == DateRange(start, end)
    else:
        assert isinstance(refused("body", parameters), InvalidDateRange)


MALFORMED = [
    "2026-7-01",
    "2026-02-30",
    "20260701",
    "",
    "2026-07-01T00:00:00Z",
    "\uff12\uff10\uff12\uff16-07-01",
    "yesterday",
]


@pytest.mark.parametrize("value", MALFORMED)
def test_a_date_that_is_not_a_real_yyyy_mm_dd_is_a_validation_error_naming_it(value: str) -> None:
    error = refused("daily", {**DAYS, "end_date": value})

    assert (error.status, error.code) == (422, "validation_error")
    assert isinstance(error, InvalidRequest)
    assert error.errors == [{"loc": ["query", "end_date"], "type": "date_parsing"}]
    assert not value or value not in error.detail


@pytest.mark.parametrize(
    ("limit", "kind"),
    [("0", "greater_than_equal"), ("101", "less_than_equal"), ("ten", "int_parsing"), ("-1", "int_parsing"),
     ("1e2", "int_parsing"), ("", "int_parsing"), ("9" * 40, "int_parsing")],
)  # fmt: skip
def test_a_page_holds_1_to_100_records(limit: str, kind: str) -> None:
    error = refused("daily", {**DAYS, "limit": limit})

    assert isinstance(error, InvalidRequest)
    assert error.errors == [{"loc": ["query", "limit"], "type": kind}]
    assert [data_query("daily", {**DAYS, "limit": n}).limit for n in ("1", "100", "007")] == [1, 100, 7]


def test_every_problem_of_a_query_is_named_at_once() -> None:
    error = refused("daily", {"start_date": "june", "limit": "0", "user_id": "someone-else", "sort": "desc"})

    assert isinstance(error, InvalidRequest)
    assert error.errors == [
        {"loc": ["query", "sort"], "type": "extra_forbidden"},
        {"loc": ["query", "user_id"], "type": "extra_forbidden"},
        {"loc": ["query", "start_date"], "type": "date_parsing"},
        {"loc": ["query", "end_date"], "type": "missing"},
        {"loc": ["query", "limit"], "type": "greater_than_equal"},
    ]
    assert "someone-else" not in repr(error.errors)


def test_no_parameters_at_all_is_missing_dates() -> None:
    error = refused("daily", None)

    assert isinstance(error, InvalidRequest)
    assert [e["loc"][1] for e in error.errors] == ["start_date", "end_date"]


def test_a_payload_is_asked_for_by_its_id_instead_of_dates() -> None:
    payload_id = "0123456789abcdef0123456789abcdef"

    query = data_query("activity", {"payload_id": payload_id})

    assert (query.dates, query.payload_id, query.day_key_bounds) == (None, payload_id, None)
    for parameters, kind in (
        ({"payload_id": payload_id.upper()}, "string_pattern_mismatch"),
        ({"payload_id": payload_id[:-1]}, "string_pattern_mismatch"),
        ({"payload_id": payload_id, **DAYS}, "extra_forbidden"),
    ):
        error = refused("activity", parameters)
        assert isinstance(error, InvalidRequest)
        assert {e["type"] for e in error.errors} == {kind}


def test_a_page_token_continues_its_own_query_and_no_other() -> None:
    position = RecordPosition("r#daily#GARMIN#d:2026-06-10", "daily#2026-06-10#GARMIN#d:2026-06-10")
    token = encode_page_token(data_query("daily", DAYS).scope, position)

    assert data_query("daily", {**DAYS, "page_token": token, "limit": "10"}).after == position
    for data_type, parameters in (("daily", {**DAYS, "start_date": "2026-06-02"}), ("body", DAYS)):
        error = refused(data_type, {**parameters, "page_token": token})
        assert isinstance(error, InvalidPageToken)
        assert (error.status, error.code) == (422, "invalid_page_token")


def test_a_payloads_records_are_paged_with_tokens_bound_to_the_payload() -> None:
    first = data_query("sleep", {"payload_id": "a" * 32})
    position = RecordPosition("r#sleep#OURA#s:1", "sleep#2020-01-01#OURA#s:1")
    token = encode_page_token(first.scope, position)

    assert data_query("sleep", {"payload_id": "a" * 32, "page_token": token}).after == position
    assert isinstance(refused("sleep", {"payload_id": "b" * 32, "page_token": token}), InvalidPageToken)
