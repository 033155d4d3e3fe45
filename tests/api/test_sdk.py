"""Apple Health, Samsung Health, Health Connect: a token for Terra's mobile SDK, and the rule that binds the SDK
connection it makes to the user the token was issued to."""

import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
import responses
from botocore.exceptions import ClientError

from terra_connect.connections.records import StoredUser, seen_alive
from terra_connect.connections.vocabulary import ConnectionStatus, TerraUser
from terra_connect.kernel.deadline import Deadline
from tests.support.builders import (
    SDK_TOKEN,
    SUBJECT,
    ApiAnswer,
    AwsCalls,
    api_event,
    assert_matches_schema,
    emitted_metrics,
    terra_user,
    webhook_event,
)

Deliver = Callable[[dict[str, Any]], ApiAnswer]
GENERATE = "https://api.tryterra.co/v2/auth/generateAuthToken"
USER_INFO = "https://api.tryterra.co/v2/userInfo"
TOKEN_REQUEST: dict[str, Any] = {"method": "POST", "path": "/v1/sdk-tokens"}


def apple_auth(user_id: str, reference_id: str, created_at: float | None = None) -> dict[str, Any]:
    user = terra_user(user_id, "APPLE", reference_id)
    if created_at is not None:
        user["created_at"] = datetime.fromtimestamp(created_at, UTC).isoformat()
    return {"type": "auth", "status": "success", "user": user, "message": "connected"}


def listed(registry: Any, reference_id: str = SUBJECT) -> list[tuple[str, str]]:
    return [(c.terra_user_id, c.provider) for c in registry.connections(reference_id, Deadline.after(5))]


@pytest.fixture
def issue_token(invoke: Callable[..., ApiAnswer], terra: responses.RequestsMock) -> Callable[..., ApiAnswer]:
    terra.post(GENERATE, json={"status": "success", "token": SDK_TOKEN, "expires_in": 180})

    def _issue(sub: str = SUBJECT) -> ApiAnswer:
        return invoke(api_event(**TOKEN_REQUEST, claims={"sub": sub}))

    return _issue


def test_a_token_is_issued_for_the_caller_with_the_reference_id_the_sdk_must_use(
    issue_token: Callable[..., ApiAnswer], terra: responses.RequestsMock, capsys: pytest.CaptureFixture[str]
) -> None:
    before = time.time()

    answer = issue_token()

    assert answer.status == 201
    assert answer.headers["Cache-Control"] == "no-store"
    assert (answer.json["token"], answer.json["expires_in"], answer.json["reference_id"]) == (SDK_TOKEN, 180, SUBJECT)
    expires_at = datetime.fromisoformat(answer.json["expires_at"]).timestamp()
    assert before + 179 <= expires_at <= time.time() + 181
    assert answer.json["expires_at"].endswith("Z")
    assert_matches_schema(answer.json, "SdkTokenResponse")
    assert [call.request.url for call in terra.calls] == [f"{GENERATE}?reference_id={SUBJECT}"]
    assert SDK_TOKEN not in capsys.readouterr().out  # nor in any log record: the autouse sweep checks that


@pytest.mark.parametrize(
    ("answer", "status", "code"),
    [
        ({"status": 503, "json": {"status": "error", "message": "down"}}, 503, "terra_unavailable"),
        ({"status": 404, "json": {"type": "about:blank", "title": "not found", "detail": "x"}}, 502, "terra_rejected"),
        ({"status": 200, "json": {"status": "success"}}, 502, "terra_bad_response"),
    ],
    ids=["terra-down", "terra-refuses", "no-token"],
)
def test_terra_failures_map_like_every_other_terra_call(
    invoke: Callable[..., ApiAnswer], terra: responses.RequestsMock, answer: dict[str, Any], status: int, code: str
) -> None:
    terra.post(GENERATE, **answer)

    result = invoke(api_event(**TOKEN_REQUEST))

    assert (result.status, result.code) == (status, code)


def test_no_token_is_handed_out_that_the_registry_did_not_record(
    issue_token: Callable[..., ApiAnswer], aws_calls: AwsCalls
) -> None:
    aws_calls.failures["PutItem"] = ClientError({"Error": {"Code": "InternalServerError", "Message": "x"}}, "PutItem")

    answer = issue_token()

    assert (answer.status, answer.code) == (503, "registry_unavailable")
    assert SDK_TOKEN not in answer.body


def test_the_sdk_token_route_needs_an_identity(invoke: Callable[..., ApiAnswer], terra: responses.RequestsMock) -> None:
    answer = invoke(api_event(**TOKEN_REQUEST, claims=None))

    assert (answer.status, answer.code) == (401, "unauthenticated")
    assert [call for call in terra.calls if "generateAuthToken" in (call.request.url or "")] == []


def test_an_sdk_connection_under_the_reference_id_a_token_was_issued_to_is_listed(
    issue_token: Callable[..., ApiAnswer], deliver: Deliver, registry: Any
) -> None:
    issue_token()

    assert deliver(webhook_event(apple_auth("tu-apple", SUBJECT, created_at=time.time() + 30))).status == 200

    assert listed(registry) == [("tu-apple", "APPLE")]
    assert (registry.last_attempt(SUBJECT).status, registry.last_attempt(SUBJECT).provider) == ("success", "APPLE")


def test_an_sdk_connection_naming_a_user_who_was_issued_no_token_is_kept_out_and_counted(
    issue_token: Callable[..., ApiAnswer], deliver: Deliver, registry: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    issue_token("mallory")  # a token for the attacker's own account; the device then names the victim

    answer = deliver(webhook_event(apple_auth("tu-apple", SUBJECT, created_at=time.time())))

    assert answer.status == 200
    assert listed(registry) == []
    assert listed(registry, "mallory") == []
    assert emitted_metrics(capsys.readouterr().out)["SdkConnectionsUnverified"] == 1


def test_an_sdk_connection_made_long_after_the_token_expired_is_kept_out(
    issue_token: Callable[..., ApiAnswer], deliver: Deliver, registry: Any
) -> None:
    issue_token()

    deliver(webhook_event(apple_auth("tu-apple", SUBJECT, created_at=time.time() + 600)))

    assert listed(registry) == []


def test_a_redelivery_signed_later_is_judged_by_when_terra_created_the_user(
    issue_token: Callable[..., ApiAnswer], deliver: Deliver, registry: Any
) -> None:
    issue_token()
    event = apple_auth("tu-apple", SUBJECT, created_at=time.time() + 10)

    deliver(webhook_event(event, timestamp=int(time.time()) + 250))  # re-signed well after the window

    assert listed(registry) == [("tu-apple", "APPLE")]


def test_a_later_event_naming_the_user_cannot_claim_an_unverified_sdk_connection(
    issue_token: Callable[..., ApiAnswer], deliver: Deliver, registry: Any
) -> None:
    deliver(webhook_event(apple_auth("tu-apple", SUBJECT, created_at=time.time())))
    issue_token()  # too late: this token was not issued when the connection was made

    permission = {"type": "permission_change", "user": apple_auth("tu-apple", SUBJECT, time.time() - 600)["user"]}
    deliver(webhook_event({**permission, "status": "warning", "message": "m", "version": "1", "scopes_added": "x"}))

    assert listed(registry) == []


def permission_change(user_id: str, reference_id: str, created_at: float | None = None) -> dict[str, Any]:
    user = apple_auth(user_id, reference_id, created_at)["user"]
    return {"type": "permission_change", "user": user, "status": "warning", "message": "m", "scopes_added": "x"}


def sync_answer(invoke: Callable[..., ApiAnswer], terra: responses.RequestsMock, *users: dict[str, Any]) -> ApiAnswer:
    """POST /v1/connections/sync, with Terra listing these users under the caller."""
    terra.get(USER_INFO, match=[responses.matchers.query_param_matcher({"reference_id": SUBJECT})], json=list(users))
    return invoke(api_event(method="POST", path="/v1/connections/sync"))


def test_a_connection_terra_gives_no_creation_time_is_judged_by_its_first_signed_time_once(
    issue_token: Callable[..., ApiAnswer],
    invoke: Callable[..., ApiAnswer],
    deliver: Deliver,
    terra: responses.RequestsMock,
    registry: Any,
) -> None:
    """Terra's schema allows `created_at: null`. Bob's device names alice while she holds no token: kept out. Her
    token afterwards, a later event about that Terra user, her own sync: none of them makes it hers."""
    deliver(webhook_event(apple_auth("tu-apple", SUBJECT)))  # created_at: null
    issue_token()

    deliver(webhook_event(permission_change("tu-apple", SUBJECT), timestamp=int(time.time()) + 5))
    synced = sync_answer(invoke, terra, {**terra_user("tu-apple", "APPLE", SUBJECT), "created_at": None})

    assert synced.json["connections"] == []
    assert listed(registry) == []


def test_a_connection_kept_out_is_not_judged_again_when_a_token_appears_later(
    issue_token: Callable[..., ApiAnswer],
    invoke: Callable[..., ApiAnswer],
    deliver: Deliver,
    terra: responses.RequestsMock,
    registry: Any,
) -> None:
    """Created 3 s before alice's first token and reported before she had it: kept out, and it stays out."""
    created = time.time() - 3
    deliver(webhook_event(apple_auth("tu-apple", SUBJECT, created_at=created)))
    issue_token()

    event = apple_auth("tu-apple", SUBJECT, created_at=created)
    deliver(webhook_event(event, timestamp=int(time.time()) + 1, trace_id="redelivered"))
    user = apple_auth("tu-apple", SUBJECT, created_at=created)["user"]
    synced = sync_answer(invoke, terra, user)

    assert synced.json["connections"] == []
    assert listed(registry) == []


def test_a_kept_out_connection_is_never_the_victims_last_attempt(
    invoke: Callable[..., ApiAnswer], deliver: Deliver, registry: Any
) -> None:
    deliver(webhook_event(apple_auth("tu-apple", SUBJECT, created_at=time.time())))  # no token for alice

    answer = invoke(api_event(method="GET", path="/v1/connections"))

    assert answer.json == {"connections": [], "last_attempt": None}
    assert registry.last_attempt(SUBJECT) is None


def earlier_layout_record(stores: Any, owner: str | None, created_at: float) -> None:
    """The Terra user's record as the previous version of the registry wrote it: no binding kept with it."""
    stamp = int(created_at * 1000)
    user = TerraUser("tu-apple", "APPLE", owner, ("activity",), True, stamp)
    record = seen_alive(user, stamp, ConnectionStatus.CONNECTED)
    assert record.binding is None
    assert stores.records.save_user(StoredUser(record, record.standing(), 1), None, None)
    if owner is None:  # kept out then: an unverified claim for the app user it named
        stores.sdk_tokens.record_unverified(SUBJECT, "tu-apple", "APPLE", stamp)


def test_a_connection_an_earlier_version_kept_out_stays_out(
    issue_token: Callable[..., ApiAnswer], deliver: Deliver, registry: Any, stores: Any
) -> None:
    created = time.time() - 3
    earlier_layout_record(stores, None, created)
    issue_token()  # a token Terra's created_at falls next to: it came too late, as the unverified claim says

    deliver(webhook_event(permission_change("tu-apple", SUBJECT, created_at=created)))

    assert listed(registry) == []


def test_an_owner_an_earlier_version_verified_stays_after_its_token_records_expired(
    deliver: Deliver, registry: Any, stores: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    earlier_layout_record(stores, SUBJECT, time.time() - 3 * 86_400)  # no token record is kept that long

    deliver(webhook_event(permission_change("tu-apple", SUBJECT)))

    assert listed(registry) == [("tu-apple", "APPLE")]
    assert "SdkConnectionsUnverified" not in emitted_metrics(capsys.readouterr().out)


def test_cloud_providers_need_no_token(deliver: Deliver, registry: Any) -> None:
    deliver(webhook_event({"type": "auth", "status": "success", "user": terra_user("tu-garmin")}))

    assert listed(registry) == [("tu-garmin", "GARMIN")]


def test_a_sync_applies_the_same_rule(
    invoke: Callable[..., ApiAnswer], terra: responses.RequestsMock, registry: Any
) -> None:
    created = datetime.now(UTC).isoformat()
    terra.get(
        "https://api.tryterra.co/v2/userInfo",
        json=[{**terra_user("tu-apple", "APPLE", SUBJECT), "created_at": created}],
    )

    answer = invoke(api_event(method="POST", path="/v1/connections/sync"))

    assert answer.json["connections"] == []
    assert listed(registry) == []
