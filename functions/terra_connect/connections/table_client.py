"""The connections table as every adapter of it calls it: one client, its calls and transactions, the answers
they fail with, and the conditions many writes share. connections/dynamodb.py describes the layout."""

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from terra_connect.connections.table import CLIENT_CONFIG, Item, erased_key, number, owner_pk, text
from terra_connect.kernel.deadline import Deadline
from terra_connect.kernel.errors import ConfigurationError, RegistryRejected, RegistryUnavailable
from terra_connect.platform.aws_clients import DYNAMODB_OUTAGES, aws_client

_CONFLICTS = frozenset({"ConditionalCheckFailed", "TransactionConflict"})


class ConnectionsTable:
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
        self.name = table_name
        self.retention = int(retention.total_seconds())
        self.page_limit = page_limit
        self._client = aws_client("dynamodb", config=CLIENT_CONFIG, endpoint_url=endpoint_url)

    def close(self) -> None:
        """Close the SDK's pooled connections; the next call opens a new one."""
        self._client.close()

    def query(
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
        if self.page_limit:
            request["Limit"] = self.page_limit
        while True:
            page = self.call("query", **request)
            yield from page.get("Items", [])
            if "LastEvaluatedKey" not in page:
                return
            if deadline is not None and deadline.remaining() <= 0:
                # A partial list would hide live connections: better a retryable error than a wrong answer.
                raise RegistryUnavailable(log_context={"reason": "listing did not finish in time"})
            request["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def not_erased_since(self, reference_id: str, at: int) -> Item:
        """A condition for a write about the app user from a fact at `at`: no erasure of theirs started after it."""
        return {
            "ConditionCheck": {
                "TableName": self.name,
                "Key": erased_key(reference_id),
                "ConditionExpression": "attribute_not_exists(pk) OR erased_at <= :at",
                "ExpressionAttributeValues": {":at": number(at)},
            }
        }

    def transact(self, operations: list[Item]) -> bool:
        """True when written; False when a condition failed (the caller reads again and retries)."""
        try:
            self.raw("transact_write_items", TransactItems=operations)
        except ClientError as error:
            if error_code(error) == "TransactionCanceledException":
                reasons = {reason.get("Code") for reason in error.response.get("CancellationReasons", [])}
                if reasons & _CONFLICTS:
                    return False
                if "ValidationError" in reasons:
                    raise RegistryRejected(log_context={"reason": "DynamoDB refused the item"}) from None
                if reasons & DYNAMODB_OUTAGES:
                    raise RegistryUnavailable(
                        log_context={"dynamodb_error": sorted(reasons & DYNAMODB_OUTAGES)}
                    ) from None
            raise translate(error) from None
        return True

    def call(self, operation: str, **kwargs: Any) -> dict[str, Any]:
        try:
            return self.raw(operation, **kwargs)
        except ClientError as error:
            raise translate(error) from None

    def raw(self, operation: str, **kwargs: Any) -> dict[str, Any]:
        """The SDK call; transport failures become RegistryUnavailable, service errors are left to the caller."""
        if operation not in {"transact_write_items", "batch_get_item"}:
            kwargs["TableName"] = self.name
        try:
            result: dict[str, Any] = getattr(self._client, operation)(**kwargs)
        except BotoCoreError as error:
            raise RegistryUnavailable(log_context={"dynamodb_error": type(error).__name__}) from None
        return result


def version_condition(key: dict[str, Any] | None, version: int) -> Item:
    condition: Item = (
        {"ConditionExpression": "attribute_not_exists(pk)"}
        if version == 0
        else {
            "ConditionExpression": "version = :version",
            "ExpressionAttributeValues": {":version": number(version)},
        }
    )
    return {**({"Key": key} if key else {}), **condition}


def translate(error: ClientError) -> Exception:
    code = error_code(error)
    if code in {"ResourceNotFoundException", "AccessDeniedException"}:
        return ConfigurationError(log_context={"reason": "the connections table cannot be used", "error": code})
    if code == "ValidationException":
        # An item or key beyond DynamoDB's limits: retrying cannot help.
        return RegistryRejected(log_context={"reason": "DynamoDB refused the item"})
    return RegistryUnavailable(log_context={"dynamodb_error": code})


def error_code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", "Unknown"))
