"""Lambda entry point of the webhook function (Terra's signed deliveries, no JWT), and its composition: the
signed-delivery receiver, built once per container."""

import os
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any

from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.config import Config

from terra_connect.connections.table_client import ConnectionsTable
from terra_connect.entrypoints import shared
from terra_connect.health_data.s3_store import S3RawArchive
from terra_connect.health_data.sqs_queue import SqsDeliveryQueue
from terra_connect.http.resolver import create_resolver
from terra_connect.platform import snapstart
from terra_connect.platform.observability import logger, metrics
from terra_connect.platform.secrets import SecretsManagerCredentials
from terra_connect.settings import ClaimCheckSettings, WebhookSettings
from terra_connect.webhooks import routes as webhook_routes
from terra_connect.webhooks.data_events import ClaimCheck
from terra_connect.webhooks.processor import WebhookProcessor
from terra_connect.webhooks.receiver import WebhookReceiver

# Terra waits about 8 s and the function 6 s: one short retry each for S3 and SQS, never a long wait on either.
CLAIM_CHECK_CLIENTS = Config(connect_timeout=1, read_timeout=3, retries={"mode": "standard", "max_attempts": 2})


@dataclass(frozen=True, slots=True)
class WebhookContainer:
    settings: WebhookSettings
    receiver: WebhookReceiver
    credentials: SecretsManagerCredentials
    table: ConnectionsTable
    archive: S3RawArchive | None = None
    queues: tuple[SqsDeliveryQueue, ...] = ()

    def before_snapshot(self) -> None:
        """SnapStart: no signing secret and no open connection goes into a snapshot."""
        self.credentials.forget()
        self.table.close()
        for client in (self.archive, *self.queues):
            if client is not None:
                client.close()


@cache
def get_webhook_container() -> WebhookContainer:
    """Built on first use, then reused by every invocation."""
    return build_webhook_container(os.environ)


def build_webhook_container(env: Mapping[str, str]) -> WebhookContainer:
    settings = WebhookSettings.from_env(env)
    stores = shared.stores(settings)
    processor = WebhookProcessor(shared.registry(stores))
    credentials = shared.credentials(settings)
    data = settings.claim_check
    if data is None:
        receiver = WebhookReceiver(credentials, processor)
        return WebhookContainer(settings=settings, receiver=receiver, credentials=credentials, table=stores.table)
    archive, ingest, fetch = claim_check_clients(data, settings.local_aws_endpoint_url)
    claim_check = ClaimCheck(archive, data.bucket, ingest=ingest, fetch=fetch)
    return WebhookContainer(
        settings=settings,
        receiver=WebhookReceiver(credentials, processor, claim_check=claim_check),
        credentials=credentials,
        table=stores.table,
        archive=archive,
        queues=(ingest, fetch),
    )


def claim_check_clients(
    data: ClaimCheckSettings, endpoint_url: str | None
) -> tuple[S3RawArchive, SqsDeliveryQueue, SqsDeliveryQueue]:
    """The raw archive, the ingest queue and the fetch queue, with the webhook's short timeouts."""
    archive = S3RawArchive(
        data.bucket, kms_key_id=data.kms_key_id, endpoint_url=endpoint_url, config=CLAIM_CHECK_CLIENTS
    )
    ingest = SqsDeliveryQueue(data.ingest_queue_url, endpoint_url=endpoint_url, config=CLAIM_CHECK_CLIENTS)
    fetch = SqsDeliveryQueue(data.fetch_queue_url, endpoint_url=endpoint_url, config=CLAIM_CHECK_CLIENTS)
    return archive, ingest, fetch


# Cold start: a bad setting fails the init phase, not every delivery.
get_webhook_container()
snapstart.register(lambda: get_webhook_container().before_snapshot())
app = create_resolver(webhook_routes.router)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP, log_event=False)
@metrics.log_metrics(capture_cold_start_metric=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
