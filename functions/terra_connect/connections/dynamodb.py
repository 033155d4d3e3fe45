"""The connection registry in one DynamoDB table.

    pk = "terra-user#<id>"     sk = "record"       the Terra user's merged facts and standing (versioned)
    pk = "owner#<ref>"         sk = "live#<id>"    a live connection, as its owner lists it
    pk = "owner#<ref>"         sk = "hist#<id>"    a connection the owner no longer has, and why (expires)
    pk = "owner#<ref>"         sk = "attempt"      the owner's latest widget / custom-UI outcome
    pk = "owner#<ref>"         sk = "rules"        user_reauth events without old_user that named the owner
    pk = "owner#<ref>"         sk = "sync"         when the owner last synced with Terra
    pk = "owner#<ref>"         sk = "sdk-token#<t>" a mobile SDK token issued to the owner at t (expires)
    pk = "owner#<ref>"         sk = "unverified#<id>" an SDK connection claimed for the owner, no token behind it
    pk = "owner#<ref>"         sk = "erasing"      an erasure of the owner under way (see erasure/service.py)
    pk = "erased#<sha256(ref)>" sk = "erased"      when the owner's latest erasure started, and the Terra users
                                                   facts from before it claimed for it (expires)
    pk = "outbox#<event id>"   sk = "event"        an event to publish once (an erasure's), deleted once published
    pk = "delivery#<sha256>"   sk = "delivery"     a processed webhook delivery (expires after 7 days)
    pk = "reconciliation"      sk = "cursor"       where the background reconciliation stands

A record and the owners' views of it are written in one transaction, conditional on the record's version (and on
the owner's rules), so the views always match the records and concurrent writers never lose each other's facts.
Listing is one Query on `live#` items: history and everything else lie outside it, however much of it there is.

An erased owner's Terra users keep their record item as a tombstone: the Terra user id, `erased_at`, a version
and an expiry, nothing else. The erasure marker is keyed by a hash of the reference_id, not the id itself, and
holds Terra user ids only. A write that names an owner checks, in its transaction, that the owner's erasure marker
is still the one read, so no fact from before an erasure lands after the erasure has read the registry.

The table's stream (NEW_AND_OLD_IMAGES) feeds the lifecycle events (lifecycle_events/events.py): its
`stream_change` (lifecycle_events/stream.py) reads what a record's write changed for its owners, a failed attempt,
and an outbox item. The key helpers and the item codec every adapter shares are in connections/table.py, the table's
client in connections/table_client.py, the conversion of the first layout's items in connections/legacy.py. Each
concern has its adapter: the records and views here, the deliveries below, SDK tokens in sdk/dynamodb.py, sync
claims and the reconciliation's scan and cursor in sync/dynamodb.py, erasures in erasure/dynamodb.py.
"""

import hashlib
import json
from collections.abc import Sequence
from datetime import datetime, timedelta

from terra_connect.connections.reauth_rules import ReauthEntry, ReauthRules, RulesAsRead, StoredRules
from terra_connect.connections.records import StoredUser
from terra_connect.connections.table import (
    HISTORY,
    LIVE,
    Item,
    Key,
    attempt_of,
    attempt_order,
    connection_of,
    encode_record,
    erased_key,
    from_seconds,
    item_key,
    number,
    owner_pk,
    stored_user_of,
    text,
    user_key,
)
from terra_connect.connections.table_client import ConnectionsTable, version_condition
from terra_connect.connections.vocabulary import AuthAttempt, Connection, ConnectionStatus, EndReason, HistoryEntry
from terra_connect.erasure.ports import MarkerAsRead
from terra_connect.kernel.deadline import Deadline
from terra_connect.kernel.errors import RegistryUnavailable

DELIVERY_RETENTION = timedelta(days=7)
MAX_BATCH_GET = 100


class DynamoDBRecordStore:
    """The records, the owners' views of them, their reauth rules and latest attempts (connections/ports.py)."""

    def __init__(self, table: ConnectionsTable) -> None:
        self._table = table

    def user(self, terra_user_id: str) -> StoredUser | None:
        item = self._table.call("get_item", Key=user_key(terra_user_id), ConsistentRead=True).get("Item")
        return stored_user_of(item) if item else None

    def users(self, terra_user_ids: Sequence[str]) -> dict[str, StoredUser]:
        found: dict[str, StoredUser] = {}
        unique = list(dict.fromkeys(terra_user_ids))
        for start in range(0, len(unique), MAX_BATCH_GET):
            keys = [user_key(uid) for uid in unique[start : start + MAX_BATCH_GET]]
            for _ in range(5):
                answer = self._table.call(
                    "batch_get_item", RequestItems={self._table.name: {"Keys": keys, "ConsistentRead": True}}
                )
                for item in answer.get("Responses", {}).get(self._table.name, []):
                    stored = stored_user_of(item)
                    found[stored.record.terra_user_id] = stored
                keys = answer.get("UnprocessedKeys", {}).get(self._table.name, {}).get("Keys", [])
                if not keys:
                    break
            else:
                raise RegistryUnavailable(log_context={"dynamodb_error": "UnprocessedKeys"})
        return found

    def save_user(
        self,
        user: StoredUser,
        previous: StoredUser | None,
        rules: RulesAsRead | None,
        markers: Sequence[MarkerAsRead] = (),
    ) -> bool:
        operations: list[Item] = [{"Put": self._record_put(user, previous)}]
        for reference_id, erased_at in markers:
            condition: Item = (
                {"ConditionExpression": "attribute_not_exists(pk)"}
                if erased_at is None
                else {"ConditionExpression": "erased_at = :at", "ExpressionAttributeValues": {":at": number(erased_at)}}
            )
            operations.append(
                {"ConditionCheck": {"TableName": self._table.name, "Key": erased_key(reference_id), **condition}}
            )
        if rules is not None:
            owner, version = rules.reference_id, rules.version
            operations.append(
                {
                    "ConditionCheck": {
                        "TableName": self._table.name,
                        **version_condition(item_key(owner_pk(owner), "rules"), version),
                    }
                }
            )
        before = self._views(previous) if previous else {}
        after = self._views(user)
        for key, item in after.items():
            if before.get(key) != item:
                operations.append({"Put": {"TableName": self._table.name, "Item": item}})
        for key in before.keys() - after.keys():
            operations.append({"Delete": {"TableName": self._table.name, "Key": item_key(*key)}})
        return self._table.transact(operations)

    def _record_put(self, user: StoredUser, previous: StoredUser | None) -> Item:
        record, standing = user.record, user.standing
        item: Item = {
            **user_key(record.terra_user_id),
            "version": number(user.version),
            "record": text(encode_record(record)),
        }
        if user.erased_at is not None:
            # A tombstone: nothing but the id, kept as long as late deliveries about it may come, then gone.
            item["erased_at"] = number(user.erased_at)
            item["expires_at"] = number(user.erased_at // 1000 + self._table.retention)
        else:
            if standing.status is not None:
                item["status"] = text(standing.status.value)
            if standing.reason is not None:
                item["reason"] = text(standing.reason.value)
            if standing.at is not None:
                item["standing_at"] = number(standing.at)
            if record.owner is not None:
                item["owner"] = text(record.owner)
            # Ended and ownerless records are kept for the retention: long enough to refuse late deliveries about
            # them (Terra retries for about 9 hours), then they go.
            if (standing.is_final or record.owner is None) and record.updated_at is not None:
                item["expires_at"] = number(record.updated_at // 1000 + self._table.retention)
        return {
            "TableName": self._table.name,
            "Item": item,
            **version_condition(None, previous.version if previous else 0),
        }

    def _views(self, user: StoredUser) -> dict[Key, Item]:
        """The items the owners see of this Terra user: a live connection, or history entries."""
        views: dict[Key, Item] = {}
        live = user.live_view()
        if live is not None:
            item = self._live_item(live)
            views[(item["pk"]["S"], item["sk"]["S"])] = item
        for entry in user.history_views():
            item = self._history_item(entry)
            views[(item["pk"]["S"], item["sk"]["S"])] = item
        return views

    @staticmethod
    def _live_item(connection: Connection) -> Item:
        item: Item = {
            **item_key(owner_pk(connection.reference_id), LIVE + connection.terra_user_id),
            "terra_user_id": text(connection.terra_user_id),
            "provider": text(connection.provider),
            "status": text(connection.status.value),
            "scopes": {"L": [text(scope) for scope in connection.scopes]},
        }
        if connection.active is not None:
            item["active"] = {"BOOL": connection.active}
        if connection.connected_at is not None:
            item["connected_at"] = number(int(connection.connected_at.timestamp()))
        if connection.updated_at is not None:
            item["updated_at"] = number(int(connection.updated_at.timestamp()))
        return item

    def _history_item(self, entry: HistoryEntry) -> Item:
        at = int(entry.at.timestamp())
        return {
            **item_key(owner_pk(entry.reference_id), HISTORY + entry.terra_user_id),
            "terra_user_id": text(entry.terra_user_id),
            "provider": text(entry.provider),
            "status": text(entry.status.value),
            "reason": text(entry.reason),
            "at": number(at),
            "expires_at": number(at + self._table.retention),
        }

    def rules(self, reference_id: str) -> StoredRules:
        item = self._table.call("get_item", Key=item_key(owner_pk(reference_id), "rules"), ConsistentRead=True).get(
            "Item"
        )
        if not item:
            return StoredRules()
        entries = json.loads(item["rules"]["S"])
        rules = ReauthRules(tuple(ReauthEntry(p, int(at), user) for p, at, user in entries))
        return StoredRules(rules, int(item["version"]["N"]))

    def save_rules(self, reference_id: str, rules: StoredRules, previous_version: int, fact_at: int) -> bool:
        item = {
            **item_key(owner_pk(reference_id), "rules"),
            "rules": text(json.dumps([list(entry) for entry in rules.rules.entries])),
            "version": number(rules.version),
        }
        condition = version_condition(None, previous_version)
        return self._table.transact(
            [
                {"Put": {"TableName": self._table.name, "Item": item, **condition}},
                self._table.not_erased_since(reference_id, fact_at),
            ]
        )

    def rule_candidates(self, reference_id: str, provider: str) -> list[str]:
        values = {":p": text(provider)}
        live = self._table.query(reference_id, LIVE, filter_expression="provider = :p", values=values)
        replaced = self._table.query(
            reference_id,
            HISTORY,
            filter_expression="provider = :p AND reason = :r",
            values={**values, ":r": text(EndReason.REPLACED_UNNAMED.value)},
        )
        return [item["terra_user_id"]["S"] for item in (*live, *replaced)]

    def live_connections(self, reference_id: str, deadline: Deadline) -> list[Connection]:
        return [connection_of(reference_id, item) for item in self._table.query(reference_id, LIVE, deadline=deadline)]

    def history(self, reference_id: str) -> list[HistoryEntry]:
        return [
            HistoryEntry(
                reference_id=reference_id,
                terra_user_id=item["terra_user_id"]["S"],
                provider=item["provider"]["S"],
                status=ConnectionStatus(item["status"]["S"]),
                reason=item["reason"]["S"],
                at=from_seconds(item["at"]["N"]),
            )
            for item in self._table.query(reference_id, HISTORY)
        ]

    def record_attempt(self, reference_id: str, attempt: AuthAttempt) -> None:
        item: Item = {
            **item_key(owner_pk(reference_id), "attempt"),
            "status": text(attempt.status),
            "order": text(attempt_order(attempt)),
        }
        if attempt.provider:
            item["provider"] = text(attempt.provider)
        if attempt.reason:
            item["reason"] = text(attempt.reason)
        if attempt.at:
            item["at"] = number(int(attempt.at.timestamp()))
        # Only a later attempt replaces the stored one, so a late delivery cannot overwrite a newer outcome, and
        # only one from after the owner's latest erasure started, so a late delivery cannot recreate it.
        self._table.transact(
            [
                {
                    "Put": {
                        "TableName": self._table.name,
                        "Item": item,
                        "ConditionExpression": "attribute_not_exists(pk) OR #order < :order",
                        "ExpressionAttributeNames": {"#order": "order"},
                        "ExpressionAttributeValues": {":order": item["order"]},
                    }
                },
                self._table.not_erased_since(reference_id, attempt.order()[0]),
            ]
        )

    def last_attempt(self, reference_id: str) -> AuthAttempt | None:
        item = self._table.call("get_item", Key=item_key(owner_pk(reference_id), "attempt"), ConsistentRead=True).get(
            "Item"
        )
        return attempt_of(item) if item else None


class DynamoDBDeliveryLog:
    """The webhook deliveries already processed, each kept a week."""

    def __init__(self, table: ConnectionsTable) -> None:
        self._table = table

    def already_processed(self, delivery_id: str) -> bool:
        return "Item" in self._table.call("get_item", Key=_delivery_key(delivery_id), ProjectionExpression="pk")

    def mark_processed(self, delivery_id: str, at: datetime) -> None:
        expires = int((at + DELIVERY_RETENTION).timestamp())
        self._table.call("put_item", Item={**_delivery_key(delivery_id), "expires_at": number(expires)})


def _delivery_key(delivery_id: str) -> dict[str, dict[str, str]]:
    # Hashed: Terra's trace ids have no documented length, and a key over 1 KB is refused.
    digest = hashlib.sha256(delivery_id.encode("utf-8", "surrogatepass")).hexdigest()
    return item_key(f"delivery#{digest}", "delivery")
