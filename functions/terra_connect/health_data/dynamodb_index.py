"""The record index in the data table (DynamoDB): ports.RecordIndex, the write protocol's arbiter.

    pk = "u#<reference_id>" | "t#<terra_user_id>"   (layout.py)
    sk = "r#<type>#<provider>#<record_key>"   a record's current copy; `day_key` sorts it in the local index by-day
    sk = "p#<payload_id>#<part>"              which records a payload changed (and when it was signed, by whom);
                                              part 0 carries its announcement

A copy becomes current in one transaction with two checks on the connection registry's table (never written
here): the owner's erasure marker (`erased#<sha256(reference_id)>`) started no later than the payload was signed,
and the Terra user's record is no tombstone. So data signed before an erasure can never land after the erasure
has begun, whichever worker gets there first.

Items hold ids, times, sizes and locations - never record content (that is in S3).
"""

import hashlib
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict
from typing import Any

from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from terra_connect.health_data import layout
from terra_connect.health_data.errors import DataStoreMisconfigured, DataStoreUnavailable
from terra_connect.health_data.events import DataReceived
from terra_connect.health_data.keys import RecordIdentity
from terra_connect.health_data.models import ObjectVersion, PayloadPart, RecordPage, RecordPosition, StoredCopy
from terra_connect.health_data.ordering import CopyOrder
from terra_connect.health_data.ports import CommitOutcome
from terra_connect.platform.aws_clients import DYNAMODB_OUTAGES, aws_client

CLIENT_CONFIG = Config(connect_timeout=1, read_timeout=3, retries={"mode": "standard", "max_attempts": 3})
BY_DAY = "by-day"
MAX_BATCH_GET = 100
MAX_UNPROCESSED_ROUNDS = 5
_OUTAGES = DYNAMODB_OUTAGES | {"TransactionInProgressException"}

Item = dict[str, Any]


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def _s(value: str) -> dict[str, str]:
    return {"S": value}


def _n(value: int) -> dict[str, str]:
    return {"N": str(value)}


def _key(pk: str, sk: str) -> Item:
    return {"pk": _s(pk), "sk": _s(sk)}


def erasure_marker_key(reference_id: str) -> Item:
    """The registry's erasure marker of an app user (connections/dynamodb.py): keyed by a hash, never the id."""
    digest = hashlib.sha256(reference_id.encode("utf-8", "surrogatepass")).hexdigest()
    return _key(f"erased#{digest}", "erased")


def terra_user_key(terra_user_id: str) -> Item:
    """The registry's record of a Terra user (connections/dynamodb.py)."""
    return _key(f"terra-user#{terra_user_id}", "record")


class DynamoDBRecordIndex:
    def __init__(
        self,
        table_name: str,
        connections_table: str,
        *,
        record_retention_days: int = 0,
        part_retention_days: int = 30,
        endpoint_url: str | None = None,
        config: Config = CLIENT_CONFIG,
        clock: Callable[[], int] = now_ms,
    ) -> None:
        """`record_retention_days`: how long a record is kept after its last update (0: until erased);
        `part_retention_days`: how long a payload's parts are (as long as its raw body); `clock`: milliseconds."""
        self._clock = clock
        self._table = table_name
        self._connections = connections_table
        self._record_ttl = record_retention_days * 86_400
        self._part_ttl = part_retention_days * 86_400
        self._client = aws_client("dynamodb", config=config, endpoint_url=endpoint_url)

    def close(self) -> None:
        self._client.close()

    def current(self, partition: str, identities: Sequence[RecordIdentity]) -> dict[RecordIdentity, StoredCopy]:
        wanted = {layout.sort_key(identity): identity for identity in identities}
        found: dict[RecordIdentity, StoredCopy] = {}
        sort_keys = sorted(wanted)
        for start in range(0, len(sort_keys), MAX_BATCH_GET):
            keys = [_key(partition, sk) for sk in sort_keys[start : start + MAX_BATCH_GET]]
            for item in self._batch_get(keys):
                found[wanted[item["sk"]["S"]]] = _copy(item)
        return found

    def commit(
        self, partition: str, copy: StoredCopy, *, replaces: CopyOrder | None, owner: str | None, signed_ms: int
    ) -> CommitOutcome:
        operations: list[Item] = [{"Put": {"TableName": self._table, "Item": self._record_item(partition, copy)}}]
        if replaces is None:
            operations[0]["Put"]["ConditionExpression"] = "attribute_not_exists(pk)"
        else:
            operations[0]["Put"] |= {
                "ConditionExpression": "ordering_ms = :o AND signed_ms = :s AND digest = :d",
                "ExpressionAttributeValues": _order_values(replaces),
            }
        refusals: list[Item] = []
        if owner is not None:
            refusals.append(
                {
                    "TableName": self._connections,
                    "Key": erasure_marker_key(owner),
                    "ConditionExpression": "attribute_not_exists(pk) OR erased_at < :signed",
                    "ExpressionAttributeValues": {":signed": _n(signed_ms)},
                }
            )
        if copy.terra_user_id is not None:
            refusals.append(
                {
                    "TableName": self._connections,
                    "Key": terra_user_key(copy.terra_user_id),
                    "ConditionExpression": "attribute_not_exists(erased_at)",
                }
            )
        failed = self._transact(operations + [{"ConditionCheck": check} for check in refusals])
        if failed is None:
            return CommitOutcome.COMMITTED
        # Position 0 is the record; any other is a check of the registry's.
        return CommitOutcome.REFUSED if failed - {0} else CommitOutcome.SUPERSEDED

    def refresh_order(self, partition: str, identity: RecordIdentity, order: CopyOrder) -> bool:
        try:
            self._raw(
                "update_item",
                TableName=self._table,
                Key=_key(partition, layout.sort_key(identity)),
                UpdateExpression="SET ordering_ms = :o, signed_ms = :s",
                ConditionExpression="digest = :d AND (ordering_ms < :o OR (ordering_ms = :o AND signed_ms < :s))",
                ExpressionAttributeValues=_order_values(order),
            )
        except ClientError as error:
            if _code(error) == "ConditionalCheckFailedException":
                return False
            raise _translate(error) from None
        return True

    def forget_superseded(self, partition: str, identity: RecordIdentity, locations: Sequence[ObjectVersion]) -> None:
        if not locations:
            return
        try:
            self._raw(
                "update_item",
                TableName=self._table,
                Key=_key(partition, layout.sort_key(identity)),
                UpdateExpression="DELETE superseded :gone",
                ConditionExpression="attribute_exists(pk)",
                ExpressionAttributeValues={":gone": {"SS": sorted({_location(v) for v in locations})}},
            )
        except ClientError as error:
            if _code(error) != "ConditionalCheckFailedException":  # no current copy: nothing names them
                raise _translate(error) from None

    def put_payload_part(self, partition: str, part: PayloadPart) -> bool:
        item: Item = {
            **_key(partition, layout.payload_part_key(part.payload_id, part.number)),
            "payload_id": _s(part.payload_id),
            "part": _n(part.number),
            "data_type": _s(part.data_type),
            "sort_keys": {"L": [_s(sk) for sk in part.sort_keys]},
            "raw_key": _s(part.raw.key),
            "raw_version_id": _s(part.raw.version_id),
        }
        if part.signed_ms is not None:  # what an erasure's purge keeps: data signed after the erasure started
            item["signed_ms"] = _n(part.signed_ms)
        if part.terra_user_id is not None:
            item["terra_user_id"] = _s(part.terra_user_id)
        if part.announcement is not None:
            # What the events function publishes from the table's stream (its filter matches `announce`).
            item["announce"] = {"BOOL": True}
            item["announcement"] = _s(json.dumps(asdict(part.announcement), sort_keys=True))
        if self._part_ttl:
            item["expires_at"] = _n(self._clock() // 1000 + self._part_ttl)
        try:
            self._raw("put_item", TableName=self._table, Item=item, ConditionExpression="attribute_not_exists(pk)")
        except ClientError as error:
            if _code(error) == "ConditionalCheckFailedException":
                return False
            raise _translate(error) from None
        return True

    def payload_parts(self, partition: str, payload_id: str) -> list[PayloadPart]:
        items = self._query(
            KeyConditionExpression="pk = :p AND begins_with(sk, :prefix)",
            ExpressionAttributeValues={
                ":p": _s(partition),
                ":prefix": _s(f"{layout.PAYLOAD_PART_PREFIX}{payload_id}#"),
            },
            ConsistentRead=True,
        )
        return [_part(item) for item in items]

    def query_days(
        self, partition: str, bounds: tuple[str, str], *, limit: int, after: RecordPosition | None
    ) -> RecordPage:
        # One more than the page, so that a position is given only when something follows it.
        items = self._query(
            limit=limit + 1,
            IndexName=BY_DAY,
            Select="ALL_ATTRIBUTES",
            KeyConditionExpression="pk = :p AND day_key BETWEEN :low AND :high",
            ExpressionAttributeValues={":p": _s(partition), ":low": _s(bounds[0]), ":high": _s(bounds[1])},
            **(
                {"ExclusiveStartKey": {**_key(partition, after.sort_key), "day_key": _s(after.day_key)}}
                if after
                else {}
            ),
        )
        copies = tuple(_copy(item) for item in items[:limit])
        if len(items) <= limit:
            return RecordPage(copies, None)
        last = items[limit - 1]
        return RecordPage(copies, RecordPosition(last["sk"]["S"], last["day_key"]["S"]))

    # --- items ---

    def _record_item(self, partition: str, copy: StoredCopy) -> Item:
        item: Item = {
            **_key(partition, layout.sort_key(copy.identity)),
            "day_key": _s(layout.day_key(copy.identity, copy.day)),
            "day": _s(copy.day),
            "ordering_ms": _n(copy.order.ordering_ms),
            "signed_ms": _n(copy.order.signed_ms),
            "digest": _s(copy.order.digest),
            "payload_id": _s(copy.payload_id),
            "s3_key": _s(copy.location.key),
            "version_id": _s(copy.location.version_id),
            "size": _n(copy.size),
            "received_ms": _n(copy.received_ms),
        }
        optional = {"terra_user_id": copy.terra_user_id, "start_time": copy.start_time, "end_time": copy.end_time}
        item |= {name: _s(value) for name, value in optional.items() if value is not None}
        if copy.superseded:
            item["superseded"] = {"SS": sorted({_location(v) for v in copy.superseded})}
        if self._record_ttl:
            item["expires_at"] = _n(copy.received_ms // 1000 + self._record_ttl)
        return item

    # --- calls ---

    def _batch_get(self, keys: list[Item]) -> list[Item]:
        found: list[Item] = []
        for _ in range(MAX_UNPROCESSED_ROUNDS):
            answer = self._call("batch_get_item", RequestItems={self._table: {"Keys": keys, "ConsistentRead": True}})
            found += answer.get("Responses", {}).get(self._table, [])
            keys = answer.get("UnprocessedKeys", {}).get(self._table, {}).get("Keys", [])
            if not keys:
                return found
        raise DataStoreUnavailable(log_context={"dynamodb_error": "UnprocessedKeys"})

    def _query(self, *, limit: int | None = None, **kwargs: Any) -> list[Item]:
        items: list[Item] = []
        while True:
            if limit is not None:
                kwargs["Limit"] = limit - len(items)
            page = self._call("query", TableName=self._table, **kwargs)
            items += page.get("Items", [])
            start = page.get("LastEvaluatedKey")
            if start is None or (limit is not None and len(items) >= limit):
                return items
            kwargs["ExclusiveStartKey"] = start

    def _transact(self, operations: list[Item]) -> set[int] | None:
        """None when written; else the positions of the checks that failed (empty: a conflicting transaction)."""
        try:
            self._raw("transact_write_items", TransactItems=operations)
        except ClientError as error:
            if _code(error) != "TransactionCanceledException":
                raise _translate(error) from None
            reasons = [reason.get("Code") for reason in error.response.get("CancellationReasons", [])]
            if set(reasons) & _OUTAGES:
                raise DataStoreUnavailable(log_context={"dynamodb_error": sorted(set(reasons) & _OUTAGES)}) from None
            if "ValidationError" in reasons:
                raise DataStoreMisconfigured(log_context={"reason": "DynamoDB refused the item"}) from None
            return {n for n, code in enumerate(reasons) if code == "ConditionalCheckFailed"}
        return None

    def _call(self, operation: str, **kwargs: Any) -> dict[str, Any]:
        try:
            return self._raw(operation, **kwargs)
        except ClientError as error:
            raise _translate(error) from None

    def _raw(self, operation: str, **kwargs: Any) -> dict[str, Any]:
        try:
            result: dict[str, Any] = getattr(self._client, operation)(**kwargs)
        except BotoCoreError as error:
            raise DataStoreUnavailable(log_context={"dynamodb_error": type(error).__name__}) from None
        return result


def _order_values(order: CopyOrder) -> Item:
    return {":o": _n(order.ordering_ms), ":s": _n(order.signed_ms), ":d": _s(order.digest)}


def _location(version: ObjectVersion) -> str:
    # Keys the layout builds and S3's version ids hold no space.
    return f"{version.key} {version.version_id}"


def _version(text: str) -> ObjectVersion:
    key, version_id = text.rsplit(" ", 1)
    return ObjectVersion(key, version_id)


def _copy(item: Item) -> StoredCopy:
    data_type, provider, record_key = item["sk"]["S"].removeprefix(layout.RECORD_PREFIX).split("#", 2)
    optional = {name: item[name]["S"] if name in item else None for name in ("terra_user_id", "start_time", "end_time")}
    return StoredCopy(
        identity=RecordIdentity(data_type, provider, record_key),
        day=item["day"]["S"],
        order=CopyOrder(int(item["ordering_ms"]["N"]), int(item["signed_ms"]["N"]), item["digest"]["S"]),
        payload_id=item["payload_id"]["S"],
        location=ObjectVersion(item["s3_key"]["S"], item["version_id"]["S"]),
        size=int(item["size"]["N"]),
        terra_user_id=optional["terra_user_id"],
        received_ms=int(item["received_ms"]["N"]),
        start_time=optional["start_time"],
        end_time=optional["end_time"],
        superseded=tuple(sorted(_version(text) for text in item.get("superseded", {}).get("SS", []))),
    )


def _part(item: Item) -> PayloadPart:
    announcement = DataReceived(**json.loads(item["announcement"]["S"])) if "announcement" in item else None
    return PayloadPart(
        payload_id=item["payload_id"]["S"],
        number=int(item["part"]["N"]),
        data_type=item["data_type"]["S"],
        sort_keys=tuple(value["S"] for value in item["sort_keys"]["L"]),
        raw=ObjectVersion(item["raw_key"]["S"], item["raw_version_id"]["S"]),
        announcement=announcement,
        signed_ms=int(item["signed_ms"]["N"]) if "signed_ms" in item else None,
        terra_user_id=item["terra_user_id"]["S"] if "terra_user_id" in item else None,
    )


def _translate(error: ClientError) -> Exception:
    code = _code(error)
    if code in {"ResourceNotFoundException", "AccessDeniedException", "ValidationException"}:
        return DataStoreMisconfigured(log_context={"reason": "the data table cannot be used", "dynamodb_error": code})
    return DataStoreUnavailable(log_context={"dynamodb_error": code})


def _code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", "Unknown"))
