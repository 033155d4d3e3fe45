"""ports.OwnerDirectory over the connection registry's table, read only (connections/dynamodb.py writes it).

Two items are read, both strongly consistent, so a payload processed right after its `auth` webhook sees the owner:
- `terra-user#<id>` / `record`: `owner` (absent while no fact named one, and on an erased app user's tombstone),
  `erased_at` (only on a tombstone);
- `erased#<sha256(reference_id)>` / `erased`: `erased_at`, when the app user's latest erasure began (ms).
"""

from typing import Any

from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from terra_connect.health_data.dynamodb_index import erasure_marker_key, terra_user_key
from terra_connect.health_data.models import Ownership
from terra_connect.kernel.errors import ConfigurationError, RegistryUnavailable
from terra_connect.platform.aws_clients import aws_client

CLIENT_CONFIG = Config(connect_timeout=1, read_timeout=2, retries={"mode": "standard", "max_attempts": 3})


class DynamoDBOwnerDirectory:
    def __init__(
        self, connections_table: str, *, endpoint_url: str | None = None, config: Config = CLIENT_CONFIG
    ) -> None:
        self._table = connections_table
        self._client = aws_client("dynamodb", config=config, endpoint_url=endpoint_url)

    def close(self) -> None:
        self._client.close()

    def owner_of(self, terra_user_id: str) -> Ownership:
        item = self._get(terra_user_key(terra_user_id), "pk, #o, erased_at", {"#o": "owner"})
        if item is None:
            return Ownership(None, known=False)
        owner = item.get("owner", {}).get("S")
        return Ownership(owner, known=True, erased="erased_at" in item)

    def erased_at(self, reference_id: str) -> int | None:
        item = self._get(erasure_marker_key(reference_id), "erased_at", {})
        return int(item["erased_at"]["N"]) if item and "erased_at" in item else None

    def _get(self, key: dict[str, Any], projection: str, names: dict[str, str]) -> dict[str, Any] | None:
        try:
            answer = self._client.get_item(
                TableName=self._table,
                Key=key,
                ConsistentRead=True,
                ProjectionExpression=projection,
                **({"ExpressionAttributeNames": names} if names else {}),
            )
        except BotoCoreError as error:
            raise RegistryUnavailable(log_context={"dynamodb_error": type(error).__name__}) from None
        except ClientError as error:
            code = str(error.response.get("Error", {}).get("Code", "Unknown"))
            if code in {"ResourceNotFoundException", "AccessDeniedException", "ValidationException"}:
                raise ConfigurationError(
                    log_context={"reason": "the connections table cannot be used", "error": code}
                ) from None
            raise RegistryUnavailable(log_context={"dynamodb_error": code}) from None
        item: dict[str, Any] | None = answer.get("Item")
        return item
