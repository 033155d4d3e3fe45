"""Lambda entry point of the events function, and its composition: the connections table's and the data table's
streams in, lifecycle and data events out, and a backfill request per new connection when backfills are on
(BACKFILL_QUEUE_URL set: the backfill modules and the SQS client are only imported and built then).

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
from terra_connect.lifecycle_events.publisher import (
    BackfillRequestFailed,
    BackfillRequests,
    EventsContainer,
    publish_records,
)
from terra_connect.lifecycle_events.stream import Outbox
from terra_connect.platform.observability import logger, metrics
from terra_connect.settings import EventsSettings


class SqsBackfillRequests:
    """BackfillRequests over the backfill queue (backfill/sqs_scheduler.py)."""

    def __init__(self, queue_url: str, *, endpoint_url: str | None) -> None:
        from botocore.config import Config  # noqa: PLC0415 - only when backfills are on

        from terra_connect.backfill.sqs_scheduler import SqsBackfillQueue  # noqa: PLC0415
        from terra_connect.platform.aws_clients import aws_client  # noqa: PLC0415

        config = Config(connect_timeout=1, read_timeout=3, retries={"mode": "standard", "max_attempts": 3})
        self._queue = SqsBackfillQueue(aws_client("sqs", config=config, endpoint_url=endpoint_url), queue_url)

    def connected(self, reference_id: str, terra_user_id: str, provider: str) -> None:
        from terra_connect.backfill.plan import NewConnection  # noqa: PLC0415 - loaded with the queue's module
        from terra_connect.backfill.sqs_scheduler import QueueUnavailable  # noqa: PLC0415

        try:
            self._queue.connected(NewConnection(reference_id, terra_user_id, provider))
        except QueueUnavailable as error:
            raise BackfillRequestFailed(str(error)) from None


@cache
def get_events_container() -> EventsContainer:
    settings = EventsSettings.from_env(os.environ)
    endpoint = settings.local_aws_endpoint_url
    backfills: BackfillRequests | None = None
    if settings.backfill_queue_url:
        backfills = SqsBackfillRequests(settings.backfill_queue_url, endpoint_url=endpoint)
    return EventsContainer(
        EventBridgePublisher(settings.event_bus_name, endpoint_url=endpoint),
        Outbox(settings.connections_table, endpoint_url=endpoint),
        connections_table=settings.connections_table,
        backfills=backfills,
    )


get_events_container()  # cold start: a bad setting fails the init phase, not every batch


@logger.inject_lambda_context(log_event=False)
@metrics.log_metrics(capture_cold_start_metric=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return publish_records(event.get("Records", []), get_events_container())
