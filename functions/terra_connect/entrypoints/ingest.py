"""Lambda entry point of the ingest function, and its composition: pointers to archived deliveries in (the ingest
and fetch queues), records, payload parts and backfill accounting out (health_data/ingest.py does the work). A message
from Terra's SQS destination (TERRA_DELIVERY_QUEUE_URL) is Terra's own event, not a pointer: it is archived first
(health_data/terra_queue.py), a healthcheck acknowledged, and then it goes the same way. A message from a queue the
function was not given fails: it stays on its queue and ends in that queue's dead-letter queue, never guessed at.

Each message is one record of a Powertools batch with partial failures: only the records that fail come back.
Processing a delivery is idempotent on its delivery key (Powertools' idempotency, DynamoDB, 7 days), under the
record protocol's own idempotency (a replay after expiry changes nothing and announces nothing). A payload whose
owner is not known yet is held (its message comes back in 2 minutes) for up to 10 minutes of its life, then kept
under its Terra user; an S3 or DynamoDB outage, or a payload URL that failed but may still work, fails the record
(held for a short retry when a payload URL is at stake: a failed fetch, or a message of Terra's not archived).
"""

import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Any

import boto3
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)
from aws_lambda_powertools.utilities.typing import LambdaContext

from terra_connect.backfill.accounting import BackfillLedger, NoBackfills
from terra_connect.backfill.dynamodb_store import CLIENT_CONFIG as BACKFILL_CLIENT_CONFIG
from terra_connect.backfill.dynamodb_store import DynamoDbBackfillStore
from terra_connect.backfill.models import DataRequest
from terra_connect.backfill.ports import ProviderSupport, TerraAnswer
from terra_connect.backfill.service import BackfillService, BackfillSettings
from terra_connect.health_data.claim_check import read_pointer
from terra_connect.health_data.dynamodb_index import DynamoDBRecordIndex
from terra_connect.health_data.dynamodb_owners import DynamoDBOwnerDirectory
from terra_connect.health_data.errors import DataStoreMisconfigured, DataStoreUnavailable, PayloadUnavailable
from terra_connect.health_data.ingest import IngestService, Outcome
from terra_connect.health_data.payload_fetch import RequestsPayloadFetcher
from terra_connect.health_data.ports import BackfillAccounting
from terra_connect.health_data.s3_store import S3RawArchive, S3RecordObjects
from terra_connect.health_data.sqs_queue import SqsDeliveryQueue
from terra_connect.health_data.terra_queue import TerraQueueIntake
from terra_connect.kernel.deadline import Deadline
from terra_connect.platform.aws_clients import aws_client
from terra_connect.platform.observability import logger, metrics
from terra_connect.settings import IngestSettings

IDEMPOTENCY_SECONDS = 7 * 86_400
WAIT_SECONDS = 120  # how long a payload without an owner waits before it is looked at again
MAX_WAIT_MS = 5 * WAIT_SECONDS * 1000  # then it is kept under its Terra user
FETCH_RETRY_SECONDS = 10  # a payload URL lives minutes: try again soon
# Metric names the alarms and dashboards read, per outcome (the others are counted as Payloads<Outcome>).
OUTCOME_METRICS = {
    Outcome.UNREADABLE: "PayloadsUnreadable",
    Outcome.URL_EXPIRED: "PayloadUrlsExpired",
    Outcome.REFUSED: "DataRefusedErased",
}


class _Waiting(Exception):
    """No owner known yet: not a result to remember (the retry must process it again)."""


class UnknownQueue(Exception):
    """A message from a queue this function was not configured with: what it holds is not known."""


class _ReadOnly:
    """The backfill seen from the ingest function: it counts deliveries, and never asks Terra or schedules a step."""

    def request(self, terra_user_id: str, request: DataRequest, deadline: Deadline) -> TerraAnswer:
        raise RuntimeError("the ingest function asks Terra for nothing")

    def provider_support(self, provider: str, deadline: Deadline) -> ProviderSupport:
        raise RuntimeError("the ingest function asks Terra for nothing")

    def wake(self, terra_user_id: str, token: int, delay_ms: int) -> None:
        raise RuntimeError("the ingest function schedules no backfill step")

    def hand_over(self, terra_user_id: str, data_type: str, body: bytes) -> None:
        raise RuntimeError("the ingest function receives no inline data")


@dataclass(slots=True)
class _Runs:
    """Whether the last call of `process` ran it, rather than replaying a result the idempotency layer remembered."""

    fresh: bool = False


@dataclass(frozen=True, slots=True)
class IngestContainer:
    settings: IngestSettings
    service: IngestService
    queues: dict[str, SqsDeliveryQueue]  # by queue name, as the record's eventSourceARN ends
    terra_queue: str | None  # the name of Terra's SQS destination's queue, when there is one
    intake: TerraQueueIntake
    process: Callable[..., dict[str, Any]]  # the idempotent processing of one pointer
    idempotency: IdempotencyConfig
    runs: _Runs


def _accounting(settings: IngestSettings) -> BackfillAccounting:
    if not settings.backfills_on:
        return NoBackfills()
    client = aws_client("dynamodb", config=BACKFILL_CLIENT_CONFIG, endpoint_url=settings.local_aws_endpoint_url)
    store = DynamoDbBackfillStore(client, settings.data_table)
    unused = _ReadOnly()
    service = BackfillService(
        terra=unused,
        store=store,
        scheduler=unused,
        inline=unused,
        settings=BackfillSettings(settings.backfill_days, settings.backfill_timeout_hours),
    )
    return BackfillLedger(service, store)


@cache
def get_ingest_container() -> IngestContainer:
    return build_ingest_container(os.environ)


def build_ingest_container(env: Any) -> IngestContainer:
    settings = IngestSettings.from_env(env)
    endpoint = settings.local_aws_endpoint_url
    archive = S3RawArchive(settings.data_bucket, kms_key_id=settings.data_key_id, endpoint_url=endpoint)
    objects = S3RecordObjects(settings.data_bucket, kms_key_id=settings.data_key_id, endpoint_url=endpoint)
    index = DynamoDBRecordIndex(
        settings.data_table,
        settings.connections_table,
        record_retention_days=settings.record_retention_days,
        part_retention_days=settings.data_retention_days,
        endpoint_url=endpoint,
    )
    service = IngestService(
        archive,
        objects,
        index,
        DynamoDBOwnerDirectory(settings.connections_table, endpoint_url=endpoint),
        # Local runs serve payloads from the simulator on this machine.
        fetcher=RequestsPayloadFetcher(archive, host_suffixes=settings.payload_url_hosts, allow_local=bool(endpoint)),
        backfill=_accounting(settings),
    )
    queues = {
        url.rsplit("/", 1)[-1]: SqsDeliveryQueue(url, endpoint_url=endpoint)
        for url in (settings.ingest_queue_url, settings.fetch_queue_url, settings.terra_delivery_queue_url)
        if url
    }
    terra_queue = settings.terra_delivery_queue_url.rsplit("/", 1)[-1] or None
    persistence = DynamoDBPersistenceLayer(
        table_name=settings.idempotency_table, boto3_client=boto3.client("dynamodb", endpoint_url=endpoint)
    )
    config = IdempotencyConfig(
        event_key_jmespath="delivery_key",
        expires_after_seconds=IDEMPOTENCY_SECONDS,
        raise_on_no_idempotency_key=True,
    )

    runs = _Runs()

    @idempotent_function(data_keyword_argument="delivery", persistence_store=persistence, config=config)
    def process(delivery: dict[str, Any]) -> dict[str, Any]:
        runs.fresh = True
        pointer = read_pointer(delivery["message"])
        result = service.ingest(pointer, retry=delivery["retry"], may_wait=delivery["may_wait"])
        if result.outcome is Outcome.WAITING:
            raise _Waiting
        return result.to_dict()

    intake = TerraQueueIntake(archive, settings.data_bucket)
    return IngestContainer(settings, service, queues, terra_queue, intake, process, config, runs)


def record_handler(record: SQSRecord) -> None:
    container = get_ingest_container()
    attributes = record.attributes
    sent_ms = int(attributes.sent_timestamp or 0)
    name = (record.event_source_arn or "").rsplit(":", 1)[-1]
    queue = container.queues.get(name)
    if queue is None:
        logger.error("Message from a queue the function was not given", extra={"queue": name})
        metrics.add_metric(name="MessagesFromUnknownQueues", unit=MetricUnit.Count, value=1)
        raise UnknownQueue(name)
    if name == container.terra_queue:
        try:
            pointer = container.intake.keep(record.body.encode(), sent_ms=sent_ms)
        except (DataStoreUnavailable, DataStoreMisconfigured):
            # Its URL lives about 300 s, less than the queue's visibility timeout: try again soon, as a failed fetch.
            metrics.add_metric(name="TerraMessageArchiveRetries", unit=MetricUnit.Count, value=1)
            queue.hold(record.receipt_handle, FETCH_RETRY_SECONDS)
            raise
        if pointer is None:
            metrics.add_metric(name="TerraHealthchecks", unit=MetricUnit.Count, value=1)
            return
        message = pointer.to_message()
    else:
        message = record.body
    delivery = {
        "delivery_key": _delivery_key(message),
        "message": message,
        "retry": int(attributes.approximate_receive_count or 1) > 1,
        "may_wait": time.time_ns() // 1_000_000 - sent_ms < MAX_WAIT_MS,
    }
    container.runs.fresh = False
    try:
        result = container.process(delivery=delivery)
    except _Waiting:
        metrics.add_metric(name="PayloadsWaitingForOwner", unit=MetricUnit.Count, value=1)
        queue.hold(record.receipt_handle, WAIT_SECONDS)
        raise
    except PayloadUnavailable:
        metrics.add_metric(name="PayloadFetchRetries", unit=MetricUnit.Count, value=1)
        queue.hold(record.receipt_handle, FETCH_RETRY_SECONDS)
        raise
    outcome = Outcome(result["outcome"])
    name = OUTCOME_METRICS.get(outcome) or "Payloads" + outcome.value.title().replace("_", "")
    metrics.add_metric(name=name, unit=MetricUnit.Count, value=1)
    # Counted once, when the data was kept: not when the idempotency layer replays the result for a redelivery (a
    # result remembered before this field existed has none).
    if container.runs.fresh and result.get("unattributed"):
        metrics.add_metric(name="DataUnattributed", unit=MetricUnit.Count, value=1)
    logger.info("Payload processed", extra={**result, "message_id": record.message_id})


def _delivery_key(message: str) -> str | None:
    """The pointer's delivery key, read strictly (a message that is no pointer fails, and ends in the DLQ)."""
    return read_pointer(message).delivery_key


get_ingest_container()  # cold start: a bad setting fails the init phase, not every batch
# A batch whose every record failed is answered like any other (each reported), not raised: Lambda then handles each
# message by its own receive count instead of retrying the whole batch.
processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)


@logger.inject_lambda_context(log_event=False)
@metrics.log_metrics(capture_cold_start_metric=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    get_ingest_container().idempotency.register_lambda_context(context)
    return process_partial_response(event=event, record_handler=record_handler, processor=processor, context=context)
