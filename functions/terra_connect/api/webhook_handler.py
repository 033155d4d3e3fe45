"""Lambda entry point of the webhook function (Terra's signed deliveries, no JWT)."""

from typing import Any

from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from terra_connect.api.webhook_container import get_webhook_container
from terra_connect.http.resolver import create_resolver
from terra_connect.platform import snapstart
from terra_connect.platform.observability import logger, metrics
from terra_connect.webhooks import routes as webhook_routes

# Cold start: a bad setting fails the init phase, not every delivery.
get_webhook_container()
snapstart.register(lambda: get_webhook_container().before_snapshot())
app = create_resolver(webhook_routes.router)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP, log_event=False)
@metrics.log_metrics(capture_cold_start_metric=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
