"""POST /v1/connections/sync: the app comes back from the widget and the caller's records are repaired from Terra's
own view, then listed exactly as GET /v1/connections lists them. At most one real sync per caller per 30 s."""

from collections.abc import Callable
from typing import Any

import responses

from terra_connect.kernel.deadline import Deadline
from tests.support.builders import SUBJECT, ApiAnswer, api_event, terra_user, webhook_event

Deliver = Callable[[dict[str, Any]], ApiAnswer]
USER_INFO = "https://api.tryterra.co/v2/userInfo"
SYNC: dict[str, Any] = {"method": "POST", "path": "/v1/connections/sync"}


def connect(deliver: Deliver, user_id: str, provider: str = "GARMIN") -> None:
    event = {"type": "auth", "status": "success", "user": terra_user(user_id, provider)}
    assert deliver(webhook_event(event)).status == 200


def terra_lists(terra: responses.RequestsMock, *users: dict[str, Any]) -> None:
    terra.get(USER_INFO, match=[responses.matchers.query_param_matcher({"reference_id": SUBJECT})], json=list(users))


def test_a_connection_whose_webhook_never_came_is_added(
    invoke: Callable[..., ApiAnswer], terra: responses.RequestsMock
) -> None:
    terra_lists(terra, {**terra_user("tu-missed", "OURA"), "scopes": "sleep:read", "active": True})

    answer = invoke(api_event(**SYNC))

    assert answer.status == 200
    assert answer.headers["Sync-Status"] == "performed"
    assert answer.headers["Cache-Control"] == "no-store"
    listed = [(c["terra_user_id"], c["provider"], c["status"], c["scopes"]) for c in answer.json["connections"]]
    assert listed == [("tu-missed", "OURA", "connected", ["sleep:read"])]
    assert answer.json == invoke(api_event(method="GET", path="/v1/connections")).json


def test_a_connection_terra_no_longer_has_is_confirmed_and_removed(
    invoke: Callable[..., ApiAnswer], deliver: Deliver, terra: responses.RequestsMock, registry: Any
) -> None:
    connect(deliver, "tu-kept")
    connect(deliver, "tu-gone", "OURA")
    terra_lists(terra, terra_user("tu-kept"))
    terra.get(
        USER_INFO,
        match=[responses.matchers.query_param_matcher({"user_id": "tu-gone"})],
        status=404,
        json={"type": "about:blank", "title": "not found", "detail": "user not found"},
    )

    answer = invoke(api_event(**SYNC))

    assert [c["terra_user_id"] for c in answer.json["connections"]] == ["tu-kept"]
    assert [(h.terra_user_id, h.reason) for h in registry.history(SUBJECT)] == [("tu-gone", "gone_at_terra")]


def test_a_connection_terra_lists_under_another_app_user_moves_there(
    invoke: Callable[..., ApiAnswer], deliver: Deliver, terra: responses.RequestsMock, registry: Any
) -> None:
    connect(deliver, "tu-1")
    terra_lists(terra)
    moved = {**terra_user("tu-1", reference_id="someone-else")}
    terra.get(
        USER_INFO,
        match=[responses.matchers.query_param_matcher({"user_id": "tu-1"})],
        json={"user": moved, "status": "success", "is_authenticated": True},
    )

    answer = invoke(api_event(**SYNC))

    assert answer.json["connections"] == []
    assert [c.terra_user_id for c in registry.connections("someone-else", Deadline.after(5))] == ["tu-1"]


def test_scopes_and_the_active_flag_follow_terra(
    invoke: Callable[..., ApiAnswer], deliver: Deliver, terra: responses.RequestsMock
) -> None:
    connect(deliver, "tu-1")
    terra_lists(terra, {**terra_user("tu-1"), "scopes": "activity:read,heart:read", "active": False})

    (connection,) = invoke(api_event(**SYNC)).json["connections"]

    assert (connection["scopes"], connection["active"]) == (["activity:read", "heart:read"], False)


def test_a_second_sync_within_30_seconds_answers_from_the_registry_and_says_so(
    invoke: Callable[..., ApiAnswer], terra: responses.RequestsMock
) -> None:
    terra_lists(terra, terra_user("tu-1"))
    first = invoke(api_event(**SYNC))
    calls = len(terra.calls)

    second = invoke(api_event(**SYNC))

    assert len(terra.calls) == calls
    assert second.status == 200
    assert second.headers["Sync-Status"] == "recent"
    assert second.headers["Synced-At"] == first.headers["Synced-At"]
    assert 1 <= int(second.headers["Retry-After"]) <= 30
    assert second.json == first.json


def test_terra_being_unavailable_is_a_503(invoke: Callable[..., ApiAnswer], terra: responses.RequestsMock) -> None:
    terra.get(USER_INFO, status=503, json={"status": "error", "message": "down"})

    answer = invoke(api_event(**SYNC))

    assert (answer.status, answer.code) == (503, "terra_unavailable")


def test_a_failed_sync_releases_its_claim_so_the_retry_after_it_answers_works(
    invoke: Callable[..., ApiAnswer], terra: responses.RequestsMock
) -> None:
    terra.get(USER_INFO, status=503, json={"status": "error", "message": "down"})
    failed = invoke(api_event(**SYNC))
    terra.replace(responses.GET, USER_INFO, json=[terra_user("tu-1")])

    retried = invoke(api_event(**SYNC))  # at once: within the 1 s the failure asked for, well within 30 s

    assert (failed.status, failed.headers["Retry-After"]) == (503, "1")
    assert retried.headers["Sync-Status"] == "performed"
    assert [c["terra_user_id"] for c in retried.json["connections"]] == ["tu-1"]


def test_the_sync_reads_only_the_callers_own_terra_users(
    invoke: Callable[..., ApiAnswer], terra: responses.RequestsMock
) -> None:
    terra.get(USER_INFO, json=[])

    invoke(api_event(**SYNC, headers={"x-reference-id": "someone-else"}))
    invoke(api_event(**SYNC, claims={"sub": "bob"}))

    assert [call.request.url for call in terra.calls] == [f"{USER_INFO}?reference_id=bob"]


def test_the_sync_needs_an_identity(invoke: Callable[..., ApiAnswer], terra: responses.RequestsMock) -> None:
    answer = invoke(api_event(**SYNC, claims=None))

    assert (answer.status, answer.code) == (401, "unauthenticated")
    assert len(terra.calls) == 0
