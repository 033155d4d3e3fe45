"""Lambda entry point of the backfill function, and its composition: the backfill queue's messages (a new connection,
a backfill's wake-up) and the 15-minute sweep (`{"sweep": true}`) in, Terra's data requests out (backfill/service.py
does the work). Each message is a record of a Powertools batch with partial failures."""

import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from terra_connect.backfill.dynamodb_store import CLIENT_CONFIG, DynamoDbBackfillStore
from terra_connect.backfill.inline import InlineHandOver
from terra_connect.backfill.messages import WakeUp, read_message
from terra_connect.backfill.service import BackfillService, BackfillSettings
from terra_connect.backfill.sqs_scheduler import SqsBackfillQueue
from terra_connect.backfill.terra_requests import TerraDataRequestsClient
from terra_connect.health_data.s3_store import S3RawArchive
from terra_connect.health_data.sqs_queue import SqsDeliveryQueue
from terra_connect.kernel.deadline import Deadline
from terra_connect.platform.aws_clients import aws_client
from terra_connect.platform.observability import logger, metrics, observe_terra_attempt
from terra_connect.platform.secrets import SecretsManagerCredentials
from terra_connect.settings import BackfillFunctionSettings
from terra_connect.terra.client import TerraClient

# Kept back from the Lambda timeout: a step needs its Terra call and its write to finish.
SAFETY_MARGIN_SECONDS = 5.0


@dataclass(frozen=True, slots=True)
class BackfillContainer:
    settings: BackfillFunctionSettings
    service: BackfillService


@cache
def get_backfill_container() -> BackfillContainer:
    return build_backfill_container(os.environ)


def build_backfill_container(
    env: Mapping[str, str], *, sleep: Callable[[float], None] = time.sleep
) -> BackfillContainer:
    settings = BackfillFunctionSettings.from_env(env)
    endpoint = settings.local_aws_endpoint_url
    credentials = SecretsManagerCredentials(
        settings.terra_secret_arn, max_age_seconds=settings.secret_cache_ttl_seconds, endpoint_url=endpoint
    )
    terra = TerraClient(
        api_base_url=settings.terra_api_base_url, credentials=credentials, observe=observe_terra_attempt, sleep=sleep
    )
    data = settings.claim_check
    inline = InlineHandOver(
        S3RawArchive(data.bucket, kms_key_id=data.kms_key_id, endpoint_url=endpoint),
        data.bucket,
        SqsDeliveryQueue(data.ingest_queue_url, endpoint_url=endpoint),
    )
    queue = SqsBackfillQueue(
        aws_client("sqs", config=CLIENT_CONFIG, endpoint_url=endpoint), settings.backfill_queue_url
    )
    service = BackfillService(
        terra=TerraDataRequestsClient(terra, with_samples=settings.backfill_with_samples),
        store=DynamoDbBackfillStore(
            aws_client("dynamodb", config=CLIENT_CONFIG, endpoint_url=endpoint), settings.data_table
        ),
        scheduler=queue,
        inline=inline,
        settings=BackfillSettings(settings.backfill_days, settings.backfill_timeout_hours),
    )
    return BackfillContainer(settings, service)


get_backfill_container()  # cold start: a bad setting fails the init phase, not every message
processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)


def _deadline(context: LambdaContext) -> Deadline:
    return Deadline.after(context.get_remaining_time_in_millis() / 1000 - SAFETY_MARGIN_SECONDS)


def record_handler(record: SQSRecord, context: LambdaContext) -> None:
    message = read_message(record.body)
    service = get_backfill_container().service
    if message is None:
        # Not a message this code wrote: retrying cannot make it one.
        logger.error("Backfill message not understood; dropped", extra={"message_id": record.message_id})
        metrics.add_metric(name="BackfillMessagesDropped", unit=MetricUnit.Count, value=1)
        return
    if isinstance(message, WakeUp):
        report = service.step(message.terra_user_id, message.token, _deadline(context))
    else:
        report = service.connected(message, _deadline(context))
    metrics.add_metric(name="BackfillRequestsMade", unit=MetricUnit.Count, value=len(report.made))
    logger.info("Backfill stepped", extra={"result": report.result.value, "requests": len(report.made)})


@logger.inject_lambda_context(log_event=False)
@metrics.log_metrics(capture_cold_start_metric=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    if event.get("sweep") is True:
        ended = get_backfill_container().service.sweep()
        metrics.add_metric(name="BackfillsEndedBySweep", unit=MetricUnit.Count, value=len(ended))
        return {"ended": len(ended)}
    answer: dict[str, Any] = dict(
        process_partial_response(
            event=event,
            record_handler=lambda record: record_handler(record, context),
            processor=processor,
            context=context,
        )
    )
    return answer
