"""Lambda entry point of the API function (every JWT-protected route), and its composition: settings and long-lived
clients, built once per container. Routes reach the services through http/dependencies.services()."""

import os
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from terra_connect.connections.service import ConnectionsService
from terra_connect.connections.table_client import ConnectionsTable
from terra_connect.entrypoints import shared
from terra_connect.entrypoints.api_routes import API_ROUTERS
from terra_connect.erasure.service import ErasureService
from terra_connect.http.media_types import as_validation_reads_it
from terra_connect.http.resolver import create_resolver
from terra_connect.platform import snapstart
from terra_connect.platform.observability import (
    logger,
    metrics,
    observe_stale_prefill,
    observe_terra_attempt,
    observe_widget_url_found,
)
from terra_connect.platform.secrets import SecretsManagerCredentials
from terra_connect.providers.service import ProvidersService
from terra_connect.sdk.tokens import SdkTokenService
from terra_connect.settings import Settings
from terra_connect.sync.service import SyncService
from terra_connect.terra.client import TerraClient
from terra_connect.widget_sessions.service import WidgetSessionService

if TYPE_CHECKING:
    from terra_connect.data_erasure.models import PurgeRequest
    from terra_connect.data_erasure.sqs import SqsPurgeRequests
    from terra_connect.health_data.queries import DataQuery
    from terra_connect.health_data.reads import DataPage, DataReader


class DataReads:
    """The read route's index and bucket clients, built on the first data read rather than at init: every other
    route's cold start would otherwise pay for the S3 client and the data modules (docs/performance.md)."""

    def __init__(self, table: str, bucket: str, connections_table: str, endpoint_url: str | None) -> None:
        self._where = (table, bucket, connections_table, endpoint_url)
        self._lock = threading.Lock()
        self._reader: DataReader | None = None
        self._clients: tuple[Any, ...] = ()

    def read(self, reference_id: str, query: "DataQuery") -> "DataPage":
        return self._built().read(reference_id, query)

    def close(self) -> None:
        with self._lock:
            for client in self._clients:
                client.close()
            self._reader, self._clients = None, ()

    def _built(self) -> "DataReader":
        with self._lock:
            if self._reader is None:
                from terra_connect.health_data.dynamodb_index import DynamoDBRecordIndex  # noqa: PLC0415 - see above
                from terra_connect.health_data.reads import DataReader  # noqa: PLC0415
                from terra_connect.health_data.s3_store import S3RecordObjects  # noqa: PLC0415

                table, bucket, connections_table, endpoint = self._where
                index = DynamoDBRecordIndex(table, connections_table, endpoint_url=endpoint)
                # Reads put nothing, so no key to encrypt with; reading an SSE-KMS object needs none either.
                objects = S3RecordObjects(bucket, kms_key_id="", endpoint_url=endpoint)
                self._reader, self._clients = DataReader(index, objects), (index, objects)
            return self._reader


class PurgeQueue:
    """Where an erasure asks for its data's purge (ports.PurgeRequests), its SQS client built on the first erasure,
    like the read route's clients."""

    def __init__(self, queue_url: str, endpoint_url: str | None) -> None:
        self._where = (queue_url, endpoint_url)
        self._lock = threading.Lock()
        self._queue: SqsPurgeRequests | None = None

    def request(self, request: "PurgeRequest", *, delay_seconds: int = 0) -> None:
        with self._lock:
            if self._queue is None:
                from terra_connect.data_erasure.sqs import SqsPurgeRequests  # noqa: PLC0415 - see DataReads

                queue_url, endpoint_url = self._where
                self._queue = SqsPurgeRequests(queue_url, endpoint_url=endpoint_url)
            queue = self._queue
        queue.request(request, delay_seconds=delay_seconds)

    def close(self) -> None:
        with self._lock:
            if self._queue is not None:
                self._queue.close()
            self._queue = None


@dataclass(frozen=True, slots=True)
class ApiContainer:
    settings: Settings
    widget_sessions: WidgetSessionService
    connections: ConnectionsService
    sync: SyncService
    erasure: ErasureService
    sdk_tokens: SdkTokenService
    providers: ProvidersService
    credentials: SecretsManagerCredentials
    terra: TerraClient
    table: ConnectionsTable
    data: DataReads | None = None  # None: no data store in this deployment
    purges: PurgeQueue | None = None

    def before_snapshot(self) -> None:
        """SnapStart: nothing read from Secrets Manager or Terra, and no open connection, goes into a snapshot."""
        self.credentials.forget()
        self.providers.forget()
        self.terra.close()
        self.table.close()
        if self.data is not None:
            self.data.close()
        if self.purges is not None:
            self.purges.close()


@cache
def get_container() -> ApiContainer:
    """The API function's container: built on first use, then reused by every invocation."""
    return build_container(os.environ)


def build_container(env: Mapping[str, str], *, sleep: Callable[[float], None] = time.sleep) -> ApiContainer:
    """Wire settings, adapters and services; the HTTP session inside TerraClient keeps connections warm."""
    settings = Settings.from_env(env)
    credentials = shared.credentials(settings)
    terra = TerraClient(
        widget_session_url=settings.terra_widget_session_url,
        api_base_url=settings.terra_api_base_url,
        credentials=credentials,
        observe=observe_terra_attempt,
        on_widget_url_found=observe_widget_url_found,
        sleep=sleep,
    )
    stores = shared.stores(settings)
    purges = (
        None
        if settings.purge_queue_url is None
        else PurgeQueue(settings.purge_queue_url, settings.local_aws_endpoint_url)
    )
    registry = shared.registry(stores)
    widget_sessions = WidgetSessionService(
        terra,
        settings.redirect_policy,
        default_success_redirect_url=settings.default_success_redirect_url,
        default_failure_redirect_url=settings.default_failure_redirect_url,
        apple_app_url=settings.apple_app_url,
        samsung_app_url=settings.samsung_app_url,
        # The legacy endpoint ignores connected_uids: no registry read on its path.
        registry=None if settings.legacy_widget_endpoint else registry,
        on_stale_prefill=observe_stale_prefill,
    )
    providers = ProvidersService(terra)
    connections = ConnectionsService(
        registry,
        terra,
        settings.redirect_policy,
        providers=providers,
        default_success_redirect_url=settings.default_success_redirect_url,
        default_failure_redirect_url=settings.default_failure_redirect_url,
    )
    return ApiContainer(
        settings=settings,
        widget_sessions=widget_sessions,
        connections=connections,
        sync=SyncService(registry, stores.sync_claims, terra, connections),
        erasure=ErasureService(registry, stores.records, stores.erasures, terra, purges=purges),
        sdk_tokens=SdkTokenService(terra, stores.sdk_tokens),
        providers=providers,
        credentials=credentials,
        terra=terra,
        table=stores.table,
        data=None
        if settings.data is None
        else DataReads(
            settings.data.table, settings.data.bucket, settings.connections_table, settings.local_aws_endpoint_url
        ),
        purges=purges,
    )


# Cold start: parse and validate the settings and build the clients now, so a bad setting fails
# the init phase loudly instead of every request.
get_container()
snapstart.register(lambda: get_container().before_snapshot())
app = create_resolver(*API_ROUTERS, enable_validation=True)


@logger.inject_lambda_context(log_event=False)
@metrics.log_metrics(capture_cold_start_metric=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    # API Gateway's request id, read directly: the same correlation id as `correlation_paths.API_GATEWAY_HTTP`,
    # without a JMESPath search on every request.
    logger.set_correlation_id((event.get("requestContext") or {}).get("requestId"))
    return app.resolve(as_validation_reads_it(event), context)
