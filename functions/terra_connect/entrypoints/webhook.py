"""Lambda entry point of the webhook function (Terra's signed deliveries, no JWT), and its composition: the
signed-delivery receiver, built once per container."""

import os
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any

from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from terra_connect.connections.table_client import ConnectionsTable
from terra_connect.entrypoints import shared
from terra_connect.http.resolver import create_resolver
from terra_connect.platform import snapstart
from terra_connect.platform.observability import logger, metrics
from terra_connect.platform.secrets import SecretsManagerCredentials
from terra_connect.settings import WebhookSettings
from terra_connect.webhooks import routes as webhook_routes
from terra_connect.webhooks.processor import WebhookProcessor
from terra_connect.webhooks.receiver import WebhookReceiver


@dataclass(frozen=True, slots=True)
class WebhookContainer:
    settings: WebhookSettings
    receiver: WebhookReceiver
    credentials: SecretsManagerCredentials
    table: ConnectionsTable

    def before_snapshot(self) -> None:
        """SnapStart: no signing secret and no open connection goes into a snapshot."""
        self.credentials.forget()
        self.table.close()


@cache
def get_webhook_container() -> WebhookContainer:
    """Built on first use, then reused by every invocation."""
    return build_webhook_container(os.environ)


def build_webhook_container(env: Mapping[str, str]) -> WebhookContainer:
    settings = WebhookSettings.from_env(env)
    stores = shared.stores(settings)
    processor = WebhookProcessor(shared.registry(stores))
    credentials = shared.credentials(settings)
    return WebhookContainer(
        settings=settings, receiver=WebhookReceiver(credentials, processor), credentials=credentials, table=stores.table
    )


# Cold start: a bad setting fails the init phase, not every delivery.
get_webhook_container()
snapstart.register(lambda: get_webhook_container().before_snapshot())
app = create_resolver(webhook_routes.router)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP, log_event=False)
@metrics.log_metrics(capture_cold_start_metric=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
