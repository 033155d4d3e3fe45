"""Signed Terra webhooks: only authentic deliveries change the registry; replays and late events change nothing."""

import time
from collections.abc import Callable
from typing import Any

import boto3
import pytest
from local.signing import terra_signature

from terra_connect.kernel.deadline import Deadline
from terra_connect.kernel.errors import InvalidSignature
from terra_connect.webhooks.signatures import verify_signature
from tests.support.builders import SIGNING_SECRET, SUBJECT, ApiAnswer, AwsCalls, terra_user, webhook_event

Deliver = Callable[[dict[str, Any]], ApiAnswer]
AUTH = {"type": "auth", "status": "success", "user": terra_user("tu-1"), "reference_id": SUBJECT}


def statuses(registry: Any, reference_id: str = SUBJECT) -> dict[str, str]:
    """Every Terra user the app user has or had: live ones as listed, the others as their history says."""
    live = {c.terra_user_id: c.status.value for c in registry.connections(reference_id, Deadline.after(10))}
    gone = {h.terra_user_id: h.status.value for h in registry.history(reference_id)}
    return gone | live


# --- signature vectors -----------------------------------------------------------------------------------


def test_a_valid_signature_is_accepted(deliver: Deliver, registry: Any) -> None:
    answer = deliver(webhook_event(AUTH))

    assert answer.status == 200
    assert statuses(registry) == {"tu-1": "connected"}


@pytest.mark.parametrize("header", ["terra-signature", "X-Terra-Signature", "TERRA-SIGNATURE"])
def test_either_header_name_is_read_case_insensitively(deliver: Deliver, header: str) -> None:
    assert deliver(webhook_event(AUTH, header=header)).status == 200


def test_a_base64_body_is_verified_on_its_decoded_bytes(deliver: Deliver, registry: Any) -> None:
    assert deliver(webhook_event(AUTH, base64_body=True)).status == 200
    assert statuses(registry) == {"tu-1": "connected"}


def test_several_v1_parts_pass_when_one_matches(deliver: Deliver) -> None:
    good = webhook_event(AUTH)["headers"]["terra-signature"]
    timestamp, v1 = good.split(",")
    assert deliver(webhook_event(AUTH, signature=f"{timestamp},v1={'0' * 64},{v1}")).status == 200


def _tampered() -> dict[str, Any]:
    event = webhook_event(AUTH)
    event["body"] = event["body"].replace("tu-1", "tu-2")
    return event


def _v0_only() -> dict[str, Any]:
    valid = webhook_event(AUTH)["headers"]["terra-signature"]
    return webhook_event(AUTH, signature=valid.replace("v1=", "v0="))


REJECTED: dict[str, Callable[[], dict[str, Any]]] = {
    "wrong-secret": lambda: webhook_event(AUTH, secret="not-the-signing-secret"),
    # Well past the tolerance, so a slow machine cannot bring them back inside it; the exact
    # boundary is tested on verify_signature with a fixed clock.
    "stale": lambda: webhook_event(AUTH, timestamp=int(time.time()) - 900),
    "future": lambda: webhook_event(AUTH, timestamp=int(time.time()) + 900),
    "tampered-body": _tampered,
    "missing-header": lambda: webhook_event(AUTH, header="x-other", signature="t=1,v1=00"),
    "v0-only": _v0_only,
    "no-timestamp": lambda: webhook_event(AUTH, signature="v1=" + "0" * 64),
    "garbage": lambda: webhook_event(AUTH, signature="not a signature"),
    "over-long-header": lambda: webhook_event(AUTH, signature="t=1," + "v1=ab," * 400),
}


@pytest.mark.parametrize("build", REJECTED.values(), ids=REJECTED.keys())
def test_a_bad_signature_gets_401_and_nothing_is_stored(
    deliver: Deliver,
    registry: Any,
    build: Callable[[], dict[str, Any]],
) -> None:
    answer = deliver(build())

    assert (answer.status, answer.code) == (401, "invalid_signature")
    assert statuses(registry) == {}


def test_a_rotated_signing_secret_is_read_again_once(
    deliver: Deliver,
    registry: Any,
    settings_env: dict[str, str],
    aws_calls: AwsCalls,
) -> None:
    assert deliver(webhook_event(AUTH)).status == 200  # the container caches the current signing secret
    boto3.client("secretsmanager").put_secret_value(
        SecretId=settings_env["TERRA_SECRET_ARN"],
        SecretString='{"dev_id": "d", "api_key": "k", "webhook_signing_secret": "rotated-secret"}',
    )
    aws_calls.operations.clear()

    rotated = deliver(webhook_event({**AUTH, "user": terra_user("tu-2", "OURA")}, secret="rotated-secret"))
    forged = deliver(webhook_event({**AUTH, "user": terra_user("tu-3")}, secret="forged"))

    assert rotated.status == 200
    assert forged.status == 401
    assert aws_calls.count("GetSecretValue") == 1  # forged deliveries cannot force a read per request
    assert statuses(registry) == {"tu-1": "connected", "tu-2": "connected"}


NOW = 1_795_262_400
HEALTHCHECK = b'{"type": "healthcheck"}'


@pytest.mark.parametrize("skew", [-300, 0, 300])
def test_a_signature_up_to_300_seconds_either_side_is_accepted(skew: int) -> None:
    verify_signature(terra_signature(SIGNING_SECRET, HEALTHCHECK, NOW + skew), HEALTHCHECK, SIGNING_SECRET, NOW)


@pytest.mark.parametrize("skew", [-301, 301])
def test_a_signature_beyond_300_seconds_is_refused(skew: int) -> None:
    with pytest.raises(InvalidSignature):
        verify_signature(terra_signature(SIGNING_SECRET, HEALTHCHECK, NOW + skew), HEALTHCHECK, SIGNING_SECRET, NOW)


# --- events ----------------------------------------------------------------------------------------------


def test_auth_success_records_the_connection(deliver: Deliver, registry: Any) -> None:
    deliver(webhook_event(AUTH))

    (connection,) = registry.connections(SUBJECT, Deadline.after(10))
    assert (connection.provider, connection.status.value, connection.scopes) == (
        "GARMIN",
        "connected",
        ("activity", "sleep"),
    )
    assert registry.last_attempt(SUBJECT).status == "success"


@pytest.mark.parametrize(
    "failure",
    [
        {"type": "auth", "status": "error", "reason": "user_denied", "reference_id": SUBJECT},
        {"type": "auth_cancelled", "status": "error", "reason": "cancelled", "reference_id": SUBJECT},
    ],
    ids=["legacy-auth-error", "auth-cancelled"],
)
def test_an_auth_failure_is_recorded_as_the_last_attempt(
    deliver: Deliver,
    registry: Any,
    failure: dict[str, Any],
) -> None:
    assert deliver(webhook_event(failure)).status == 200

    attempt = registry.last_attempt(SUBJECT)
    assert (attempt.status, attempt.reason) == ("error", failure["reason"])
    assert statuses(registry) == {}


def test_user_reauth_replaces_the_old_terra_user(deliver: Deliver, registry: Any) -> None:
    deliver(webhook_event(AUTH))
    deliver(webhook_event({"type": "user_reauth", "old_user": terra_user("tu-1"), "new_user": terra_user("tu-9")}))

    assert statuses(registry) == {"tu-1": "replaced", "tu-9": "connected"}


@pytest.mark.parametrize(("event_type", "status"), [("deauth", "disconnected"), ("access_revoked", "disconnected")])
def test_deauth_and_revocation_disconnect(deliver: Deliver, registry: Any, event_type: str, status: str) -> None:
    deliver(webhook_event(AUTH))
    deliver(webhook_event({"type": event_type, "user": terra_user("tu-1")}))

    assert statuses(registry) == {"tu-1": status}


def test_connection_error_asks_for_reauth_and_a_later_auth_clears_it(deliver: Deliver, registry: Any) -> None:
    now = int(time.time())
    deliver(webhook_event(AUTH, timestamp=now - 2))
    deliver(webhook_event({"type": "connection_error", "user": terra_user("tu-1")}, timestamp=now - 1))
    assert statuses(registry) == {"tu-1": "needs_reauth"}

    deliver(webhook_event(AUTH, timestamp=now))
    assert statuses(registry) == {"tu-1": "connected"}


def test_an_auth_sent_before_the_connection_error_does_not_clear_it(deliver: Deliver, registry: Any) -> None:
    now = int(time.time())
    deliver(webhook_event({"type": "connection_error", "user": terra_user("tu-1")}, timestamp=now))
    deliver(webhook_event(AUTH, timestamp=now - 5))  # delivered late

    assert statuses(registry) == {"tu-1": "needs_reauth"}


@pytest.mark.parametrize("header", ["x-terra-ordering-timestamp", "X-Terra-Ordering-Timestamp"])
def test_the_ordering_timestamp_orders_two_events_signed_in_the_same_second(
    deliver: Deliver, registry: Any, header: str
) -> None:
    now = int(time.time())
    error = {"type": "connection_error", "user": terra_user("tu-1")}
    later, earlier = webhook_event(AUTH, timestamp=now), webhook_event(error, timestamp=now)
    later["headers"][header], earlier["headers"][header] = str(now * 1000 + 900), str(now * 1000 + 100)

    deliver(later)
    deliver(earlier)  # delivered last, emitted first

    assert statuses(registry) == {"tu-1": "connected"}


ABSURD_ORDERING = {
    "not-a-number": "soon",
    "negative": "-1",
    "fraction": "1795000000000.5",
    "exponent": "1e12",
    "two-values": "1795000000000,1795000000001",
    "non-ascii-digits": "١٧٩٥",
    "huge": "9" * 40,
}


@pytest.mark.parametrize("value", ABSURD_ORDERING.values(), ids=ABSURD_ORDERING.keys())
def test_an_unreadable_ordering_timestamp_falls_back_to_the_signature(
    deliver: Deliver, registry: Any, value: str
) -> None:
    now = int(time.time())
    deliver(webhook_event({"type": "connection_error", "user": terra_user("tu-1")}, timestamp=now))

    assert deliver(webhook_event(AUTH, timestamp=now + 1, ordering=value)).status == 200

    assert statuses(registry) == {"tu-1": "connected"}  # the auth, signed later, is later


def test_an_ordering_timestamp_after_its_signature_cannot_make_a_replay_look_newer(
    deliver: Deliver, registry: Any
) -> None:
    """The header is not signed: a captured delivery replayed within the signature's tolerance with a fresh
    header must not outrank what Terra sent after it. Terra stamps it when it emits the event, before it signs."""
    now = int(time.time())
    deliver(webhook_event({"type": "connection_error", "user": terra_user("tu-1")}, timestamp=now))

    deliver(webhook_event(AUTH, timestamp=now - 5, ordering=str((now + 60) * 1000)))

    assert statuses(registry) == {"tu-1": "needs_reauth"}


def test_an_ordering_timestamp_older_than_terra_retries_falls_back_to_the_signature(
    deliver: Deliver, registry: Any
) -> None:
    now = int(time.time())
    deliver(webhook_event({"type": "connection_error", "user": terra_user("tu-1")}, timestamp=now))

    deliver(webhook_event(AUTH, timestamp=now + 1, ordering=str((now - 13 * 3600) * 1000)))

    assert statuses(registry) == {"tu-1": "connected"}


@pytest.mark.parametrize(("offset", "kept"), [(0, "success"), (1, "success"), (-1, "error")])
def test_an_attempt_stored_before_milliseconds_were_kept_is_still_ordered_by_its_second(
    deliver: Deliver, registry: Any, settings_env: dict[str, str], offset: int, kept: str
) -> None:
    """An attempt item of the earlier layout orders by whole seconds; it stands for the start of its second."""
    now = int(time.time())
    separator = "\x00"
    boto3.client("dynamodb").put_item(
        TableName=settings_env["CONNECTIONS_TABLE"],
        Item={
            "pk": {"S": f"owner#{SUBJECT}"},
            "sk": {"S": "attempt"},
            "status": {"S": "error"},
            "order": {"S": separator.join((f"{now:012d}", "error", "GARMIN", "denied"))},
            "provider": {"S": "GARMIN"},
            "reason": {"S": "denied"},
            "at": {"N": str(now)},
        },
    )

    deliver(webhook_event(AUTH, timestamp=now + offset, ordering=str((now + offset) * 1000 + 250)))

    assert registry.last_attempt(SUBJECT).status == kept


def test_permission_change_updates_scopes(deliver: Deliver, registry: Any) -> None:
    deliver(webhook_event(AUTH))
    deliver(
        webhook_event(
            {
                "type": "permission_change",
                "user": terra_user("tu-1"),
                "scopes_added": "heart",
                "scopes_removed": "sleep",
            }
        )
    )

    (connection,) = registry.connections(SUBJECT, Deadline.after(10))
    assert connection.scopes == ("activity", "heart")


def test_events_without_a_reference_id_are_matched_by_terra_user(deliver: Deliver, registry: Any) -> None:
    deliver(webhook_event(AUTH))
    deliver(webhook_event({"type": "deauth", "user": terra_user("tu-1", reference_id=None)}))

    assert statuses(registry) == {"tu-1": "disconnected"}


@pytest.mark.parametrize("event_type", ["healthcheck", "activity", "sleep", "daily", "something_new"])
def test_other_event_types_are_acknowledged_and_ignored(deliver: Deliver, registry: Any, event_type: str) -> None:
    answer = deliver(webhook_event({"type": event_type, "user": terra_user("tu-1"), "data": [{"x": 1}]}))

    assert answer.status == 200
    assert statuses(registry) == {}


def test_an_authentic_but_malformed_event_is_acknowledged(deliver: Deliver, registry: Any) -> None:
    assert deliver(webhook_event({"type": "auth", "status": "success", "user": "nonsense"})).status == 200
    assert statuses(registry) == {}


def test_an_authentic_body_that_is_not_json_gets_400(deliver: Deliver) -> None:
    answer = deliver(webhook_event(b"not json"))

    assert (answer.status, answer.code) == (400, "malformed_body")


# --- replays and order -----------------------------------------------------------------------------------


def test_a_redelivery_with_the_same_trace_id_changes_nothing(deliver: Deliver, registry: Any) -> None:
    deliver(webhook_event(AUTH, trace_id="trace-1"))
    deliver(webhook_event({"type": "deauth", "user": terra_user("tu-1")}, trace_id="trace-2"))

    again = deliver(webhook_event(AUTH, trace_id="trace-1"))

    assert again.status == 200
    assert statuses(registry) == {"tu-1": "disconnected"}


def test_a_late_auth_cannot_resurrect_a_disconnected_user(deliver: Deliver, registry: Any) -> None:
    deliver(webhook_event({"type": "deauth", "user": terra_user("tu-1")}))  # arrives first
    deliver(webhook_event(AUTH))  # the older auth, delivered late (a retry has no trace id to match)

    assert statuses(registry) == {"tu-1": "disconnected"}


def test_a_late_auth_cannot_resurrect_a_replaced_user(deliver: Deliver, registry: Any) -> None:
    deliver(webhook_event({"type": "user_reauth", "old_user": terra_user("tu-1"), "new_user": terra_user("tu-9")}))
    deliver(webhook_event(AUTH))

    assert statuses(registry) == {"tu-1": "replaced", "tu-9": "connected"}


def test_replaying_every_event_twice_gives_the_same_registry(deliver: Deliver, registry: Any) -> None:
    sequence = [
        AUTH,
        {"type": "auth", "status": "success", "user": terra_user("tu-2", "OURA"), "reference_id": SUBJECT},
        {"type": "connection_error", "user": terra_user("tu-2", "OURA")},
        {"type": "user_reauth", "old_user": terra_user("tu-1"), "new_user": terra_user("tu-3")},
    ]
    for event in sequence:
        deliver(webhook_event(event))
    once = statuses(registry)
    for event in sequence:
        deliver(webhook_event(event))

    assert statuses(registry) == once == {"tu-1": "replaced", "tu-2": "needs_reauth", "tu-3": "connected"}
