"""The SDK tokens issued and the unverified SDK connections, in the connections table (connections/dynamodb.py)."""

from terra_connect.connections.table import SDK_TOKEN, UNVERIFIED, item_key, number, owner_pk, text
from terra_connect.connections.table_client import ConnectionsTable


class DynamoDBSdkTokenStore:
    def __init__(self, table: ConnectionsTable) -> None:
        self._table = table

    def record_sdk_token(self, reference_id: str, issued_at: int, keep_until: int) -> None:
        item = {
            **item_key(owner_pk(reference_id), f"{SDK_TOKEN}{issued_at:015d}"),
            "issued_at": number(issued_at),
            "expires_at": number(keep_until // 1000),
        }
        self._table.call("put_item", Item=item)

    def sdk_tokens_issued(self, reference_id: str) -> list[int]:
        return [int(item["issued_at"]["N"]) for item in self._table.query(reference_id, SDK_TOKEN)]

    def record_unverified(self, reference_id: str, terra_user_id: str, provider: str, at: int) -> None:
        item = {
            **item_key(owner_pk(reference_id), f"{UNVERIFIED}{terra_user_id}"),
            "terra_user_id": text(terra_user_id),
            "provider": text(provider),
            "at": number(at // 1000),
            "expires_at": number(at // 1000 + self._table.retention),
        }
        self._table.transact(
            [{"Put": {"TableName": self._table.name, "Item": item}}, self._table.not_erased_since(reference_id, at)]
        )

    def was_unverified(self, reference_id: str, terra_user_id: str) -> bool:
        key = item_key(owner_pk(reference_id), f"{UNVERIFIED}{terra_user_id}")
        return "Item" in self._table.call("get_item", Key=key, ConsistentRead=True, ProjectionExpression="pk")
