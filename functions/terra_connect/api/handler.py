"""Lambda entry point of the API function (every JWT-protected route)."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from terra_connect.api.container import get_container
from terra_connect.api.routes.api_routes import API_ROUTERS
from terra_connect.http.media_types import as_validation_reads_it
from terra_connect.http.resolver import create_resolver
from terra_connect.platform import snapstart
from terra_connect.platform.observability import logger, metrics

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
