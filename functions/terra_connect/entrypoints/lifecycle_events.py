"""Lambda entry point of the events function, and its composition: the connections table's stream in, lifecycle
events out.

The stream holds only writes that succeeded, in order per item, and DynamoDB writes no stream record for a write
that changed nothing, so a replayed webhook or a repeated reconciliation publishes nothing. A record whose events
cannot be published is reported as the batch's first failure: Lambda retries from it (never the records before
it) and the registry write is never applied again. Records that fail every retry go to the stack's dead-letter
queue (template.yaml, docs/operations.md).
"""

import os
from functools import cache
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from terra_connect.lifecycle_events.eventbridge import EventBridgePublisher
from terra_connect.lifecycle_events.publisher import EventsContainer, publish_records
from terra_connect.lifecycle_events.stream import Outbox
from terra_connect.platform.observability import logger, metrics
from terra_connect.settings import EventsSettings


@cache
def get_events_container() -> EventsContainer:
    settings = EventsSettings.from_env(os.environ)
    endpoint = settings.local_aws_endpoint_url
    return EventsContainer(
        EventBridgePublisher(settings.event_bus_name, endpoint_url=endpoint),
        Outbox(settings.connections_table, endpoint_url=endpoint),
    )


get_events_container()  # cold start: a bad setting fails the init phase, not every batch


@logger.inject_lambda_context(log_event=False)
@metrics.log_metrics(capture_cold_start_metric=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return publish_records(event.get("Records", []), get_events_container())
