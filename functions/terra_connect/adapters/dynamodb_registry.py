"""The connection registry in one DynamoDB table.

    pk = reference_id,         sk = "user#<terra_user_id>"   one connection (GSI by-terra-user on terra_user_id)
    pk = reference_id,         sk = "attempt"                the latest widget / custom-UI outcome
    pk = "delivery#<trace id>", sk = "delivery"              a processed webhook delivery (expires after 7 days)

"All connections of a reference_id" is one Query. Every state change is a conditional write, so a
tombstone (disconnected, replaced) can never be overwritten, whatever order events arrive in.
"""

from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from terra_connect.domain.connections import AuthAttempt, Connection, ConnectionStatus, TerraUser
from terra_connect.domain.errors import ConfigurationError, RegistryUnavailable

CLIENT_CONFIG = Config(connect_timeout=1, read_timeout=2, retries={"mode": "standard", "max_attempts": 3})
OWNER_INDEX = "by-terra-user"
DELIVERY_RETENTION = timedelta(days=7)
_FINAL = {":disconnected": {"S": ConnectionStatus.DISCONNECTED}, ":replaced": {"S": ConnectionStatus.REPLACED}}
_NOT_FINAL = "(attribute_not_exists(#status) OR NOT #status IN (:disconnected, :replaced))"
_USER_PREFIX = "user#"


def _s(value: str) -> dict[str, str]:
    return {"S": value}


def _time(value: datetime) -> dict[str, str]:
    return _s(value.astimezone(UTC).isoformat(timespec="seconds"))


def _parse_time(item: dict[str, Any], name: str) -> datetime | None:
    value = item.get(name, {}).get("S")
    return datetime.fromisoformat(value) if value else None


class DynamoDBConnectionRegistry:
    def __init__(self, table_name: str, *, endpoint_url: str | None = None) -> None:
        self._table = table_name
        self._client = boto3.session.Session().client("dynamodb", config=CLIENT_CONFIG, endpoint_url=endpoint_url)

    def _call(self, operation: str, **kwargs: Any) -> dict[str, Any]:
        try:
            result: dict[str, Any] = getattr(self._client, operation)(TableName=self._table, **kwargs)
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "Unknown")
            if code == "ConditionalCheckFailedException":
                raise
            if code in {"ResourceNotFoundException", "AccessDeniedException"}:
                raise ConfigurationError(
                    log_context={"reason": "the connections table cannot be used", "error": code}
                ) from None
            raise RegistryUnavailable(log_context={"dynamodb_error": code}) from None
        except BotoCoreError as exc:
            raise RegistryUnavailable(log_context={"dynamodb_error": type(exc).__name__}) from None
        return result

    def _conditional(self, **kwargs: Any) -> bool:
        try:
            self._call("update_item", **kwargs)
        except ClientError:
            return False  # the condition held the state: a tombstone, or an unknown connection
        return True

    def connections_of(self, reference_id: str) -> list[Connection]:
        result = self._call(
            "query",
            KeyConditionExpression="pk = :pk AND begins_with(sk, :prefix)",
            ExpressionAttributeValues={":pk": _s(reference_id), ":prefix": _s(_USER_PREFIX)},
        )
        return [self._connection(item) for item in result.get("Items", [])]

    def connection(self, reference_id: str, terra_user_id: str) -> Connection | None:
        item = self._call("get_item", Key=self._key(reference_id, terra_user_id)).get("Item")
        return self._connection(item) if item else None

    def owner_of(self, terra_user_id: str) -> str | None:
        result = self._call(
            "query",
            IndexName=OWNER_INDEX,
            KeyConditionExpression="terra_user_id = :id",
            ExpressionAttributeValues={":id": _s(terra_user_id)},
            Limit=1,
        )
        items = result.get("Items", [])
        return str(items[0]["pk"]["S"]) if items else None

    def record_connected(self, reference_id: str, user: TerraUser, at: datetime) -> bool:
        names = {"#status": "status"}
        values: dict[str, Any] = {
            ":connected": _s(ConnectionStatus.CONNECTED),
            ":id": _s(user.terra_user_id),
            ":provider": _s(user.provider),
            ":now": _time(at),
            **_FINAL,
        }
        update = "SET #status = :connected, terra_user_id = :id, provider = :provider, updated_at = :now, "
        update += "connected_at = if_not_exists(connected_at, :now)"
        if user.scopes:
            update += ", scopes = :scopes"
            values[":scopes"] = {"SS": list(user.scopes)}
        return self._conditional(
            Key=self._key(reference_id, user.terra_user_id),
            UpdateExpression=update,
            ConditionExpression=_NOT_FINAL,
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=values,
        )

    def record_status(
        self,
        reference_id: str,
        terra_user_id: str,
        status: ConnectionStatus,
        at: datetime,
        provider: str | None = None,
    ) -> bool:
        # A final status is written even for a connection not seen yet: it arrived before its `auth` event,
        # and the tombstone is what stops that late `auth` from connecting it.
        condition = _NOT_FINAL if status.is_final else f"attribute_exists(pk) AND {_NOT_FINAL}"
        return self._conditional(
            Key=self._key(reference_id, terra_user_id),
            UpdateExpression="SET #status = :status, terra_user_id = :id, updated_at = :now, "
            "provider = if_not_exists(provider, :provider)",
            ConditionExpression=condition,
            ExpressionAttributeNames={"#status": "status"},
            ExpressionAttributeValues={
                ":status": _s(status),
                ":id": _s(terra_user_id),
                ":now": _time(at),
                ":provider": _s(provider or "UNKNOWN"),
                **_FINAL,
            },
        )

    def record_scopes(self, reference_id: str, terra_user_id: str, scopes: tuple[str, ...], at: datetime) -> bool:
        update = "SET updated_at = :now" + (", scopes = :scopes" if scopes else " REMOVE scopes")
        values: dict[str, Any] = {":now": _time(at), **_FINAL}
        if scopes:
            values[":scopes"] = {"SS": list(scopes)}
        return self._conditional(
            Key=self._key(reference_id, terra_user_id),
            UpdateExpression=update,
            ConditionExpression=f"attribute_exists(pk) AND {_NOT_FINAL}",
            ExpressionAttributeNames={"#status": "status"},
            ExpressionAttributeValues=values,
        )

    def record_attempt(self, reference_id: str, attempt: AuthAttempt) -> None:
        item: dict[str, Any] = {"pk": _s(reference_id), "sk": _s("attempt"), "status": _s(attempt.status)}
        if attempt.provider:
            item["provider"] = _s(attempt.provider)
        if attempt.reason:
            item["reason"] = _s(attempt.reason)
        if attempt.at:
            item["at"] = _time(attempt.at)
        self._call("put_item", Item=item)

    def last_attempt(self, reference_id: str) -> AuthAttempt | None:
        item = self._call("get_item", Key={"pk": _s(reference_id), "sk": _s("attempt")}).get("Item")
        if not item:
            return None
        return AuthAttempt(
            status=item["status"]["S"],
            provider=item.get("provider", {}).get("S"),
            reason=item.get("reason", {}).get("S"),
            at=_parse_time(item, "at"),
        )

    def already_processed(self, delivery_id: str) -> bool:
        key = {"pk": _s(f"delivery#{delivery_id}"), "sk": _s("delivery")}
        return "Item" in self._call("get_item", Key=key, ProjectionExpression="pk")

    def mark_processed(self, delivery_id: str, at: datetime) -> None:
        expires = int((at + DELIVERY_RETENTION).timestamp())
        item = {"pk": _s(f"delivery#{delivery_id}"), "sk": _s("delivery"), "expires_at": {"N": str(expires)}}
        self._call("put_item", Item=item)

    @staticmethod
    def _key(reference_id: str, terra_user_id: str) -> dict[str, dict[str, str]]:
        return {"pk": _s(reference_id), "sk": _s(_USER_PREFIX + terra_user_id)}

    @staticmethod
    def _connection(item: dict[str, Any]) -> Connection:
        return Connection(
            reference_id=item["pk"]["S"],
            terra_user_id=item["sk"]["S"].removeprefix(_USER_PREFIX),
            provider=item.get("provider", {}).get("S", "UNKNOWN"),
            status=ConnectionStatus(item.get("status", {}).get("S", ConnectionStatus.CONNECTED)),
            scopes=tuple(sorted(item.get("scopes", {}).get("SS", []))),
            connected_at=_parse_time(item, "connected_at"),
            updated_at=_parse_time(item, "updated_at"),
        )
