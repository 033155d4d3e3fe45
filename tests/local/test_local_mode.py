"""Local mode: the whole product behind the local gateway, with real tokens - and none of it ships."""

import json
import re
import socket
import threading
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
import requests
from local.aws import PortInUse
from local.dev import LOCAL_PASSWORD, DevStack, dev_stack, main, next_steps
from local.streams import LocalStreamTrigger

from tests.support.builders import ROOT, free_port


def test_local_mode_is_not_part_of_the_lambda_artifact() -> None:
    sources = "\n".join(path.read_text() for path in (ROOT / "functions").rglob("*.py"))

    assert not re.search(r"^\s*(from|import) (local|tooling)\b", sources, re.MULTILINE)
    assert not (ROOT / "functions" / "local").exists()
    assert not (ROOT / "functions" / "tooling").exists()


@pytest.fixture
def stack() -> Iterator[DevStack]:
    # Backfills off: these flows are the registry's and its events' (tests/local/test_local_data.py runs backfills),
    # and a new connection's backfill would fill the functions' shared turn with the ingest function's batches.
    with dev_stack(0, quiet=True, parameters={"BackfillDays": "0"}) as running:
        yield running


def test_the_whole_flow_works_over_http_without_a_browser(stack: DevStack) -> None:
    headers = stack.bearer("dora")
    widget = requests.post(f"{stack.api_url}/v1/widget-sessions", headers=headers, timeout=10).json()["url"]

    landed = requests.get(widget + "/connect?provider=GARMIN", timeout=10)

    assert landed.url.startswith(f"{stack.api_url}/dev/connected?")
    listed = requests.get(f"{stack.api_url}/v1/connections", headers=headers, timeout=10).json()["connections"]
    assert [(c["provider"], c["status"]) for c in listed] == [("GARMIN", "connected")]
    assert stack.terra is not None
    terra_user_id = listed[0]["terra_user_id"]

    reauthed = stack.terra.reauth(terra_user_id)
    listed = requests.get(f"{stack.api_url}/v1/connections", headers=headers, timeout=10).json()["connections"]
    assert [c["terra_user_id"] for c in listed] == [reauthed.user_id]

    deleted = requests.delete(f"{stack.api_url}/v1/connections/{reauthed.user_id}", headers=headers, timeout=10)
    assert deleted.status_code == 204
    assert requests.get(f"{stack.api_url}/v1/connections", headers=headers, timeout=10).json()["connections"] == []


def test_the_custom_ui_path_works_end_to_end(stack: DevStack) -> None:
    headers = stack.bearer("erin")
    answer = requests.post(f"{stack.api_url}/v1/connections/WHOOP/auth-url", headers=headers, timeout=10)
    assert answer.status_code == 201

    landed = requests.get(answer.json()["auth_url"] + "/authorize", timeout=10)

    assert landed.url.startswith(f"{stack.api_url}/dev/connected?")
    listed = requests.get(f"{stack.api_url}/v1/connections", headers=headers, timeout=10).json()["connections"]
    assert [(c["provider"], c["terra_user_id"]) for c in listed] == [("WHOOP", answer.json()["terra_user_id"])]


def test_the_token_command_prints_a_token_the_running_stack_accepts_as_its_last_line(
    stack: DevStack, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PORT", stack.api_url.rsplit(":", 1)[1])
    assert main(["token", "bob"]) == 0

    last_line = capsys.readouterr().out.strip().splitlines()[-1]
    headers = {"Authorization": f"Bearer {last_line}"}
    assert requests.get(f"{stack.api_url}/v1/connections", headers=headers, timeout=10).status_code == 200


def test_the_token_command_says_when_no_stack_runs(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PORT", str(free_port()))

    assert main(["token", "bob"]) == 1
    assert "make dev" in capsys.readouterr().err


def test_the_printed_next_steps_work_as_written(stack: DevStack) -> None:
    steps = next_steps(stack)
    token = re.search(r"Bearer ([\w.-]+)'", steps)
    assert token is not None
    assert f"curl -s -X POST {stack.api_url}/v1/widget-sessions" in steps

    answer = requests.post(
        f"{stack.api_url}/v1/widget-sessions",
        headers={"Authorization": f"Bearer {token.group(1)}"},
        json={"providers": ["GARMIN", "OURA"]},
        timeout=10,
    )

    assert answer.status_code == 201


def app_sign_in(
    cognito_endpoint: str, client_id: str, username: str, password: str = LOCAL_PASSWORD
) -> requests.Response:
    """What a mobile Cognito SDK sends to sign a user in: an unsigned InitiateAuth, USER_PASSWORD_AUTH."""
    return requests.post(
        cognito_endpoint + "/",
        headers={
            "Content-Type": "application/x-amz-json-1.1",
            "X-Amz-Target": "AWSCognitoIdentityProviderService.InitiateAuth",
        },
        data=json.dumps(
            {
                "AuthFlow": "USER_PASSWORD_AUTH",
                "ClientId": client_id,
                "AuthParameters": {"USERNAME": username, "PASSWORD": password},
            }
        ),
        timeout=10,
    )


def test_an_app_signs_in_itself_with_what_make_dev_prints_and_the_ids_survive_a_restart() -> None:
    with dev_stack(0, quiet=True) as first:
        aws_port = int(first.aws_endpoint.rsplit(":", 1)[1])
        printed = next_steps(first)
        first.token("gina")  # make token creates the user
        answer = app_sign_in(f"http://127.0.0.1:{aws_port}", first.identity.client_id, "gina")
        tokens = answer.json()["AuthenticationResult"]
        # The stack's authorizer takes the access token only (its scope), as the deployed one does.
        for kind, status in (("AccessToken", 200), ("IdToken", 403)):
            headers = {"Authorization": f"Bearer {tokens[kind]}"}
            assert requests.get(f"{first.api_url}/v1/connections", headers=headers, timeout=10).status_code == status
        wrong_password = app_sign_in(f"http://127.0.0.1:{aws_port}", first.identity.client_id, "gina", "not-it")
        assert wrong_password.status_code == 400
        ids = (first.identity.pool_id, first.identity.client_id)
    for printed_value in (f"http://127.0.0.1:{aws_port}", *ids):
        assert printed_value in printed
    with dev_stack(0, aws_port=aws_port, quiet=True) as second:
        assert (second.identity.pool_id, second.identity.client_id) == ids


def test_the_sync_repairs_a_webhook_terra_never_delivered(stack: DevStack) -> None:
    assert stack.terra is not None
    headers = stack.bearer("fay")
    widget = requests.post(f"{stack.api_url}/v1/widget-sessions", headers=headers, timeout=10).json()["url"]
    requests.post(f"{stack.terra.base_url}/_simulator/webhooks", json={"drop": True}, timeout=10)

    requests.get(widget + "/connect?provider=OURA", timeout=10)

    assert requests.get(f"{stack.api_url}/v1/connections", headers=headers, timeout=10).json()["connections"] == []
    synced = requests.post(f"{stack.api_url}/v1/connections/sync", headers=headers, timeout=10)
    assert synced.headers["Sync-Status"] == "performed"
    assert [c["provider"] for c in synced.json()["connections"]] == ["OURA"]
    assert [event["type"] for event in stack.terra.dropped] == ["auth"]


def test_the_reconciliation_runs_on_demand_and_removes_what_terra_deleted_silently(stack: DevStack) -> None:
    assert stack.terra is not None
    headers = stack.bearer("gus")
    widget = requests.post(f"{stack.api_url}/v1/widget-sessions", headers=headers, timeout=10).json()["url"]
    requests.get(widget + "/connect?provider=POLAR", timeout=10)
    (connection,) = requests.get(f"{stack.api_url}/v1/connections", headers=headers, timeout=10).json()["connections"]
    stack.terra.forget(connection["terra_user_id"])

    report = requests.post(f"{stack.api_url}/dev/reconcile", timeout=30).json()

    assert report["finished"] is True
    assert requests.get(f"{stack.api_url}/v1/connections", headers=headers, timeout=10).json()["connections"] == []


def test_apple_health_through_the_sdk_is_listed_only_for_the_user_the_token_was_issued_to(stack: DevStack) -> None:
    assert stack.terra is not None
    hana = stack.bearer("hana")
    token = requests.post(f"{stack.api_url}/v1/sdk-tokens", headers=hana, timeout=10).json()
    assert token["reference_id"] == stack.identity.subject("hana")

    honest = requests.get(
        f"{stack.terra.base_url}/sdk/connect",
        params={"token": token["token"], "reference_id": token["reference_id"], "provider": "APPLE"},
        timeout=10,
    )
    second = requests.post(f"{stack.api_url}/v1/sdk-tokens", headers=hana, timeout=10).json()
    forged = requests.get(
        f"{stack.terra.base_url}/sdk/connect",
        params={"token": second["token"], "reference_id": stack.identity.subject("ivan"), "provider": "APPLE"},
        timeout=10,
    )

    assert (honest.status_code, forged.status_code) == (200, 200)
    synced = requests.post(f"{stack.api_url}/v1/connections/sync", headers=hana, timeout=10).json()
    assert [c["provider"] for c in synced["connections"]] == ["APPLE"]
    ivan = stack.bearer("ivan")
    assert requests.post(f"{stack.api_url}/v1/connections/sync", headers=ivan, timeout=10).json()["connections"] == []


def test_a_widget_endpoint_on_another_published_path_is_found(stack: DevStack) -> None:
    assert stack.terra is not None
    requests.post(
        f"{stack.terra.base_url}/_simulator/missing-widget-paths", json={"paths": ["/api/widget/session"]}, timeout=10
    )
    headers = stack.bearer("jo")

    answers = [requests.post(f"{stack.api_url}/v1/widget-sessions", headers=headers, timeout=10) for _ in range(2)]

    assert [answer.status_code for answer in answers] == [201, 201]
    tried = [r.path for r in stack.terra.requests if r.method == "POST" and "session" in r.path]
    assert tried == ["/api/widget/session", "/widget/api/session", "/widget/api/session"]


def test_the_providers_list_comes_from_terras_integrations(stack: DevStack) -> None:
    headers = stack.bearer("kim")

    answer = requests.get(f"{stack.api_url}/v1/providers", headers=headers, timeout=10).json()

    assert "GARMIN" in answer["providers"]
    assert answer["sdk_providers"] == ["APPLE", "SAMSUNG", "HEALTH_CONNECT"]


DATA_EVENTS = frozenset({"Wearable Data Received", "Wearable Backfill Completed"})


def lifecycle_events(stack: DevStack) -> list[dict[str, Any]]:
    """What the local queue behind the bus's rule holds: every event published, as EventBridge delivered it."""
    sqs = boto3.client(
        "sqs",
        endpoint_url=stack.aws_endpoint,
        region_name="us-east-1",
        aws_access_key_id="offline",
        aws_secret_access_key="offline",
    )
    received: list[dict[str, Any]] = []
    while batch := sqs.receive_message(QueueUrl=stack.events_queue_url, MaxNumberOfMessages=10).get("Messages", []):
        received += [json.loads(message["Body"]) for message in batch]
        for message in batch:
            sqs.delete_message(QueueUrl=stack.events_queue_url, ReceiptHandle=message["ReceiptHandle"])
    return received


def test_each_lifecycle_event_reaches_a_local_queue_and_an_erasure_is_told_once(stack: DevStack) -> None:
    """Erasing several wearables while Terra's deauth webhooks wait for the API function to finish its turn."""
    headers = stack.bearer("fay")
    for provider in ("OURA", "GARMIN", "WHOOP"):
        widget = requests.post(f"{stack.api_url}/v1/widget-sessions", headers=headers, timeout=10).json()["url"]
        requests.get(widget + f"/connect?provider={provider}", timeout=10)
    stack.stream.drain()  # what the trigger's thread does every 0.1 s, without waiting for it

    # Only the lifecycle events count here (with backfills on, a new connection's backfill publishes too).
    connected = [e for e in lifecycle_events(stack) if e["detail-type"] not in DATA_EVENTS]
    erased = requests.delete(f"{stack.api_url}/v1/connections", headers=headers, timeout=10)
    stack.stream.drain()
    after = [e for e in lifecycle_events(stack) if e["detail-type"] not in DATA_EVENTS]

    subject = stack.identity.subject("fay")
    assert sorted((e["detail-type"], e["detail"]["reference_id"], e["detail"]["provider"]) for e in connected) == [
        ("Wearable Connected", subject, provider) for provider in ("GARMIN", "OURA", "WHOOP")
    ]
    assert erased.status_code == 204
    assert [(e["source"], e["detail-type"], e["detail"]["status"]) for e in after] == [
        ("terra-connect", "User Erased", "erased")
    ]
    assert [kind for kind, _ in stack.stream.published] == ["Wearable Connected"] * 3 + ["User Erased"]
    assert requests.get(f"{stack.api_url}/v1/connections", headers=headers, timeout=10).json() == {
        "connections": [],
        "last_attempt": None,
    }


def test_the_local_bus_and_rule_match_what_the_functions_publish() -> None:
    from local.aws import EVENT_BUS, EVENT_SOURCE  # noqa: PLC0415

    from terra_connect.lifecycle_events.events import SOURCE  # noqa: PLC0415

    assert EVENT_SOURCE == SOURCE
    assert json.loads((ROOT / "events" / "env.json").read_text())["EventsFunction"]["EVENT_BUS_NAME"] == EVENT_BUS


def test_a_taken_port_is_refused_with_a_message_and_nothing_else_starts(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        monkeypatch.setenv("PORT", str(port))

        with pytest.raises(PortInUse, match=f"127.0.0.1:{port} is in use"), dev_stack(port, quiet=True):
            pass
        assert main([]) == 1

    assert "PORT=3100 AWS_PORT=3101 make dev" in capsys.readouterr().err


class _HeldFunction:
    """An events function whose invocation waits until the test lets it finish."""

    def __init__(self) -> None:
        self.entered, self.release = threading.Event(), threading.Event()
        self.invocations = 0

    def invoke(self, event: dict[str, Any]) -> dict[str, Any]:
        self.invocations += 1
        self.entered.set()
        self.release.wait(timeout=10)
        return {"batchItemFailures": []}


def test_the_stream_trigger_stops_only_after_the_batch_under_way_and_hands_over_nothing_later() -> None:
    function = _HeldFunction()

    class OneRecord(LocalStreamTrigger):
        def records(self, start: int, count: int) -> list[dict[str, Any]]:
            return [{"eventName": "INSERT", "dynamodb": {"SequenceNumber": "1"}}] if start == 0 else []

    trigger = OneRecord("table", function, interval=0.001).start()  # type: ignore[arg-type]
    assert function.entered.wait(timeout=10)
    stopping = threading.Thread(target=trigger.stop)
    stopping.start()

    stopping.join(timeout=0.05)
    assert stopping.is_alive()  # the batch is still with the function
    function.release.set()
    stopping.join(timeout=10)

    assert not stopping.is_alive()
    assert (function.invocations, trigger.position) == (1, 1)
