"""The Terra simulator keeps Terra's published contract, failure answers included: the shapes Terra's spec
gives, not the ones this product's client expects. Every event it sends has the shape of one of Terra's events."""

from collections.abc import Iterator
from typing import Any

import pytest
import requests
import responses
from hypothesis import given, settings
from hypothesis import strategies as st
from local.terra_simulator import CURRENT_WIDGET_PATHS, TerraSimulator

from tests.support.terra_schemas import SCHEMAS, shapes_matching
from tests.support.terra_world import World, steps

HEADERS = {"dev-id": "sim-dev", "x-api-key": "sim-key"}


@pytest.fixture
def terra() -> Iterator[TerraSimulator]:
    with TerraSimulator(dev_id="sim-dev", api_key="sim-key") as running:
        yield running


def api(terra: TerraSimulator, method: str, path: str, **kwargs: Any) -> requests.Response:
    return requests.request(method, terra.api_base_url + path, headers=HEADERS, timeout=5, **kwargs)


@pytest.mark.parametrize(("path", "status", "expires_in"), [(p, s, e) for p, (s, e) in CURRENT_WIDGET_PATHS.items()])
def test_every_published_widget_path_answers_with_its_own_status(
    terra: TerraSimulator, path: str, status: int, expires_in: int
) -> None:
    answer = requests.post(terra.base_url + path, json={"reference_id": "alice"}, headers=HEADERS, timeout=5)

    assert answer.status_code == status
    assert answer.json()["expires_in"] == expires_in


def test_connected_uids_that_are_not_live_users_get_400_with_invalid_user_ids(terra: TerraSimulator) -> None:
    live = terra.add_user("GARMIN", "alice")

    answer = requests.post(
        terra.widget_session_url,
        json={"reference_id": "alice", "connected_uids": [live.user_id, "tu-deleted"]},
        headers=HEADERS,
        timeout=5,
    )

    assert answer.status_code == 400
    assert answer.json() == {
        "status": "error",
        "message": "Some connected_uids are not live users",
        "invalid_user_ids": ["tu-deleted"],
    }


def test_user_info_is_an_object_for_a_user_id_and_an_array_for_a_reference_id(terra: TerraSimulator) -> None:
    user = terra.add_user("OURA", "alice")
    terra.add_user("GARMIN", "bob")

    by_id = api(terra, "GET", "/userInfo", params={"user_id": user.user_id}).json()
    by_reference = api(terra, "GET", "/userInfo", params={"reference_id": "alice"}).json()

    assert by_id["status"] == "success"
    assert by_id["is_authenticated"] is True
    assert by_id["user"]["user_id"] == user.user_id
    assert {"last_polled_at", "most_recent_data_at"} <= set(by_id["user"])
    assert [u["user_id"] for u in by_reference] == [user.user_id]


@pytest.mark.parametrize(
    ("method", "path", "kwargs", "status"),
    [
        ("GET", "/userInfo", {"params": {"user_id": "nobody"}}, 404),
        ("GET", "/userInfo", {}, 400),
        ("DELETE", "/auth/deauthenticateUser", {"params": {"user_id": "nobody"}}, 404),
        ("POST", "/auth/authenticateUser", {"params": {"resource": "NOPE"}, "json": {}}, 404),
        ("GET", "/subscriptions", {"params": {"page": "x"}}, 400),
        ("POST", "/bulkUserInfo", {"json": {"not": "a list"}}, 400),
    ],
    ids=["unknown-user", "no-query", "deauth-unknown", "unknown-provider", "bad-page", "bulk-not-a-list"],
)
def test_v2_errors_are_problem_json(
    terra: TerraSimulator, method: str, path: str, kwargs: dict[str, Any], status: int
) -> None:
    answer = api(terra, method, path, **kwargs)

    assert answer.status_code == status
    assert answer.headers["Content-Type"] == "application/problem+json"
    assert {"type", "title", "detail", "instance"} <= set(answer.json())


def test_missing_credentials_are_a_problem_json_401(terra: TerraSimulator) -> None:
    answer = requests.get(terra.api_base_url + "/userInfo", params={"reference_id": "x"}, timeout=5)

    assert answer.status_code == 401
    assert answer.json()["detail"] == "dev-id or x-api-key headers are missing"


def test_subscriptions_page_with_page_and_per_page_and_answer_everything_without(terra: TerraSimulator) -> None:
    for provider in ("GARMIN", "OURA", "POLAR"):
        terra.add_user(provider, "alice")

    pages = [api(terra, "GET", "/subscriptions", params={"page": p, "per_page": 2}).json()["data"] for p in (0, 1)]
    everything = api(terra, "GET", "/subscriptions").json()

    assert [(page["next"], page["max_page"], len(page["results"])) for page in pages] == [(1, 1, 2), (None, 1, 1)]
    assert len(everything["users"]) == 3


def test_bulk_user_info_answers_the_users_it_still_knows(terra: TerraSimulator) -> None:
    user = terra.add_user("GARMIN", "alice")

    answer = api(terra, "POST", "/bulkUserInfo", json=[user.user_id, "tu-deleted"])

    assert [u["user_id"] for u in answer.json()] == [user.user_id]


def test_deauthenticate_user_answers_then_sends_the_deauth_webhook(terra: TerraSimulator) -> None:
    user = terra.add_user("GARMIN", "alice")

    answer = api(terra, "DELETE", "/auth/deauthenticateUser", params={"user_id": user.user_id})

    assert answer.json() == {"status": "success"}
    assert [event["type"] for event in terra.wait_for_events(1)] == ["deauth"]
    assert user.user_id not in terra.users


def test_dropped_webhooks_are_built_but_never_delivered(terra: TerraSimulator) -> None:
    assert requests.post(terra.base_url + "/_simulator/webhooks", json={"drop": True}, timeout=5).status_code == 201

    terra.connect("GARMIN", "alice")

    assert [event["type"] for event in terra.dropped] == ["auth"]
    assert terra.deliveries == []


def test_each_delivery_carries_terras_headers_and_an_ordering_timestamp_within_its_signing_second() -> None:
    with (
        TerraSimulator(
            dev_id="sim-dev", api_key="sim-key", webhook_url="https://hooks.example.test/terra", signing_secret="s"
        ) as terra,
        responses.RequestsMock() as receiver,
    ):
        receiver.post("https://hooks.example.test/terra", status=200)
        first = terra.connect("GARMIN", "alice")
        terra.reauth(first.user_id)  # two more, likely in the same second as the first

        headers = [call.request.headers for call in receiver.calls]
    stamps = [int(h["X-Terra-Ordering-Timestamp"]) for h in headers]
    signed = [int(h["X-Terra-Signature"].split(",")[0].removeprefix("t=")) for h in headers]
    assert len(stamps) == 3
    assert stamps == sorted(set(stamps))  # a newer copy carries a higher one
    assert all(t * 1000 <= stamp < (t + 1) * 1000 for t, stamp in zip(signed, stamps, strict=True))
    assert all(h["terra-signature"] == h["X-Terra-Signature"] and h["X-Terra-Trace-Id"] for h in headers)


def test_every_event_the_simulator_sends_has_the_shape_of_one_of_terras_events(terra: TerraSimulator) -> None:
    first = terra.connect("GARMIN", "alice", widget_session_id="s-1")
    second = terra.reauth(first.user_id)
    third = terra.reauth(second.user_id, name_old_user=False)
    terra.deauth(third.user_id, "access_revoked")
    terra.deauth(terra.connect("OURA", "bob").user_id)
    session = requests.post(terra.widget_session_url, json={"reference_id": "carol"}, headers=HEADERS, timeout=5)
    requests.get(session.json()["url"] + "/cancel", timeout=5, allow_redirects=False)
    custom = api(terra, "POST", "/auth/authenticateUser", params={"resource": "whoop"}, json={"reference_id": "dan"})
    requests.get(custom.json()["auth_url"] + "/authorize", timeout=5, allow_redirects=False)

    events = terra.wait_for_events(8)  # the last two are sent after the simulator answered
    kinds = {event["type"] for event in events}
    assert kinds == {"auth", "user_reauth", "access_revoked", "deauth", "auth_cancelled"}
    for event in events:
        assert len(shapes_matching(event)) == 1, event


@settings(max_examples=100, deadline=None)
@given(history=st.lists(steps, min_size=1, max_size=20))
def test_the_events_the_property_tests_generate_have_terras_shapes_too(history: list[Any]) -> None:
    for delivery in World(exact=False).play(history).deliveries:
        assert len(shapes_matching(delivery.payload)) == 1, delivery.payload


def test_the_schemas_refuse_what_terra_would_never_send() -> None:
    assert shapes_matching({"type": "auth", "status": "success", "user": {"user_id": "x"}}) == []  # no provider
    assert shapes_matching({"type": "user_reauth", "status": "warning", "message": "m"}) == []  # no new_user
    assert shapes_matching({"type": "deauth", "user": {"user_id": "x", "provider": "P"}, "status": "success"}) == []
    assert set(SCHEMAS) >= {"auth (success)", "auth_cancelled", "user_reauth", "permission_change"}


def test_an_sdk_token_is_single_use_and_connects_under_the_reference_id_the_device_names(
    terra: TerraSimulator,
) -> None:
    token = api(terra, "POST", "/auth/generateAuthToken").json()

    assert (token["status"], token["expires_in"]) == ("success", 180)
    user = terra.sdk_connect(token["token"], "anyone-the-device-likes")
    assert user is not None
    assert (user.provider, user.reference_id) == ("APPLE", "anyone-the-device-likes")
    assert terra.sdk_connect(token["token"], "again") is None
    assert terra.sdk_connect("never-issued", "x") is None
    assert [event["type"] for event in terra.sent_events] == ["auth"]


def test_integrations_need_no_credentials_and_list_sdk_providers_apart(terra: TerraSimulator) -> None:
    answer = requests.get(terra.api_base_url + "/integrations", timeout=5).json()

    assert "GARMIN" in answer["providers"]
    assert answer["sdk_providers"] == ["APPLE", "SAMSUNG", "HEALTH_CONNECT"]


def test_widget_paths_can_answer_404_like_an_account_on_another_published_path() -> None:
    with TerraSimulator(
        dev_id="sim-dev", api_key="sim-key", missing_widget_paths=frozenset({"/api/widget/session"})
    ) as terra:
        missing = requests.post(terra.widget_session_url, json={}, headers=HEADERS, timeout=5)
        present = requests.post(terra.base_url + "/widget/session", json={}, headers=HEADERS, timeout=5)

    assert (missing.status_code, present.status_code) == (404, 201)
