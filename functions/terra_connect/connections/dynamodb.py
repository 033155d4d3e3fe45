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
and an outbox item. The key helpers and the item codec every adapter shares are in connections/table.py, the
conversion of the first layout's items in connections/legacy.py.
"""

import hashlib
import json
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime, timedelta
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from terra_connect.connections.legacy import LEGACY_CONNECTION, legacy_change
from terra_connect.connections.records import (
    ReauthRules,
    StoredRules,
    StoredUser,
)
from terra_connect.connections.table import (
    CLIENT_CONFIG,
    ERASING,
    HISTORY,
    LIVE,
    OUTBOX,
    OUTBOX_RETENTION,
    RECORD,
    SDK_TOKEN,
    UNVERIFIED,
    Item,
    Key,
    attempt_of,
    attempt_order,
    connection_of,
    encode_record,
    erased_key,
    erasure_of,
    from_seconds,
    item_key,
    number,
    optional_int,
    owner_pk,
    stored_user_of,
    text,
    user_key,
)
from terra_connect.connections.vocabulary import (
    AuthAttempt,
    Connection,
    ConnectionStatus,
    EndReason,
    HistoryEntry,
)
from terra_connect.erasure.ports import Erasure, ErasureScope
from terra_connect.kernel.deadline import Deadline
from terra_connect.kernel.errors import ConfigurationError, RegistryRejected, RegistryUnavailable
from terra_connect.platform.aws_clients import aws_client
from terra_connect.sync.ports import ReconciliationCursor, ScanPage, SyncClaim

MAX_CONFLICT_RETRIES = 8  # concurrent writers of one item are rare and short: a few rereads settle them
DELIVERY_RETENTION = timedelta(days=7)
MAX_BATCH_GET = 100
MAX_TRANSACT = 100
_CONFLICTS = frozenset({"ConditionalCheckFailed", "TransactionConflict"})
_OUTAGES = frozenset(
    {
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "RequestLimitExceeded",
        "InternalServerError",
        "ServiceUnavailable",
        "ThrottlingError",
        "ProvisionedThroughputExceeded",
    }
)


class DynamoDBRegistryStore:
    def __init__(
        self,
        table_name: str,
        *,
        retention: timedelta,
        endpoint_url: str | None = None,
        page_limit: int | None = None,
    ) -> None:
        """`retention`: how long history (and the records of ended Terra users) is kept. `page_limit` caps items
        per Query page (tests use it to exercise pagination; DynamoDB's own 1 MB page applies regardless)."""
        self._table = table_name
        self._retention = int(retention.total_seconds())
        self._page_limit = page_limit
        self._client = aws_client("dynamodb", config=CLIENT_CONFIG, endpoint_url=endpoint_url)

    def close(self) -> None:
        """Close the SDK's pooled connections; the next call opens a new one."""
        self._client.close()

    # --- records ---

    def user(self, terra_user_id: str) -> StoredUser | None:
        item = self._call("get_item", Key=user_key(terra_user_id), ConsistentRead=True).get("Item")
        return stored_user_of(item) if item else None

    def users(self, terra_user_ids: Sequence[str]) -> dict[str, StoredUser]:
        found: dict[str, StoredUser] = {}
        unique = list(dict.fromkeys(terra_user_ids))
        for start in range(0, len(unique), MAX_BATCH_GET):
            keys = [user_key(uid) for uid in unique[start : start + MAX_BATCH_GET]]
            for _ in range(5):
                answer = self._call(
                    "batch_get_item", RequestItems={self._table: {"Keys": keys, "ConsistentRead": True}}
                )
                for item in answer.get("Responses", {}).get(self._table, []):
                    stored = stored_user_of(item)
                    found[stored.record.terra_user_id] = stored
                keys = answer.get("UnprocessedKeys", {}).get(self._table, {}).get("Keys", [])
                if not keys:
                    break
            else:
                raise RegistryUnavailable(log_context={"dynamodb_error": "UnprocessedKeys"})
        return found

    def save_user(
        self,
        user: StoredUser,
        previous: StoredUser | None,
        rules: tuple[str, int] | None,
        markers: Sequence[tuple[str, int | None]] = (),
    ) -> bool:
        operations: list[Item] = [{"Put": self._record_put(user, previous)}]
        for reference_id, erased_at in markers:
            condition: Item = (
                {"ConditionExpression": "attribute_not_exists(pk)"}
                if erased_at is None
                else {"ConditionExpression": "erased_at = :at", "ExpressionAttributeValues": {":at": number(erased_at)}}
            )
            operations.append(
                {"ConditionCheck": {"TableName": self._table, "Key": erased_key(reference_id), **condition}}
            )
        if rules is not None:
            owner, version = rules
            operations.append(
                {
                    "ConditionCheck": {
                        "TableName": self._table,
                        **self._version_condition(item_key(owner_pk(owner), "rules"), version),
                    }
                }
            )
        before = self._views(previous) if previous else {}
        after = self._views(user)
        for key, item in after.items():
            if before.get(key) != item:
                operations.append({"Put": {"TableName": self._table, "Item": item}})
        for key in before.keys() - after.keys():
            operations.append({"Delete": {"TableName": self._table, "Key": item_key(*key)}})
        return self._transact(operations)

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
            item["expires_at"] = number(user.erased_at // 1000 + self._retention)
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
                item["expires_at"] = number(record.updated_at // 1000 + self._retention)
        return {
            "TableName": self._table,
            "Item": item,
            **self._version_condition(None, previous.version if previous else 0),
        }

    def _version_condition(self, key: dict[str, Any] | None, version: int) -> Item:
        condition: Item = (
            {"ConditionExpression": "attribute_not_exists(pk)"}
            if version == 0
            else {
                "ConditionExpression": "version = :version",
                "ExpressionAttributeValues": {":version": number(version)},
            }
        )
        return {**({"Key": key} if key else {}), **condition}

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
            "expires_at": number(at + self._retention),
        }

    # --- reauth rules ---

    def rules(self, reference_id: str) -> StoredRules:
        item = self._call("get_item", Key=item_key(owner_pk(reference_id), "rules"), ConsistentRead=True).get("Item")
        if not item:
            return StoredRules()
        entries = json.loads(item["rules"]["S"])
        return StoredRules(ReauthRules(tuple((p, int(at), user) for p, at, user in entries)), int(item["version"]["N"]))

    def save_rules(self, reference_id: str, rules: StoredRules, previous_version: int, fact_at: int) -> bool:
        item = {
            **item_key(owner_pk(reference_id), "rules"),
            "rules": text(json.dumps([list(entry) for entry in rules.rules.entries])),
            "version": number(rules.version),
        }
        condition = self._version_condition(None, previous_version)
        return self._transact(
            [
                {"Put": {"TableName": self._table, "Item": item, **condition}},
                self._not_erased_since(reference_id, fact_at),
            ]
        )

    def _not_erased_since(self, reference_id: str, at: int) -> Item:
        """A condition for a write about the app user from a fact at `at`: no erasure of theirs started after it."""
        return {
            "ConditionCheck": {
                "TableName": self._table,
                "Key": erased_key(reference_id),
                "ConditionExpression": "attribute_not_exists(pk) OR erased_at <= :at",
                "ExpressionAttributeValues": {":at": number(at)},
            }
        }

    def rule_candidates(self, reference_id: str, provider: str) -> list[str]:
        values = {":p": text(provider)}
        live = self._query(reference_id, LIVE, filter_expression="provider = :p", values=values)
        replaced = self._query(
            reference_id,
            HISTORY,
            filter_expression="provider = :p AND reason = :r",
            values={**values, ":r": text(EndReason.REPLACED_UNNAMED.value)},
        )
        return [item["terra_user_id"]["S"] for item in (*live, *replaced)]

    # --- what owners see ---

    def live_connections(self, reference_id: str, deadline: Deadline) -> list[Connection]:
        return [connection_of(reference_id, item) for item in self._query(reference_id, LIVE, deadline=deadline)]

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
            for item in self._query(reference_id, HISTORY)
        ]

    def _query(
        self,
        reference_id: str,
        prefix: str,
        *,
        deadline: Deadline | None = None,
        filter_expression: str | None = None,
        values: dict[str, Any] | None = None,
    ) -> Iterator[Item]:
        # An empty prefix: every item of the owner (DynamoDB refuses begins_with on an empty string).
        condition = "pk = :pk AND begins_with(sk, :prefix)" if prefix else "pk = :pk"
        request: Item = {
            "KeyConditionExpression": condition,
            "ExpressionAttributeValues": {":pk": text(owner_pk(reference_id)), **(values or {})},
            "ConsistentRead": True,
        }
        if prefix:
            request["ExpressionAttributeValues"][":prefix"] = text(prefix)
        if filter_expression:
            request["FilterExpression"] = filter_expression
        if self._page_limit:
            request["Limit"] = self._page_limit
        while True:
            page = self._call("query", **request)
            yield from page.get("Items", [])
            if "LastEvaluatedKey" not in page:
                return
            if deadline is not None and deadline.remaining() <= 0:
                # A partial list would hide live connections: better a retryable error than a wrong answer.
                raise RegistryUnavailable(log_context={"reason": "listing did not finish in time"})
            request["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    # --- attempts, deliveries, syncs ---

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
        self._transact(
            [
                {
                    "Put": {
                        "TableName": self._table,
                        "Item": item,
                        "ConditionExpression": "attribute_not_exists(pk) OR #order < :order",
                        "ExpressionAttributeNames": {"#order": "order"},
                        "ExpressionAttributeValues": {":order": item["order"]},
                    }
                },
                self._not_erased_since(reference_id, attempt.order()[0]),
            ]
        )

    def last_attempt(self, reference_id: str) -> AuthAttempt | None:
        item = self._call("get_item", Key=item_key(owner_pk(reference_id), "attempt"), ConsistentRead=True).get("Item")
        return attempt_of(item) if item else None

    def already_processed(self, delivery_id: str) -> bool:
        return "Item" in self._call("get_item", Key=_delivery_key(delivery_id), ProjectionExpression="pk")

    def mark_processed(self, delivery_id: str, at: datetime) -> None:
        expires = int((at + DELIVERY_RETENTION).timestamp())
        self._call("put_item", Item={**_delivery_key(delivery_id), "expires_at": number(expires)})

    def record_sdk_token(self, reference_id: str, issued_at: int, keep_until: int) -> None:
        item = {
            **item_key(owner_pk(reference_id), f"{SDK_TOKEN}{issued_at:015d}"),
            "issued_at": number(issued_at),
            "expires_at": number(keep_until // 1000),
        }
        self._call("put_item", Item=item)

    def sdk_tokens_issued(self, reference_id: str) -> list[int]:
        return [int(item["issued_at"]["N"]) for item in self._query(reference_id, SDK_TOKEN)]

    def record_unverified(self, reference_id: str, terra_user_id: str, provider: str, at: int) -> None:
        item = {
            **item_key(owner_pk(reference_id), f"{UNVERIFIED}{terra_user_id}"),
            "terra_user_id": text(terra_user_id),
            "provider": text(provider),
            "at": number(at // 1000),
            "expires_at": number(at // 1000 + self._retention),
        }
        self._transact([{"Put": {"TableName": self._table, "Item": item}}, self._not_erased_since(reference_id, at)])

    def was_unverified(self, reference_id: str, terra_user_id: str) -> bool:
        key = item_key(owner_pk(reference_id), f"{UNVERIFIED}{terra_user_id}")
        return "Item" in self._call("get_item", Key=key, ConsistentRead=True, ProjectionExpression="pk")

    def claim_sync(self, reference_id: str, now: int, min_interval: int) -> SyncClaim:
        key = item_key(owner_pk(reference_id), "sync")
        try:
            answer = self._raw(
                "update_item",
                Key=key,
                UpdateExpression="SET claimed_at = :now",
                ConditionExpression="attribute_not_exists(claimed_at) OR claimed_at <= :cutoff",
                ExpressionAttributeValues={":now": number(now), ":cutoff": number(now - min_interval)},
                ReturnValues="ALL_NEW",
            )
        except ClientError as error:
            if _code(error) != "ConditionalCheckFailedException":
                raise self._translate(error) from None
            item = self._call("get_item", Key=key, ConsistentRead=True).get("Item", {})
            return SyncClaim(False, optional_int(item, "synced_at"), optional_int(item, "claimed_at"))
        return SyncClaim(True, optional_int(answer.get("Attributes", {}), "synced_at"))

    def release_sync(self, reference_id: str, claimed_at: int) -> None:
        try:
            self._raw(
                "update_item",
                Key=item_key(owner_pk(reference_id), "sync"),
                UpdateExpression="REMOVE claimed_at",
                ConditionExpression="claimed_at = :claimed",
                ExpressionAttributeValues={":claimed": number(claimed_at)},
            )
        except ClientError as error:
            if _code(error) != "ConditionalCheckFailedException":  # another sync claimed since: its claim stands
                raise self._translate(error) from None

    def finish_sync(self, reference_id: str, now: int) -> None:
        self._call(
            "update_item",
            Key=item_key(owner_pk(reference_id), "sync"),
            UpdateExpression="SET synced_at = :now",
            ExpressionAttributeValues={":now": number(now)},
        )

    # --- reconciliation ---

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
        page = self._call("scan", **request)
        users, legacy = [], []
        for item in page.get("Items", []):
            if item["sk"]["S"] == RECORD:
                users.append(stored_user_of(item))
            else:
                legacy.append((json.dumps({"pk": item["pk"], "sk": item["sk"]}), legacy_change(item)))
        after = page.get("LastEvaluatedKey")
        return ScanPage(tuple(users), tuple(legacy), json.dumps(after) if after else None)

    def drop_legacy(self, token: str) -> None:
        self._call("delete_item", Key=json.loads(token))

    def reconciliation_cursor(self) -> ReconciliationCursor | None:
        item = self._call("get_item", Key=item_key("reconciliation", "cursor"), ConsistentRead=True).get("Item")
        return ReconciliationCursor(**json.loads(item["cursor"]["S"])) if item else None

    def save_reconciliation_cursor(self, cursor: ReconciliationCursor) -> None:
        state = {name: getattr(cursor, name) for name in ReconciliationCursor.__dataclass_fields__}
        self._call("put_item", Item={**item_key("reconciliation", "cursor"), "cursor": text(json.dumps(state))})

    # --- erasure ---

    def erasure_scope(self, reference_id: str) -> ErasureScope:
        terra_user_ids: set[str] = set()
        holds_data, pending = False, None
        for item in self._query(reference_id, ""):
            sk = item["sk"]["S"]
            if sk == ERASING:
                pending = erasure_of(reference_id, item)
                continue
            holds_data = True
            if sk.startswith((LIVE, HISTORY, UNVERIFIED)):
                terra_user_ids.add(item["terra_user_id"]["S"])
        return ErasureScope(frozenset(terra_user_ids), holds_data, pending)

    def mark_erased(self, reference_id: str, at: int) -> None:
        # Never moved earlier (a retry starts later); the claims it holds stay.
        self._rewrite_marker(reference_id, lambda started, claims: (max(at, started or at), claims))

    def claim_for_erasure(self, reference_id: str, terra_user_id: str) -> None:
        # No marker (it expired): nothing to claim for.
        self._rewrite_marker(reference_id, lambda started, claims: (started, claims | {terra_user_id}))

    def _rewrite_marker(
        self, reference_id: str, change: Callable[[int | None, frozenset[str]], tuple[int | None, frozenset[str]]]
    ) -> None:
        """Read the erasure marker, change it, and put it back if nobody changed it meanwhile (its start only rises
        and its claims only grow, so the two are its version). Puts, not updates: the functions' roles write the
        table with transactions of Put, Delete and ConditionCheck items, and single puts."""
        for _ in range(MAX_CONFLICT_RETRIES):
            item = self._call("get_item", Key=erased_key(reference_id), ConsistentRead=True).get("Item")
            started = int(item["erased_at"]["N"]) if item else None
            claims = frozenset(item.get("claims", {}).get("SS", [])) if item else frozenset()
            after, claimed = change(started, claims)
            if after is None or (after, claimed) == (started, claims):
                return
            marker: Item = {
                **erased_key(reference_id),
                "erased_at": number(after),
                "expires_at": number(after // 1000 + self._retention),
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
            if self._transact([{"Put": {"TableName": self._table, "Item": marker, **condition}}]):
                return
        raise RegistryUnavailable(log_context={"reason": "conflicting writes to an erasure marker"})

    def erasure_claims(self, reference_id: str) -> frozenset[str]:
        item = self._call("get_item", Key=erased_key(reference_id), ConsistentRead=True).get("Item", {})
        return frozenset(item.get("claims", {}).get("SS", []))

    def begin_erasure(self, erasure: Erasure) -> Erasure:
        began = self._transact(
            [
                {
                    "Put": {
                        "TableName": self._table,
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
        item = self._call("get_item", Key=key, ConsistentRead=True).get("Item")
        return erasure_of(erasure.reference_id, item) if item else self.begin_erasure(erasure)

    def erased_at(self, reference_id: str) -> int | None:
        item = self._call("get_item", Key=erased_key(reference_id), ConsistentRead=True).get("Item")
        return int(item["erased_at"]["N"]) if item else None

    def delete_owner_data(self, reference_id: str, terra_user_ids: frozenset[str]) -> int:
        keys = []
        for item in self._query(reference_id, ""):
            sk = item["sk"]["S"]
            if sk == ERASING:
                continue
            if sk.startswith((LIVE, HISTORY)) and item["terra_user_id"]["S"] not in terra_user_ids:
                continue  # a connection made while the erasure ran: its record owns the view
            keys.append(item_key(item["pk"]["S"], sk))
        for start in range(0, len(keys), MAX_TRANSACT):
            chunk = keys[start : start + MAX_TRANSACT]
            self._transact([{"Delete": {"TableName": self._table, "Key": key}} for key in chunk])
        return len(keys)

    def finish_erasure(self, erasure: Erasure, event: tuple[str, dict[str, Any]], claims: int) -> bool:
        detail_type, detail = event
        outbox = {
            **item_key(f"{OUTBOX}{detail['id']}", "event"),
            "detail_type": text(detail_type),
            "detail": text(json.dumps(detail)),
            "expires_at": number(erasure.started_at // 1000 + int(OUTBOX_RETENTION.total_seconds())),
        }
        return self._transact(
            [
                {
                    "Delete": {
                        "TableName": self._table,
                        "Key": item_key(owner_pk(erasure.reference_id), ERASING),
                        "ConditionExpression": "erasure_id = :id",
                        "ExpressionAttributeValues": {":id": text(erasure.id)},
                    }
                },
                {"Put": {"TableName": self._table, "Item": outbox, "ConditionExpression": "attribute_not_exists(pk)"}},
                {
                    # Claims only grow: as many as were handled means none came meanwhile.
                    "ConditionCheck": {
                        "TableName": self._table,
                        "Key": erased_key(erasure.reference_id),
                        "ConditionExpression": "attribute_not_exists(claims) OR size(claims) = :claims",
                        "ExpressionAttributeValues": {":claims": number(claims)},
                    }
                },
            ]
        )

    # --- calls ---

    def _transact(self, operations: list[Item]) -> bool:
        """True when written; False when a condition failed (the caller reads again and retries)."""
        try:
            self._raw("transact_write_items", TransactItems=operations)
        except ClientError as error:
            if _code(error) == "TransactionCanceledException":
                reasons = {reason.get("Code") for reason in error.response.get("CancellationReasons", [])}
                if reasons & _CONFLICTS:
                    return False
                if "ValidationError" in reasons:
                    raise RegistryRejected(log_context={"reason": "DynamoDB refused the item"}) from None
                if reasons & _OUTAGES:
                    raise RegistryUnavailable(log_context={"dynamodb_error": sorted(reasons & _OUTAGES)}) from None
            raise self._translate(error) from None
        return True

    def _call(self, operation: str, **kwargs: Any) -> dict[str, Any]:
        try:
            return self._raw(operation, **kwargs)
        except ClientError as error:
            raise self._translate(error) from None

    def _raw(self, operation: str, **kwargs: Any) -> dict[str, Any]:
        """The SDK call; transport failures become RegistryUnavailable, service errors are left to the caller."""
        if operation not in {"transact_write_items", "batch_get_item"}:
            kwargs["TableName"] = self._table
        try:
            result: dict[str, Any] = getattr(self._client, operation)(**kwargs)
        except BotoCoreError as error:
            raise RegistryUnavailable(log_context={"dynamodb_error": type(error).__name__}) from None
        return result

    @staticmethod
    def _translate(error: ClientError) -> Exception:
        code = _code(error)
        if code in {"ResourceNotFoundException", "AccessDeniedException"}:
            return ConfigurationError(log_context={"reason": "the connections table cannot be used", "error": code})
        if code == "ValidationException":
            # An item or key beyond DynamoDB's limits: retrying cannot help.
            return RegistryRejected(log_context={"reason": "DynamoDB refused the item"})
        return RegistryUnavailable(log_context={"dynamodb_error": code})


def _code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", "Unknown"))


def _delivery_key(delivery_id: str) -> dict[str, dict[str, str]]:
    # Hashed: Terra's trace ids have no documented length, and a key over 1 KB is refused.
    digest = hashlib.sha256(delivery_id.encode("utf-8", "surrogatepass")).hexdigest()
    return item_key(f"delivery#{digest}", "delivery")
