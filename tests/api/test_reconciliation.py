"""The scheduled reconciliation function, through its handler with DynamoDB and Terra's HTTP API: it reports its
figures, converts items an earlier version of the registry stored, and resumes from its cursor across invocations."""

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
import responses

from terra_connect.kernel.deadline import Deadline
from tests.support.builders import emitted_metrics, terra_user

T = 1_795_000_000
SUBSCRIPTIONS = "https://api.tryterra.co/v2/subscriptions"
BULK = "https://api.tryterra.co/v2/bulkUserInfo"


def test_the_function_walks_terras_pages_and_reports_its_figures(
    reconcile: Callable[[], dict[str, Any]],
    terra: responses.RequestsMock,
    registry: Any,
    capsys: pytest.CaptureFixture[str],
) -> None:
    terra.get(
        SUBSCRIPTIONS,
        match=[responses.matchers.query_param_matcher({"page": "0", "per_page": "500"})],
        json={"data": {"next": 1, "max_page": 1, "results": [terra_user("tu-1", reference_id="alice")]}},
    )
    unusable = terra_user("t" * 300, reference_id="alice")
    terra.get(
        SUBSCRIPTIONS,
        match=[responses.matchers.query_param_matcher({"page": "1", "per_page": "500"})],
        json={"data": {"next": None, "max_page": 1, "results": [terra_user("tu-2", "OURA", "alice"), unusable]}},
    )

    report = reconcile()

    assert report == {"checked": 3, "repaired": 2, "failed": 1, "migrated": 0, "finished": True, "stopped_by": None}
    assert [c.terra_user_id for c in registry.connections("alice", Deadline.after(5))] == ["tu-1", "tu-2"]
    metrics = emitted_metrics(capsys.readouterr().out)
    assert metrics["ReconciliationUsersChecked"] == 3
    assert metrics["ReconciliationUsersFailed"] == 1
    assert metrics["ReconciliationUsersRepaired"] == 2
    assert metrics["ReconciliationRunsCompleted"] == 1


def test_items_of_the_first_registry_layout_are_converted(
    reconcile: Callable[[], dict[str, Any]], terra: responses.RequestsMock, registry: Any, table: str
) -> None:
    client = boto3.client("dynamodb")
    when = datetime.fromtimestamp(T, UTC).isoformat(timespec="seconds")
    old_items = [
        {"pk": "alice", "sk": "user#tu-live", "status": "connected", "provider": "GARMIN", "updated_at": when},
        {"pk": "alice", "sk": "user#tu-gone", "status": "disconnected", "provider": "OURA", "updated_at": when},
        {"pk": "alice", "sk": "attempt", "status": "error", "provider": "OURA", "reason": "denied", "at": when},
    ]
    for item in old_items:
        client.put_item(TableName=table, Item={key: {"S": value} for key, value in item.items()})
    client.update_item(
        TableName=table,
        Key={"pk": {"S": "alice"}, "sk": {"S": "user#tu-live"}},
        UpdateExpression="SET scopes = :scopes",
        ExpressionAttributeValues={":scopes": {"SS": ["activity", "sleep"]}},
    )
    terra.get(SUBSCRIPTIONS, json={"data": {"next": None, "max_page": 0, "results": []}})
    terra.post(BULK, json=[terra_user("tu-live", reference_id="alice")])

    report = reconcile()

    assert report["migrated"] == 3
    assert [(c.terra_user_id, c.scopes) for c in registry.connections("alice", Deadline.after(5))] == [
        ("tu-live", ("activity", "sleep"))
    ]
    assert [(h.terra_user_id, h.reason) for h in registry.history("alice")] == [("tu-gone", "deauth")]
    assert registry.last_attempt("alice").reason == "denied"
    remaining = {item["sk"]["S"] for item in client.scan(TableName=table)["Items"] if item["pk"]["S"] == "alice"}
    assert remaining == set()


def test_the_run_resumes_from_its_cursor_across_invocations(
    reconcile: Callable[[], dict[str, Any]], terra: responses.RequestsMock
) -> None:
    terra.get(
        SUBSCRIPTIONS,
        match=[responses.matchers.query_param_matcher({"page": "0", "per_page": "500"})],
        json={"data": {"next": 1, "max_page": 1, "results": []}},
    )
    terra.get(
        SUBSCRIPTIONS,
        match=[responses.matchers.query_param_matcher({"page": "1", "per_page": "500"})],
        status=503,
        json={"status": "error", "message": "down"},
        headers={"Retry-After": "3600"},
    )
    first = reconcile()
    terra.replace(
        responses.GET,
        SUBSCRIPTIONS,
        match=[responses.matchers.query_param_matcher({"page": "1", "per_page": "500"})],
        json={"data": {"next": None, "max_page": 1, "results": []}},
    )

    second = reconcile()

    assert (first["finished"], first["stopped_by"], second["finished"]) == (False, "terra_unavailable", True)
    pages = [call.request.url or "" for call in terra.calls]
    assert sum("subscriptions?page=0" in page for page in pages) == 1
