"""The Terra simulator behaves like Terra where the product depends on it, and injects faults on demand."""

from collections.abc import Iterator

import pytest
import requests
from local.expectations import Expectation
from local.terra_simulator import Fault, TerraSimulator

DEV_ID = "sim-dev"
API_KEY = "sim-key"
HEADERS = {"dev-id": DEV_ID, "x-api-key": API_KEY}


@pytest.fixture
def simulator() -> Iterator[TerraSimulator]:
    with TerraSimulator(dev_id=DEV_ID, api_key=API_KEY) as running:
        yield running


def test_the_current_endpoint_answers_201_with_a_session(simulator: TerraSimulator) -> None:
    answer = requests.post(
        simulator.widget_session_url,
        json={"reference_id": "user-1", "providers": "GARMIN,OURA", "auth_success_redirect_url": "myapp://x"},
        headers=HEADERS,
        timeout=5,
    )

    assert answer.status_code == 201
    body = answer.json()
    assert body["url"] == f"{simulator.base_url}/session/{body['session_id']}"
    session = simulator.sessions[body["session_id"]]
    assert (session.reference_id, session.providers, session.success_redirect_url) == (
        "user-1",
        ["GARMIN", "OURA"],
        "myapp://x",
    )
    assert simulator.requests[-1].json()["reference_id"] == "user-1"


def test_the_legacy_endpoint_answers_200_or_410_like_a_new_account() -> None:
    with (
        TerraSimulator(dev_id=DEV_ID, api_key=API_KEY) as old,
        TerraSimulator(dev_id=DEV_ID, api_key=API_KEY, legacy_gone=True) as new,
    ):
        assert requests.post(old.legacy_widget_session_url, json={}, headers=HEADERS, timeout=5).status_code == 200
        gone = requests.post(new.legacy_widget_session_url, json={}, headers=HEADERS, timeout=5)

    assert gone.status_code == 410
    assert "access.tryterra.co/api/widget/session" in gone.json()["message"]


@pytest.mark.parametrize(
    ("headers", "status"),
    [({}, 401), ({"dev-id": DEV_ID}, 401), ({"dev-id": DEV_ID, "x-api-key": "wrong"}, 403)],
)
def test_credentials_are_checked_like_terra(simulator: TerraSimulator, headers: dict[str, str], status: int) -> None:
    answer = requests.post(simulator.widget_session_url, json={}, headers=headers, timeout=5)

    assert answer.status_code == status


def test_injected_faults_are_served_once_then_normal_answers_resume(simulator: TerraSimulator) -> None:
    simulator.inject(Fault(status=429, body={"detail": "rate limit exceeded"}, headers={"Retry-After": "3"}), times=2)

    answers = [requests.post(simulator.widget_session_url, json={}, headers=HEADERS, timeout=5) for _ in range(3)]

    assert [a.status_code for a in answers] == [429, 429, 201]
    assert answers[0].headers["Retry-After"] == "3"


def test_faults_can_be_injected_over_http(simulator: TerraSimulator) -> None:
    assert requests.post(f"{simulator.base_url}/_simulator/faults", json={"status": 502}, timeout=5).status_code == 201

    assert requests.post(simulator.widget_session_url, json={}, headers=HEADERS, timeout=5).status_code == 502


def test_a_dropped_connection_is_a_connection_error(simulator: TerraSimulator) -> None:
    simulator.inject(Fault(drop_connection=True))

    with pytest.raises(requests.ConnectionError):
        requests.post(simulator.widget_session_url, json={}, headers=HEADERS, timeout=5)


def test_connections_are_counted_and_kept_alive(simulator: TerraSimulator) -> None:
    with requests.Session() as session:
        for _ in range(5):
            session.post(simulator.widget_session_url, json={}, headers=HEADERS, timeout=5)

    assert simulator.connections == 1


EXPECT_201 = Expectation(event="e.json", function="ApiFunction", status=201, link="url")


def test_an_answer_that_meets_its_expectation_passes() -> None:
    assert EXPECT_201.check({"statusCode": 201, "body": '{"url": "http://sim/session/1"}'}, "http://sim/") is None


@pytest.mark.parametrize(
    ("result", "failure"),
    [
        ({"statusCode": 201, "body": '{"url": "https://elsewhere/1"}'}, "does not come from the Terra stand-in"),
        ({"statusCode": 500, "body": '{"code": "internal_error"}'}, "status 500, expected 201"),
        ({"errorType": "Runtime.ImportModuleError"}, "no HTTP answer"),
    ],
)
def test_an_answer_that_misses_its_expectation_says_why(result: dict[str, object], failure: str) -> None:
    assert failure in (EXPECT_201.check(result, "http://sim/") or "")
