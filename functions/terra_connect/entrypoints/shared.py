"""What more than one function composes alike: the Terra secret, the connections table and its adapters, the
registry over them.

Nothing here imports the Terra HTTP client (requests): the webhook function never calls Terra.
"""

from dataclasses import dataclass

from terra_connect.connections.dynamodb import DynamoDBDeliveryLog, DynamoDBRecordStore
from terra_connect.connections.registry import ConnectionRegistry
from terra_connect.connections.table_client import ConnectionsTable
from terra_connect.erasure.dynamodb import DynamoDBErasureStore
from terra_connect.platform.observability import observe_erased_fact, observe_unverified_sdk_connection
from terra_connect.platform.secrets import SecretsManagerCredentials
from terra_connect.sdk.binding import SdkBinding
from terra_connect.sdk.dynamodb import DynamoDBSdkTokenStore
from terra_connect.settings import CommonSettings
from terra_connect.sync.dynamodb import DynamoDBReconciliationStore, DynamoDBSyncClaims


@dataclass(frozen=True, slots=True)
class RegistryStores:
    """The connections table's adapters, one per port, over one client."""

    table: ConnectionsTable
    records: DynamoDBRecordStore
    deliveries: DynamoDBDeliveryLog
    sdk_tokens: DynamoDBSdkTokenStore
    sync_claims: DynamoDBSyncClaims
    reconciliation: DynamoDBReconciliationStore
    erasures: DynamoDBErasureStore

    @classmethod
    def over(cls, table: ConnectionsTable) -> "RegistryStores":
        return cls(
            table=table,
            records=DynamoDBRecordStore(table),
            deliveries=DynamoDBDeliveryLog(table),
            sdk_tokens=DynamoDBSdkTokenStore(table),
            sync_claims=DynamoDBSyncClaims(table),
            reconciliation=DynamoDBReconciliationStore(table),
            erasures=DynamoDBErasureStore(table),
        )


def credentials(settings: CommonSettings) -> SecretsManagerCredentials:
    return SecretsManagerCredentials(
        settings.terra_secret_arn,
        max_age_seconds=settings.secret_cache_ttl_seconds,
        endpoint_url=settings.local_aws_endpoint_url,
    )


def stores(settings: CommonSettings) -> RegistryStores:
    table = ConnectionsTable(
        settings.connections_table,
        retention=settings.history_retention,
        endpoint_url=settings.local_aws_endpoint_url,
    )
    return RegistryStores.over(table)


def registry(stores: RegistryStores) -> ConnectionRegistry:
    """Every registry binds SDK connections to the tokens issued: webhooks, syncs and reconciliation alike."""
    return ConnectionRegistry(
        stores.records,
        stores.erasures,
        stores.deliveries,
        SdkBinding(stores.sdk_tokens, observe_unverified_sdk_connection),
        on_erased_fact=observe_erased_fact,
    )
