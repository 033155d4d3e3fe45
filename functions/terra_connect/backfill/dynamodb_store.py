"""Backfills in the data table (DataTable), one item per Terra user and one listing item while it is open:

    pk = "bf#<terra_user_id>"   sk = "plan"                          the whole state (state.py, JSON), its version,
                                                                     status, deadline and, once ended, the detail
                                                                     of its Wearable Backfill Completed event
    pk = "bf-open"              sk = "<deadline_ms, 15 digits>#<id>"  listed for the sweep until it ends

Every write is conditional on the version read, so concurrent writers never lose each other's changes. The item
that ends a backfill gains `status` completed/incomplete and `detail` in the same write: the table's stream carries
that change to the events function, which publishes the event once the write is committed. Both items expire a
week after the deadline (TTL `expires_at`), so a Terra user reconnected much later is backfilled again.
"""

import json
from collections.abc import Sequence
from typing import Any

from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from terra_connect.backfill.ports import Stored, StoreUnavailable
from terra_connect.backfill.state import BackfillState, from_json, to_json
from terra_connect.health_data.events import BackfillCompleted

CLIENT_CONFIG = Config(connect_timeout=1, read_timeout=2, retries={"mode": "standard", "max_attempts": 3})
KEPT_AFTER_DEADLINE_S = 7 * 86_400
OPEN_PK = "bf-open"
_PLAN = "plan"
_CONFLICTS = frozenset({"ConditionalCheckFailed", "TransactionConflict"})


def _s(value: str) -> dict[str, str]:
    return {"S": value}


def _n(value: int) -> dict[str, str]:
    return {"N": str(value)}


def _plan_key(terra_user_id: str) -> dict[str, dict[str, str]]:
    return {"pk": _s(f"bf#{terra_user_id}"), "sk": _s(_PLAN)}


def _open_key(state: BackfillState) -> dict[str, dict[str, str]]:
    return {"pk": _s(OPEN_PK), "sk": _s(f"{state.backfill.plan.deadline_ms:015d}#{state.terra_user_id}")}


def _expires_at(state: BackfillState) -> int:
    return state.backfill.plan.deadline_ms // 1000 + KEPT_AFTER_DEADLINE_S


class DynamoDbBackfillStore:
    def __init__(self, client: Any, table_name: str) -> None:
        self._client = client  # a botocore DynamoDB client
        self._table = table_name

    def load(self, terra_user_id: str) -> Stored | None:
        answer = self._call("get_item", TableName=self._table, Key=_plan_key(terra_user_id), ConsistentRead=True)
        item = answer.get("Item")
        if item is None:
            return None
        return Stored(from_json(json.loads(item["state"]["S"])), int(item["version"]["N"]))

    def create(self, state: BackfillState) -> bool:
        plan = state.backfill.plan
        item = {
            **_plan_key(state.terra_user_id),
            "state": _s(json.dumps(to_json(state), separators=(",", ":"))),
            "version": _n(1),
            "status": _s("open"),
            "reference_id": _s(plan.connection.reference_id),
            "terra_user_id": _s(state.terra_user_id),
            "deadline_ms": _n(plan.deadline_ms),
            "expires_at": _n(_expires_at(state)),
        }
        listing = {**_open_key(state), "terra_user_id": _s(state.terra_user_id), "expires_at": _n(_expires_at(state))}
        return self._transact(
            [
                {"Put": {"TableName": self._table, "Item": item, "ConditionExpression": "attribute_not_exists(pk)"}},
                {"Put": {"TableName": self._table, "Item": listing}},
            ]
        )

    def save(self, state: BackfillState, version: int, ended: BackfillCompleted | None = None) -> bool:
        status = "open" if state.backfill.status is None else state.backfill.status.value
        values = {
            ":state": _s(json.dumps(to_json(state), separators=(",", ":"))),
            ":version": _n(version),
            ":next": _n(version + 1),
            ":status": _s(status),
        }
        assignments = "SET #state = :state, version = :next, #status = :status"
        if ended is not None:
            values[":detail"] = _s(json.dumps(ended.to_detail(), separators=(",", ":")))
            assignments += ", detail = :detail"
        update = {
            "TableName": self._table,
            "Key": _plan_key(state.terra_user_id),
            "UpdateExpression": assignments,
            "ConditionExpression": "version = :version",
            "ExpressionAttributeNames": {"#state": "state", "#status": "status"},
            "ExpressionAttributeValues": values,
        }
        if state.open:
            return self._conditional(update)
        return self._transact([{"Update": update}, {"Delete": {"TableName": self._table, "Key": _open_key(state)}}])

    def open_backfills(self, limit: int) -> Sequence[str]:
        found: list[str] = []
        start: dict[str, Any] | None = None
        while len(found) < limit:
            page = self._call(
                "query",
                TableName=self._table,
                KeyConditionExpression="pk = :pk",
                ExpressionAttributeValues={":pk": _s(OPEN_PK)},
                Limit=limit - len(found),
                **({"ExclusiveStartKey": start} if start else {}),
            )
            found += [item["terra_user_id"]["S"] for item in page.get("Items", [])]
            start = page.get("LastEvaluatedKey")
            if not start:
                break
        return found

    def _conditional(self, update: dict[str, Any]) -> bool:
        try:
            self._client.update_item(**update)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                return False
            raise StoreUnavailable(_code(exc)) from exc
        except BotoCoreError as exc:
            raise StoreUnavailable(type(exc).__name__) from exc
        return True

    def _transact(self, items: list[dict[str, Any]]) -> bool:
        try:
            self._client.transact_write_items(TransactItems=items)
        except ClientError as exc:
            reasons = {reason.get("Code") for reason in exc.response.get("CancellationReasons", [])}
            if _code(exc) == "TransactionCanceledException" and reasons & _CONFLICTS:
                return False
            raise StoreUnavailable(_code(exc)) from exc
        except BotoCoreError as exc:
            raise StoreUnavailable(type(exc).__name__) from exc
        return True

    def _call(self, operation: str, **params: Any) -> dict[str, Any]:
        try:
            answer: dict[str, Any] = getattr(self._client, operation)(**params)
        except (BotoCoreError, ClientError) as exc:
            raise StoreUnavailable(type(exc).__name__) from exc
        return answer


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", "ClientError"))
