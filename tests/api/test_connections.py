"""GET/DELETE /v1/connections and the custom-UI auth URL: the caller's own connections, nobody else's."""

import json
from collections.abc import Callable
from typing import Any

import pytest
import responses

from tests.support.builders import (
    API_KEY,
    LEGACY_WIDGET_URL,
    SUBJECT,
    WIDGET_URL,
    ApiAnswer,
    api_event,
    assert_matches_schema,
    terra_session_answer,
    terra_user,
    webhook_event,
)

Deliver = Callable[[dict[str, Any]], ApiAnswer]
DEAUTH_URL = "https://api.tryterra.co/v2/auth/deauthenticateUser"
AUTHENTICATE_URL = "https://api.tryterra.co/v2/auth/authenticateUser"
OTHER_USER = "someone-else"


def connect(deliver: Deliver, user_id: str, provider: str = "GARMIN", reference_id: str = SUBJECT) -> None:
    event = {"type": "auth", "status": "success", "user": terra_user(user_id, provider, reference_id)}
    assert deliver(webhook_event(event)).status == 200


def test_the_list_shows_live_connections_and_the_last_attempt(
    invoke: Callable[..., ApiAnswer], deliver: Deliver
) -> None:
    connect(deliver, "tu-1", "GARMIN")
    connect(deliver, "tu-2", "OURA")
    connect(deliver, "tu-3", "FITBIT")
    deliver(webhook_event({"type": "deauth", "user": terra_user("tu-3", "FITBIT")}))
    deliver(webhook_event({"type": "connection_error", "user": terra_user("tu-2", "OURA")}))
    connect(deliver, "tu-x", "WHOOP", reference_id=OTHER_USER)

    answer = invoke(api_event(method="GET", path="/v1/connections"))

    assert answer.status == 200
    assert answer.headers["Cache-Control"] == "no-store"
    listed = [(c["terra_user_id"], c["provider"], c["status"]) for c in answer.json["connections"]]
    assert listed == [("tu-1", "GARMIN", "connected"), ("tu-2", "OURA", "needs_reauth")]
    assert answer.json["last_attempt"]["status"] == "success"
    assert_matches_schema(answer.json, "ConnectionsResponse")


def test_a_user_without_connections_gets_an_empty_list(invoke: Callable[..., ApiAnswer]) -> None:
    answer = invoke(api_event(method="GET", path="/v1/connections"))

    assert answer.json == {"connections": [], "last_attempt": None}


def test_disconnecting_calls_terra_and_marks_the_connection(
    invoke: Callable[..., ApiAnswer],
    deliver: Deliver,
    terra: responses.RequestsMock,
    registry: Any,
) -> None:
    connect(deliver, "tu-1")
    terra.delete(DEAUTH_URL, status=200, json={"status": "success"})

    answer = invoke(api_event(method="DELETE", path="/v1/connections/tu-1"))

    assert answer.status == 204
    assert terra.calls[0].request.url == f"{DEAUTH_URL}?user_id=tu-1"
    assert terra.calls[0].request.headers["x-api-key"] == API_KEY
    assert [(h.terra_user_id, h.reason) for h in registry.history(SUBJECT)] == [("tu-1", "disconnected_by_user")]
    listed = invoke(api_event(method="GET", path="/v1/connections")).json["connections"]
    assert listed == []


def test_terra_404_on_disconnect_is_already_gone(
    invoke: Callable[..., ApiAnswer],
    deliver: Deliver,
    terra: responses.RequestsMock,
    registry: Any,
) -> None:
    connect(deliver, "tu-1")
    terra.delete(DEAUTH_URL, status=404, json={"status": "error", "message": "user not found"})

    assert invoke(api_event(method="DELETE", path="/v1/connections/tu-1")).status == 204
    assert [(h.terra_user_id, h.status.value) for h in registry.history(SUBJECT)] == [("tu-1", "disconnected")]


@pytest.mark.parametrize("target", ["tu-x", "tu-unknown", "tu-gone"], ids=["someone-elses", "unknown", "disconnected"])
def test_only_the_callers_live_connection_can_be_deleted(
    invoke: Callable[..., ApiAnswer], deliver: Deliver, terra: responses.RequestsMock, target: str
) -> None:
    connect(deliver, "tu-x", reference_id=OTHER_USER)
    connect(deliver, "tu-gone")
    deliver(webhook_event({"type": "deauth", "user": terra_user("tu-gone")}))

    answer = invoke(api_event(method="DELETE", path=f"/v1/connections/{target}"))

    assert (answer.status, answer.code) == (404, "not_found")
    assert answer.json["detail"] == "No such connection."  # the same words for every case: no enumeration
    assert len(terra.calls) == 0


def test_the_widget_is_prefilled_with_the_callers_connected_users(
    invoke: Callable[..., ApiAnswer], deliver: Deliver, terra: responses.RequestsMock
) -> None:
    connect(deliver, "tu-1")
    connect(deliver, "tu-2", "OURA")
    deliver(webhook_event({"type": "deauth", "user": terra_user("tu-2", "OURA")}))
    connect(deliver, "tu-x", reference_id=OTHER_USER)
    terra.post(WIDGET_URL, status=201, json=terra_session_answer())

    invoke(api_event())

    assert json.loads(terra.calls[0].request.body or b"{}")["connected_uids"] == ["tu-1"]


def test_the_legacy_endpoint_is_not_prefilled(
    invoke: Callable[..., ApiAnswer], deliver: Deliver, terra: responses.RequestsMock, monkeypatch: pytest.MonkeyPatch
) -> None:
    from terra_connect.entrypoints import api as container  # noqa: PLC0415
    from terra_connect.http import dependencies  # noqa: PLC0415

    connect(deliver, "tu-1")
    monkeypatch.setenv("TERRA_WIDGET_SESSION_URL", LEGACY_WIDGET_URL)
    legacy = container.build_container(__import__("os").environ)
    monkeypatch.setattr(dependencies, "services", lambda: legacy)
    terra.post(LEGACY_WIDGET_URL, status=200, json=terra_session_answer())

    assert invoke(api_event()).status == 201
    assert "connected_uids" not in json.loads(terra.calls[0].request.body or b"{}")


def test_the_custom_ui_gets_a_provider_auth_url_bound_to_the_caller_in_terras_upper_case(
    invoke: Callable[..., ApiAnswer], terra: responses.RequestsMock
) -> None:
    terra.post(
        AUTHENTICATE_URL,
        status=200,
        json={"status": "success", "user_id": "tu-new", "auth_url": "https://connect.garmin.com/oauthConfirm?x=1"},
    )

    answer = invoke(
        api_event(
            {"language": "fr", "success_redirect_url": "myapp://terra/garmin"}, path="/v1/connections/garmin/auth-url"
        )
    )

    assert answer.status == 201
    assert answer.json == {
        "auth_url": "https://connect.garmin.com/oauthConfirm?x=1",
        "provider": "GARMIN",
        "terra_user_id": "tu-new",
    }
    assert_matches_schema(answer.json, "AuthUrlResponse")
    (request,) = [call.request for call in terra.calls if AUTHENTICATE_URL in (call.request.url or "")]
    assert request.url == f"{AUTHENTICATE_URL}?resource=GARMIN"
    assert json.loads(request.body or b"{}") == {
        "reference_id": SUBJECT,
        "language": "fr",
        "auth_success_redirect_url": "myapp://terra/garmin",
        "auth_failure_redirect_url": "myapp://terra/failed",
    }


@pytest.mark.parametrize(
    ("path", "body", "status", "code"),
    [
        ("/v1/connections/gar.min/auth-url", {}, 422, "validation_error"),
        ("/v1/connections/GARMIN/auth-url", {"reference_id": "eve"}, 422, "reference_id_not_allowed"),
        (
            "/v1/connections/GARMIN/auth-url",
            {"success_redirect_url": "https://evil.example/"},
            422,
            "redirect_not_allowed",
        ),
    ],
    ids=["malformed-provider", "reference-id-in-body", "forbidden-redirect"],
)
def test_the_custom_ui_applies_the_same_rules_as_the_widget(
    invoke: Callable[..., ApiAnswer],
    terra: responses.RequestsMock,
    path: str,
    body: dict[str, str],
    status: int,
    code: str,
) -> None:
    answer = invoke(api_event(body, path=path))

    assert (answer.status, answer.code) == (status, code)
    assert len(terra.calls) == 0


def test_an_unknown_provider_is_404(invoke: Callable[..., ApiAnswer], terra: responses.RequestsMock) -> None:
    terra.post(AUTHENTICATE_URL, status=404, json={"status": "error", "message": "resource not found"})

    answer = invoke(api_event({}, path="/v1/connections/NOPE/auth-url"))

    assert (answer.status, answer.code) == (404, "unknown_provider")


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/v1/connections"), ("DELETE", "/v1/connections/tu-1"), ("POST", "/v1/connections/GARMIN/auth-url")],
)
def test_every_connections_route_needs_an_identity(
    invoke: Callable[..., ApiAnswer], terra: responses.RequestsMock, method: str, path: str
) -> None:
    answer = invoke(api_event(method=method, path=path, claims=None))

    assert (answer.status, answer.code) == (401, "unauthenticated")
    assert len(terra.calls) == 0
