"""Sync claims, the reconciliation's scan of the whole registry and its cursor, in the connections table
(connections/dynamodb.py)."""

import json

from botocore.exceptions import ClientError

from terra_connect.connections.legacy import LEGACY_CONNECTION, legacy_change
from terra_connect.connections.table import RECORD, Item, item_key, number, optional_int, owner_pk, stored_user_of, text
from terra_connect.connections.table_client import ConnectionsTable, error_code, translate
from terra_connect.sync.ports import ReconciliationCursor, ScanPage, SyncClaim


class DynamoDBSyncClaims:
    def __init__(self, table: ConnectionsTable) -> None:
        self._table = table

    def claim_sync(self, reference_id: str, now: int, min_interval: int) -> SyncClaim:
        key = item_key(owner_pk(reference_id), "sync")
        try:
            answer = self._table.raw(
                "update_item",
                Key=key,
                UpdateExpression="SET claimed_at = :now",
                ConditionExpression="attribute_not_exists(claimed_at) OR claimed_at <= :cutoff",
                ExpressionAttributeValues={":now": number(now), ":cutoff": number(now - min_interval)},
                ReturnValues="ALL_NEW",
            )
        except ClientError as error:
            if error_code(error) != "ConditionalCheckFailedException":
                raise translate(error) from None
            item = self._table.call("get_item", Key=key, ConsistentRead=True).get("Item", {})
            return SyncClaim(False, optional_int(item, "synced_at"), optional_int(item, "claimed_at"))
        return SyncClaim(True, optional_int(answer.get("Attributes", {}), "synced_at"))

    def release_sync(self, reference_id: str, claimed_at: int) -> None:
        try:
            self._table.raw(
                "update_item",
                Key=item_key(owner_pk(reference_id), "sync"),
                UpdateExpression="REMOVE claimed_at",
                ConditionExpression="claimed_at = :claimed",
                ExpressionAttributeValues={":claimed": number(claimed_at)},
            )
        except ClientError as error:
            if error_code(error) != "ConditionalCheckFailedException":  # another sync claimed since: its claim stands
                raise translate(error) from None

    def finish_sync(self, reference_id: str, now: int) -> None:
        self._table.call(
            "update_item",
            Key=item_key(owner_pk(reference_id), "sync"),
            UpdateExpression="SET synced_at = :now",
            ExpressionAttributeValues={":now": number(now)},
        )


class DynamoDBReconciliationStore:
    def __init__(self, table: ConnectionsTable) -> None:
        self._table = table

    def scan(self, cursor: str | None, limit: int) -> ScanPage:
        request: Item = {
            "Limit": limit,
            "FilterExpression": "sk = :record OR ((begins_with(sk, :legacy) OR sk = :attempt) "
            "AND NOT begins_with(pk, :owner))",
            "ExpressionAttributeValues": {
                ":record": text(RECORD),
                ":legacy": text(LEGACY_CONNECTION),
                ":attempt": text("attempt"),
                ":owner": text("owner#"),
            },
        }
        if cursor:
            request["ExclusiveStartKey"] = json.loads(cursor)
        page = self._table.call("scan", **request)
        users, legacy = [], []
        for item in page.get("Items", []):
            if item["sk"]["S"] == RECORD:
                users.append(stored_user_of(item))
            else:
                legacy.append((json.dumps({"pk": item["pk"], "sk": item["sk"]}), legacy_change(item)))
        after = page.get("LastEvaluatedKey")
        return ScanPage(tuple(users), tuple(legacy), json.dumps(after) if after else None)

    def drop_legacy(self, token: str) -> None:
        self._table.call("delete_item", Key=json.loads(token))

    def reconciliation_cursor(self) -> ReconciliationCursor | None:
        item = self._table.call("get_item", Key=item_key("reconciliation", "cursor"), ConsistentRead=True).get("Item")
        return ReconciliationCursor(**json.loads(item["cursor"]["S"])) if item else None

    def save_reconciliation_cursor(self, cursor: ReconciliationCursor) -> None:
        state = {name: getattr(cursor, name) for name in ReconciliationCursor.__dataclass_fields__}
        self._table.call("put_item", Item={**item_key("reconciliation", "cursor"), "cursor": text(json.dumps(state))})
