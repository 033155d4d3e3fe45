"""Each function calls DynamoDB only with the actions its role in template.yaml grants: the calls its real handler
makes on the paths that write most (erasure markers and claims, SDK verdicts, reauth rules, a failed sync), each
item of a TransactWriteItems counted as the action IAM checks for it. moto grants everything, so without this a
call a role refuses would only show in a real account."""

import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
import responses
from botocore.client import BaseClient
from tooling.template import policy_statements

from terra_connect.connections.table_client import ConnectionsTable
from terra_connect.entrypoints.shared import RegistryStores
from tests.support.builders import SUBJECT, ApiAnswer, api_event, terra_user, webhook_event

USER_INFO = "https://api.tryterra.co/v2/userInfo"
BULK_USER_INFO = "https://api.tryterra.co/v2/bulkUserInfo"
DEAUTH_URL = "https://api.tryterra.co/v2/auth/deauthenticateUser"
# What IAM checks for each item of a TransactWriteItems.
TRANSACT_ITEMS = {
    "Put": "dynamodb:PutItem",
    "Update": "dynamodb:UpdateItem",
    "Delete": "dynamodb:DeleteItem",
    "ConditionCheck": "dynamodb:ConditionCheckItem",
}


def granted(function: str) -> set[str]:
    """The actions of every statement, those a condition adds (`!If [cond, statement, AWS::NoValue]`) included."""
    statements = [
        branch
        for statement in policy_statements(function)
        for branch in (statement["Fn::If"][1:] if "Fn::If" in statement else [statement])
        if "Action" in branch
    ]
    actions = (s["Action"] for s in statements)
    return {action for action in actions for action in ([action] if isinstance(action, str) else action)}


@pytest.fixture
def dynamodb_actions(settings_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> set[str]:
    """The IAM actions of every DynamoDB call made from here on."""
    actions: set[str] = set()
    original = BaseClient.__dict__["_make_api_call"]

    def recording(client: BaseClient, operation: str, params: dict[str, Any]) -> Any:
        if client.meta.service_model.service_name == "dynamodb":
            if operation == "TransactWriteItems":
                actions.update(TRANSACT_ITEMS[kind] for item in params["TransactItems"] for kind in item)
            else:
                actions.add(f"dynamodb:{operation}")
        return original(client, operation, params)

    monkeypatch.setattr(BaseClient, "_make_api_call", recording)
    return actions


def auth(user_id: str, provider: str = "GARMIN", sent: int | None = None) -> dict[str, Any]:
    return webhook_event({"type": "auth", "status": "success", "user": terra_user(user_id, provider)}, timestamp=sent)


def test_the_webhook_function_calls_only_what_its_role_allows(
    deliver: Callable[[dict[str, Any]], ApiAnswer], settings_env: dict[str, str], dynamodb_actions: set[str]
) -> None:
    store = RegistryStores.over(ConnectionsTable(settings_env["CONNECTIONS_TABLE"], retention=timedelta(days=1)))
    now = int(time.time())
    deliver(auth("tu-1", sent=now - 10))
    deliver(auth("tu-apple", "APPLE"))  # no token: kept out, recorded as unverified
    unnamed = {"type": "user_reauth", "new_user": terra_user("tu-2"), "old_user": None, "status": "warning"}
    deliver(webhook_event(unnamed))
    cancelled = {"type": "auth_cancelled", "status": "error", "reason": "cancelled", "reference_id": SUBJECT}
    deliver(webhook_event(cancelled))
    store.erasures.mark_erased(SUBJECT, now * 1000)  # an erasure under way
    deliver(auth("tu-3", sent=now - 5))  # from before it: refused and claimed

    assert store.erasures.erasure_claims(SUBJECT) == {"tu-3"}
    assert dynamodb_actions <= granted("WebhookFunction"), dynamodb_actions - granted("WebhookFunction")


def test_the_api_function_calls_only_what_its_role_allows(
    invoke: Callable[..., ApiAnswer],
    deliver: Callable[[dict[str, Any]], ApiAnswer],
    terra: responses.RequestsMock,
    dynamodb_actions: set[str],
) -> None:
    terra.get(USER_INFO, status=503, json={"status": "error", "message": "down"})
    assert invoke(api_event(method="POST", path="/v1/connections/sync")).status == 503  # releases its claim
    deliver(auth("tu-1"))
    terra.replace(responses.GET, USER_INFO, json=[terra_user("tu-1")])
    terra.post(BULK_USER_INFO, json=[])
    terra.delete(DEAUTH_URL, json={"status": "success"})

    assert invoke(api_event(method="DELETE", path="/v1/connections")).status == 204

    assert dynamodb_actions <= granted("ApiFunction"), dynamodb_actions - granted("ApiFunction")


def test_the_reconciliation_function_calls_only_what_its_role_allows(
    reconcile: Callable[[dict[str, Any]], dict[str, Any]],
    deliver: Callable[[dict[str, Any]], ApiAnswer],
    terra: responses.RequestsMock,
    dynamodb_actions: set[str],
) -> None:
    deliver(auth("tu-1"))
    terra.get(USER_INFO, json=[terra_user("tu-1")])
    terra.post(BULK_USER_INFO, json=[])
    terra.delete(DEAUTH_URL, json={"status": "success"})

    answer = reconcile({"erase": {"reference_id": SUBJECT}})

    assert answer["erased"] is True
    assert dynamodb_actions <= granted("ReconcileFunction"), dynamodb_actions - granted("ReconcileFunction")
