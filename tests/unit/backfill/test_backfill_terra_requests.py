"""Terra's data requests through the Terra client: the query Terra's spec asks for, and each of Terra's published
answers turned into what the backfill does with it - a 429 handed back at once (no sleep, no retry here)."""

import json
from collections.abc import Iterator
from datetime import UTC, date, datetime
from email.utils import format_datetime

import pytest
import requests
import responses
from responses import matchers

from terra_connect.backfill.models import DataRequest, DayRange
from terra_connect.backfill.ports import (
    Accepted,
    Allowance,
    DataInline,
    ProviderSupport,
    RateLimited,
    Refused,
    Unauthorized,
    Unavailable,
)
from terra_connect.backfill.terra_requests import TerraDataRequestsClient
from terra_connect.kernel.deadline import Deadline
from terra_connect.terra.client import TerraClient
from terra_connect.terra.credentials import TerraCredentials
from tests.support.builders import API_KEY, DEV_ID

BASE = "http://127.0.0.1:9/v2"
SLEEP = f"{BASE}/sleep"
DAYS = DataRequest("sleep", DayRange(date(2026, 6, 2), date(2026, 7, 1)))
WALL = 1_782_900_000.0
IN_90_SECONDS = format_datetime(datetime.fromtimestamp(WALL + 90, UTC), usegmt=True)
PROBLEM = {"content_type": "application/problem+json"}


class Credentials:
    def get(self, *, refresh: bool = False) -> TerraCredentials:
        return TerraCredentials(DEV_ID, API_KEY)


class Clock:
    def __init__(self) -> None:
        self.now = 100.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def terra() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


@pytest.fixture
def data(clock: Clock) -> TerraDataRequestsClient:
    client = TerraClient(
        credentials=Credentials(), api_base_url=BASE, sleep=clock.sleep, clock=clock, jitter=lambda: 1.0
    )
    return TerraDataRequestsClient(client, with_samples=False, wall_clock=lambda: WALL, clock=clock)


def deadline(clock: Clock) -> Deadline:
    return Deadline.after(30.0, clock)


def ask(data: TerraDataRequestsClient, clock: Clock, request: DataRequest = DAYS) -> object:
    return data.request("tu-1", request, deadline(clock))


def accepted(reference: str = "5a3c2540-7139-44c6-8158-f81196e2cf2e", **extra: str) -> dict[str, object]:
    return {
        "status": "success",
        "type": "sleep",
        "reference": reference,
        "trace_id": reference,
        "user": {"user_id": "tu-1", "provider": "GARMIN", "reference_id": "alice", "active": True},
        **extra,
    }


def test_the_request_asks_for_the_range_as_webhooks_with_the_accounts_keys(
    terra: responses.RequestsMock, data: TerraDataRequestsClient, clock: Clock
) -> None:
    query = {"user_id": "tu-1", "start_date": "2026-06-02", "end_date": "2026-07-01", "to_webhook": "true"}
    call = terra.get(
        SLEEP,
        json=accepted(),
        match=[
            matchers.query_param_matcher({**query, "with_samples": "false"}),
            matchers.header_matcher({"dev-id": DEV_ID, "x-api-key": API_KEY}),
        ],
    )

    assert ask(data, clock) == Accepted("5a3c2540-7139-44c6-8158-f81196e2cf2e", large=False)
    assert call.call_count == 1


def test_a_large_request_and_terras_remaining_allowance_are_read(
    terra: responses.RequestsMock, data: TerraDataRequestsClient, clock: Clock
) -> None:
    terra.get(
        SLEEP,
        json=accepted("ref-9", message="Large request submitted. The data will be sent in chunks"),
        headers={"X-Terra-RateLimit-Remaining": "4200", "X-Terra-RateLimit-Reset-After": "1800"},
    )

    assert ask(data, clock) == Accepted("ref-9", large=True, allowance=Allowance(4200, 1_800_000))


def test_data_answered_inline_is_handed_back_byte_for_byte(
    terra: responses.RequestsMock, data: TerraDataRequestsClient, clock: Clock
) -> None:
    body = json.dumps({"user": {"user_id": "tu-1", "provider": "GARMIN"}, "data": [], "type": "sleep"}).encode()
    terra.get(SLEEP, body=body, content_type="application/json")

    assert ask(data, clock) == DataInline(body)


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"X-Terra-RateLimit-Rule": "r2", "Retry-After": "120"}, RateLimited("r2", 120_000)),
        ({"X-Terra-RateLimit-Rule": "r2"}, RateLimited("r2", None)),
        ({"X-Terra-RateLimit-Rule": "r1"}, RateLimited("r1", None)),
        ({}, RateLimited(None, None)),
        (
            {"Retry-After": format_datetime(datetime.fromtimestamp(WALL + 90, UTC), usegmt=True)},
            RateLimited(None, 90_000),
        ),
        ({"Retry-After": "99999999"}, RateLimited(None, 3_600_000)),
        ({"Retry-After": "soon"}, RateLimited(None, None)),
    ],
)
def test_a_429_comes_back_at_once_with_its_rule_and_retry_after(
    terra: responses.RequestsMock,
    data: TerraDataRequestsClient,
    clock: Clock,
    headers: dict[str, str],
    expected: RateLimited,
) -> None:
    call = terra.get(SLEEP, status=429, json={"detail": "rate limit exceeded"}, headers=headers)

    assert ask(data, clock) == expected
    assert (call.call_count, clock.sleeps) == (1, [])


@pytest.mark.parametrize(
    ("status", "expected"),
    [(400, Refused(400)), (404, Refused(404)), (401, Unauthorized(401)), (403, Unauthorized(403)), (422, Refused(422))],
)
def test_terras_refusals_are_told_apart(
    terra: responses.RequestsMock, data: TerraDataRequestsClient, clock: Clock, status: int, expected: object
) -> None:
    problem = {"type": "about:blank", "title": "refused", "instance": "/sleep", "detail": "user not found"}
    terra.get(SLEEP, status=status, json=problem, **PROBLEM)

    assert ask(data, clock) == expected


def test_terra_down_is_retried_briefly_by_the_client_then_handed_back(
    terra: responses.RequestsMock, data: TerraDataRequestsClient, clock: Clock
) -> None:
    call = terra.get(SLEEP, status=503, headers={"Retry-After": "2"})

    assert ask(data, clock) == Unavailable(2_000)
    assert call.call_count == 3  # the client's bounded attempts


def test_no_connection_is_unavailable(
    terra: responses.RequestsMock, data: TerraDataRequestsClient, clock: Clock
) -> None:
    terra.get(SLEEP, body=requests.ConnectionError("refused"))

    assert isinstance(ask(data, clock), Unavailable)


@pytest.mark.parametrize(
    "answer",
    [
        {"body": b"<html>", "status": 200},
        {"json": ["not", "an", "object"], "status": 200},
        {"json": accepted("has spaces"), "status": 200},
        {"status": 302, "headers": {"Location": "http://127.0.0.1:10/elsewhere"}},
    ],
)
def test_an_answer_that_cannot_be_read_fails_the_request(
    terra: responses.RequestsMock, data: TerraDataRequestsClient, clock: Clock, answer: dict[str, object]
) -> None:
    terra.get(SLEEP, **answer)

    assert ask(data, clock) == Refused(None)


def test_the_athlete_profile_is_asked_without_dates(
    terra: responses.RequestsMock, data: TerraDataRequestsClient, clock: Clock
) -> None:
    call = terra.get(
        f"{BASE}/athlete",
        json=accepted("ref-a"),
        match=[matchers.query_param_matcher({"user_id": "tu-1", "to_webhook": "true", "with_samples": "false"})],
    )

    assert ask(data, clock, DataRequest("athlete", None)) == Accepted("ref-a", large=False)
    assert call.call_count == 1


def test_what_a_provider_offers_comes_from_terras_integration_lists_once_an_hour(
    terra: responses.RequestsMock, data: TerraDataRequestsClient, clock: Clock
) -> None:
    detailed = terra.get(
        f"{BASE}/integrations/detailed",
        match=[matchers.query_param_matcher({"sdk": "true"})],
        json={
            "status": "success",
            "providers": [
                {"provider": "OURA", "enabled": True, "types": {"sleep": True, "daily": True, "activity": False}},
                {"provider": "APPLE", "enabled": True, "types": {"activity": True}},
                "junk",
            ],
        },
    )
    terra.get(f"{BASE}/integrations", json={"providers": ["OURA"], "sdk_providers": ["APPLE"]})

    assert data.provider_support("oura", deadline(clock)) == ProviderSupport(False, frozenset({"sleep", "daily"}))
    assert data.provider_support("APPLE", deadline(clock)) == ProviderSupport(True, frozenset({"activity"}))
    assert data.provider_support("WHOOP", deadline(clock)) == ProviderSupport(False, None)
    clock.now += 3601
    data.provider_support("OURA", deadline(clock))
    assert detailed.call_count == 2


def test_when_terra_cannot_say_every_type_is_asked_for_and_known_sdk_providers_are_skipped(
    terra: responses.RequestsMock, data: TerraDataRequestsClient, clock: Clock
) -> None:
    terra.get(f"{BASE}/integrations/detailed", status=500)
    terra.get(f"{BASE}/integrations", status=500)

    assert data.provider_support("GARMIN", deadline(clock)) == ProviderSupport(False, None)
    assert data.provider_support("SAMSUNG", deadline(clock)) == ProviderSupport(True, None)
