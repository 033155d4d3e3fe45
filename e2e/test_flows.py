"""The product's flows, black-box: what a mobile app and Terra can do over HTTP(S), nothing else."""

import time
from datetime import date
from urllib.parse import urlparse

from local.terra_data_simulator import record
from local.terra_simulator import SimulatedUser

from e2e.conftest import Api


def test_the_api_refuses_a_caller_without_a_token(alice: Api) -> None:
    answer = alice.call("POST", "/v1/widget-sessions", token=None, json={})

    assert answer.status_code == 401


def test_a_signed_in_user_gets_a_widget_url_bound_to_them(alice: Api) -> None:
    answer = alice.call("POST", "/v1/widget-sessions", json={"providers": ["GARMIN", "OURA"]})

    assert answer.status_code == 201, answer.text
    body = answer.json()
    widget = urlparse(body["url"])
    # Terra's widget is https; make dev's Terra simulator serves it on loopback.
    assert widget.scheme == "https" or widget.hostname == "127.0.0.1"
    assert widget.netloc
    assert body["session_id"]
    assert body["expires_in"] > 0
    assert answer.headers["Cache-Control"] == "no-store"


def test_a_user_cannot_choose_whose_widget_it_is(alice: Api) -> None:
    answer = alice.call("POST", "/v1/widget-sessions", json={"reference_id": "someone-else"})

    assert answer.status_code == 422
    assert answer.headers["Content-Type"].startswith("application/problem+json")
    assert answer.json()["code"] == "reference_id_not_allowed"


def test_connect_list_disconnect(alice: Api) -> None:
    terra_user_id = alice.connect("GARMIN")

    listed = {c["terra_user_id"]: c for c in alice.connections()}
    assert listed[terra_user_id]["provider"] == "GARMIN"
    assert listed[terra_user_id]["status"] == "connected"

    assert alice.call("DELETE", f"/v1/connections/{terra_user_id}").status_code == 204
    assert terra_user_id not in {c["terra_user_id"] for c in alice.connections()}
    assert alice.call("DELETE", f"/v1/connections/{terra_user_id}").status_code == 404


def test_one_user_never_sees_or_disconnects_anothers_connection(alice: Api, bob: Api) -> None:
    terra_user_id = alice.connect("OURA")

    assert terra_user_id not in {c["terra_user_id"] for c in bob.connections()}
    assert bob.call("DELETE", f"/v1/connections/{terra_user_id}").status_code == 404
    assert terra_user_id in {c["terra_user_id"] for c in alice.connections()}


def test_sync_answers_the_listing(bob: Api) -> None:
    answer = bob.call("POST", "/v1/connections/sync")

    assert answer.status_code == 200, answer.text
    assert answer.headers["Sync-Status"] in {"performed", "recent"}
    assert "connections" in answer.json()


def test_a_webhook_with_a_wrong_signature_changes_nothing(alice: Api) -> None:
    before = alice.connections()
    event = {
        "type": "auth",
        "status": "success",
        "user": {"user_id": "e2e-forged", "provider": "FITBIT", "reference_id": alice.reference_id, "active": True},
    }

    assert alice.deliver(event, secret="not-the-secret").status_code == 401
    assert alice.connections() == before


def test_error_answers_are_problems_with_a_request_id(alice: Api) -> None:
    for method, path, kwargs, status in (
        ("POST", "/v1/widget-sessions", {"data": b"{not json", "headers": {"Content-Type": "application/json"}}, 400),
        (
            "POST",
            "/v1/widget-sessions",
            {"data": b"a=b", "headers": {"Content-Type": "application/x-www-form-urlencoded"}},
            415,
        ),
        ("POST", "/v1/widget-sessions", {"json": {"providers": ["b@d"]}}, 422),
        ("POST", "/v1/connections/NOT_A_PROVIDER_0123456789_0123456789_0123456789/auth-url", {"json": {}}, 422),
    ):
        answer = alice.call(method, path, **kwargs)
        assert answer.status_code == status, (path, answer.text)
        assert answer.headers["Content-Type"].startswith("application/problem+json")
        assert answer.json()["request_id"]


def test_an_unknown_route_is_api_gateways_404(alice: Api) -> None:
    answer = alice.call("GET", "/v1/nothing-here")

    assert answer.status_code == 404


def test_delivered_data_is_stored_and_read_back_by_its_owner_only(alice: Api, bob: Api) -> None:
    terra_user_id = alice.connect("GARMIN")
    day = date(2026, 7, 1)
    user = SimulatedUser(terra_user_id, "GARMIN", alice.reference_id).as_terra()
    daily = record("daily", terra_user_id, day)
    event = {"type": "daily", "version": "2022-03-16", "user": user, "data": [daily]}
    query = f"start_date={day}&end_date={day}"

    assert alice.deliver(event, headers={"x-terra-trace-id": f"e2e-{terra_user_id}"}).status_code == 200

    # Stored asynchronously (the webhook answers once the body is kept; the ingest function stores the records).
    deadline = time.monotonic() + 60
    while not (stored := alice.call("GET", f"/v1/data/daily?{query}").json()["data"]):
        assert time.monotonic() < deadline, "the delivered day never became readable"
        time.sleep(0.5)
    (day_record,) = stored
    assert day_record["metadata"]["start_time"].startswith(str(day))
    assert day_record["distance_data"] == daily["distance_data"]
    assert bob.call("GET", f"/v1/data/daily?{query}").json()["data"] == []
