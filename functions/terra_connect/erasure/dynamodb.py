"""Erasures in the connections table (connections/dynamodb.py): the marker every write naming an app user checks,
the erasure under way, and the deletion of what is stored for the app user."""

import json
from collections.abc import Callable
from typing import Any

from terra_connect.connections.table import (
    ERASING,
    HISTORY,
    LIVE,
    OUTBOX,
    OUTBOX_RETENTION,
    UNVERIFIED,
    Item,
    erased_key,
    erasure_of,
    item_key,
    number,
    owner_pk,
    text,
)
from terra_connect.connections.table_client import ConnectionsTable
from terra_connect.erasure.ports import Erasure, ErasureScope
from terra_connect.kernel.errors import RegistryUnavailable

MAX_CONFLICT_RETRIES = 8  # concurrent writers of one marker are rare and short: a few rereads settle them
MAX_TRANSACT = 100


class DynamoDBErasureStore:
    def __init__(self, table: ConnectionsTable) -> None:
        self._table = table

    def erased_at(self, reference_id: str) -> int | None:
        item = self._table.call("get_item", Key=erased_key(reference_id), ConsistentRead=True).get("Item")
        return int(item["erased_at"]["N"]) if item else None

    def claim_for_erasure(self, reference_id: str, terra_user_id: str) -> None:
        # No marker (it expired): nothing to claim for.
        self._rewrite_marker(reference_id, lambda started, claims: (started, claims | {terra_user_id}))

    def mark_erased(self, reference_id: str, at: int) -> None:
        # Never moved earlier (a retry starts later); the claims it holds stay.
        self._rewrite_marker(reference_id, lambda started, claims: (max(at, started or at), claims))

    def _rewrite_marker(
        self, reference_id: str, change: Callable[[int | None, frozenset[str]], tuple[int | None, frozenset[str]]]
    ) -> None:
        """Read the erasure marker, change it, and put it back if nobody changed it meanwhile (its start only rises
        and its claims only grow, so the two are its version). Puts, not updates: the functions' roles write the
        table with transactions of Put, Delete and ConditionCheck items, and single puts."""
        for _ in range(MAX_CONFLICT_RETRIES):
            item = self._table.call("get_item", Key=erased_key(reference_id), ConsistentRead=True).get("Item")
            started = int(item["erased_at"]["N"]) if item else None
            claims = frozenset(item.get("claims", {}).get("SS", [])) if item else frozenset()
            after, claimed = change(started, claims)
            if after is None or (after, claimed) == (started, claims):
                return
            marker: Item = {
                **erased_key(reference_id),
                "erased_at": number(after),
                "expires_at": number(after // 1000 + self._table.retention),
            }
            if claimed:
                marker["claims"] = {"SS": sorted(claimed)}
            if started is None:
                condition: Item = {"ConditionExpression": "attribute_not_exists(pk)"}
            else:
                condition = {
                    "ConditionExpression": "erased_at = :at AND "
                    + ("size(claims) = :claims" if claims else "attribute_not_exists(claims)"),
                    "ExpressionAttributeValues": {
                        ":at": number(started),
                        **({":claims": number(len(claims))} if claims else {}),
                    },
                }
            if self._table.transact([{"Put": {"TableName": self._table.name, "Item": marker, **condition}}]):
                return
        raise RegistryUnavailable(log_context={"reason": "conflicting writes to an erasure marker"})

    def erasure_scope(self, reference_id: str) -> ErasureScope:
        terra_user_ids: set[str] = set()
        holds_data, pending = False, None
        for item in self._table.query(reference_id, ""):
            sk = item["sk"]["S"]
            if sk == ERASING:
                pending = erasure_of(reference_id, item)
                continue
            holds_data = True
            if sk.startswith((LIVE, HISTORY, UNVERIFIED)):
                terra_user_ids.add(item["terra_user_id"]["S"])
        return ErasureScope(frozenset(terra_user_ids), holds_data, pending)

    def erasure_claims(self, reference_id: str) -> frozenset[str]:
        item = self._table.call("get_item", Key=erased_key(reference_id), ConsistentRead=True).get("Item", {})
        return frozenset(item.get("claims", {}).get("SS", []))

    def begin_erasure(self, erasure: Erasure) -> Erasure:
        began = self._table.transact(
            [
                {
                    "Put": {
                        "TableName": self._table.name,
                        "Item": {
                            **item_key(owner_pk(erasure.reference_id), ERASING),
                            "erasure_id": text(erasure.id),
                            "started_at": number(erasure.started_at),
                            "requested_by": text(erasure.requested_by),
                        },
                        "ConditionExpression": "attribute_not_exists(pk)",
                    }
                },
            ]
        )
        if began:
            return erasure
        key = item_key(owner_pk(erasure.reference_id), ERASING)
        item = self._table.call("get_item", Key=key, ConsistentRead=True).get("Item")
        return erasure_of(erasure.reference_id, item) if item else self.begin_erasure(erasure)

    def delete_owner_data(self, reference_id: str, terra_user_ids: frozenset[str]) -> int:
        keys = []
        for item in self._table.query(reference_id, ""):
            sk = item["sk"]["S"]
            if sk == ERASING:
                continue
            if sk.startswith((LIVE, HISTORY)) and item["terra_user_id"]["S"] not in terra_user_ids:
                continue  # a connection made while the erasure ran: its record owns the view
            keys.append(item_key(item["pk"]["S"], sk))
        for start in range(0, len(keys), MAX_TRANSACT):
            chunk = keys[start : start + MAX_TRANSACT]
            self._table.transact([{"Delete": {"TableName": self._table.name, "Key": key}} for key in chunk])
        return len(keys)

    def finish_erasure(self, erasure: Erasure, event: tuple[str, dict[str, Any]], claims: int) -> bool:
        detail_type, detail = event
        outbox = {
            **item_key(f"{OUTBOX}{detail['id']}", "event"),
            "detail_type": text(detail_type),
            "detail": text(json.dumps(detail)),
            "expires_at": number(erasure.started_at // 1000 + int(OUTBOX_RETENTION.total_seconds())),
        }
        return self._table.transact(
            [
                {
                    "Delete": {
                        "TableName": self._table.name,
                        "Key": item_key(owner_pk(erasure.reference_id), ERASING),
                        "ConditionExpression": "erasure_id = :id",
                        "ExpressionAttributeValues": {":id": text(erasure.id)},
                    }
                },
                {
                    "Put": {
                        "TableName": self._table.name,
                        "Item": outbox,
                        "ConditionExpression": "attribute_not_exists(pk)",
                    }
                },
                {
                    # Claims only grow: as many as were handled means none came meanwhile.
                    "ConditionCheck": {
                        "TableName": self._table.name,
                        "Key": erased_key(erasure.reference_id),
                        "ConditionExpression": "attribute_not_exists(claims) OR size(claims) = :claims",
                        "ExpressionAttributeValues": {":claims": number(claims)},
                    }
                },
            ]
        )
