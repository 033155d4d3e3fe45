"""The purge's side of the data table (DynamoDB): ports.PurgeIndex.

u#<reference_id>, t#<terra_user_id>   r#... records (s3_key, version_id, superseded "key version" strings),
                                      p#... payload parts (raw_key, raw_version_id): health_data/dynamodb_index.py
bf#<terra_user_id>                    plan (deadline_ms: its listing bf-open/<deadline, 15 digits>#<id>),
                                      and the rest of its state: backfill/dynamodb_store.py
purge#<erasure_id> / done             a purge that ended, with its event's detail (the events function publishes
                                      it from the stream); expires after a day, so a purge message redriven after
                                      that publishes the event again (same ids: docs/events.md)
"""

import json
from collections.abc import Callable, Sequence
from typing import Any

from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from terra_connect.data_erasure.models import DataErased, ItemKey, StoredItem
from terra_connect.data_erasure.ports import ItemPage
from terra_connect.health_data.errors import DataStoreMisconfigured, DataStoreUnavailable
from terra_connect.health_data.models import ObjectVersion
from terra_connect.platform.aws_clients import aws_client

CLIENT_CONFIG = Config(connect_timeout=1, read_timeout=3, retries={"mode": "standard", "max_attempts": 3})
MAX_BATCH_WRITE = 25  # BatchWriteItem's limit per call
MAX_UNPROCESSED_ROUNDS = 5
DONE_KEPT_SECONDS = 86_400
OPEN_BACKFILLS = "bf-open"  # backfill/dynamodb_store.py's listing for the sweep
_PROJECTION = ", ".join(
    [
        *("pk", "sk", "s3_key", "version_id", "superseded", "raw_key", "raw_version_id", "deadline_ms"),
        *("terra_user_id", "signed_ms", "received_ms"),
    ]
)

Item = dict[str, Any]


class DynamoDBPurgeIndex:
    def __init__(
        self,
        table_name: str,
        *,
        clock: Callable[[], int],
        endpoint_url: str | None = None,
        config: Config = CLIENT_CONFIG,
    ) -> None:
        """`clock`: milliseconds, for the expiry of the item that records the end."""
        self._table = table_name
        self._clock = clock
        self._client = aws_client("dynamodb", config=config, endpoint_url=endpoint_url)

    def page(self, partition: str, limit: int, after: ItemKey | None = None) -> ItemPage:
        start = {} if after is None else {"ExclusiveStartKey": {"pk": {"S": after.pk}, "sk": {"S": after.sk}}}
        answer = self._call(
            "query",
            TableName=self._table,
            KeyConditionExpression="pk = :p",
            ExpressionAttributeValues={":p": {"S": partition}},
            ProjectionExpression=_PROJECTION,
            ConsistentRead=True,
            Limit=limit,
            **start,
        )
        items = tuple(_stored(item) for item in answer.get("Items", []))
        return ItemPage(items, more="LastEvaluatedKey" in answer)

    def delete(self, keys: Sequence[ItemKey]) -> None:
        unique = sorted(set(keys), key=lambda key: (key.pk, key.sk))
        for start in range(0, len(unique), MAX_BATCH_WRITE):
            requests = [
                {"DeleteRequest": {"Key": {"pk": {"S": key.pk}, "sk": {"S": key.sk}}}}
                for key in unique[start : start + MAX_BATCH_WRITE]
            ]
            for _ in range(MAX_UNPROCESSED_ROUNDS):
                answer = self._call("batch_write_item", RequestItems={self._table: requests})
                requests = answer.get("UnprocessedItems", {}).get(self._table, [])
                if not requests:
                    break
            else:
                raise DataStoreUnavailable(log_context={"dynamodb_error": "UnprocessedItems"})

    def finish(self, erased: DataErased) -> bool:
        item = {
            "pk": {"S": f"purge#{erased.erasure_id}"},
            "sk": {"S": "done"},
            "detail": {"S": json.dumps(erased.to_detail(), separators=(",", ":"))},
            "expires_at": {"N": str(self._clock() // 1000 + DONE_KEPT_SECONDS)},
        }
        try:
            self._client.put_item(TableName=self._table, Item=item, ConditionExpression="attribute_not_exists(pk)")
        except ClientError as error:
            if _code(error) == "ConditionalCheckFailedException":
                return False
            raise _translate(error) from None
        except BotoCoreError as error:
            raise DataStoreUnavailable(log_context={"dynamodb_error": type(error).__name__}) from None
        return True

    def _call(self, operation: str, **kwargs: Any) -> dict[str, Any]:
        try:
            result: dict[str, Any] = getattr(self._client, operation)(**kwargs)
        except ClientError as error:
            raise _translate(error) from None
        except BotoCoreError as error:
            raise DataStoreUnavailable(log_context={"dynamodb_error": type(error).__name__}) from None
        return result


def _stored(item: Item) -> StoredItem:
    key = ItemKey(item["pk"]["S"], item["sk"]["S"])
    objects: list[ObjectVersion] = []
    if "s3_key" in item and "version_id" in item:
        objects.append(ObjectVersion(item["s3_key"]["S"], item["version_id"]["S"]))
    superseded = [
        ObjectVersion(location, version_id)
        for location, version_id in (text.rsplit(" ", 1) for text in item.get("superseded", {}).get("SS", []))
    ]
    objects.extend(superseded)
    if "raw_key" in item and "raw_version_id" in item:
        objects.append(ObjectVersion(item["raw_key"]["S"], item["raw_version_id"]["S"]))
    linked: tuple[ItemKey, ...] = ()
    if key.pk.startswith("bf#") and key.sk == "plan" and "deadline_ms" in item:
        listing = f"{int(item['deadline_ms']['N']):015d}#{key.pk.removeprefix('bf#')}"
        linked = (ItemKey(OPEN_BACKFILLS, listing),)
    signed_ms = int(item["signed_ms"]["N"]) if "signed_ms" in item else None
    terra_user_id = item["terra_user_id"]["S"] if "terra_user_id" in item else None
    received_ms = int(item["received_ms"]["N"]) if "received_ms" in item else None
    return StoredItem(key, tuple(objects), linked, tuple(superseded), signed_ms, terra_user_id, received_ms)


def _translate(error: ClientError) -> Exception:
    code = _code(error)
    if code in {"ResourceNotFoundException", "AccessDeniedException", "ValidationException"}:
        return DataStoreMisconfigured(log_context={"reason": "the data table cannot be used", "dynamodb_error": code})
    return DataStoreUnavailable(log_context={"dynamodb_error": code})


def _code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", "Unknown"))
