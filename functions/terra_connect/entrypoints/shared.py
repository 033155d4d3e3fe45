"""What more than one function composes alike: the Terra secret, the connections table, the registry over it.

Nothing here imports the Terra HTTP client (requests): the webhook function never calls Terra.
"""

from terra_connect.connections.dynamodb import DynamoDBRegistryStore
from terra_connect.connections.registry import ConnectionRegistry
from terra_connect.platform.observability import observe_erased_fact, observe_unverified_sdk_connection
from terra_connect.platform.secrets import SecretsManagerCredentials
from terra_connect.sdk.binding import SdkBinding
from terra_connect.settings import CommonSettings


def credentials(settings: CommonSettings) -> SecretsManagerCredentials:
    return SecretsManagerCredentials(
        settings.terra_secret_arn,
        max_age_seconds=settings.secret_cache_ttl_seconds,
        endpoint_url=settings.local_aws_endpoint_url,
    )


def store(settings: CommonSettings) -> DynamoDBRegistryStore:
    return DynamoDBRegistryStore(
        settings.connections_table,
        retention=settings.history_retention,
        endpoint_url=settings.local_aws_endpoint_url,
    )


def registry(table: DynamoDBRegistryStore) -> ConnectionRegistry:
    """Every registry binds SDK connections to the tokens issued: webhooks, syncs and reconciliation alike."""
    return ConnectionRegistry(
        table, SdkBinding(table, observe_unverified_sdk_connection), on_erased_fact=observe_erased_fact
    )
