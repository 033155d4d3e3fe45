"""Lambda entry point of the scheduled reconciliation, and its composition: repairs the whole registry from Terra's
user list.

It is also the operator's way to erase an app user whose account was deleted server-side, without a user token:

    aws lambda invoke --function-name <ReconcileFunctionName> --cli-binary-format raw-in-base64-out \
        --payload '{"erase": {"reference_id": "<the app user id>"}}' answer.json

The answer says what was done (`{"erased": true, "deauthenticated": 2, ...}`), or why not (`{"error": ...}`).

And it purges erased users' stored health data (data_erasure/service.py): the purge queue's mapping hands it one
request at a time (an SQS event), processed as a Powertools batch with partial failures; a request that keeps
failing ends in the purge dead-letter queue.
"""

import os
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from functools import cache
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from terra_connect.data_erasure.dynamodb import DynamoDBPurgeIndex
from terra_connect.data_erasure.models import PurgeRequest
from terra_connect.data_erasure.s3 import S3PurgeObjects
from terra_connect.data_erasure.service import PurgeOutcome, PurgeService
from terra_connect.data_erasure.sqs import SqsPurgeRequests
from terra_connect.entrypoints import shared
from terra_connect.erasure.service import ErasureService
from terra_connect.kernel.deadline import Deadline
from terra_connect.kernel.errors import ConfigurationError, ServiceError, Unauthenticated
from terra_connect.kernel.identity import reference_id_from_claims
from terra_connect.platform.observability import logger, metrics, observe_terra_attempt
from terra_connect.settings import ReconcilerSettings
from terra_connect.sync.reconciler import Reconciler
from terra_connect.terra.client import TerraClient

# Kept back from the Lambda timeout: saving the cursor and flushing metrics must happen before it.
SAFETY_MARGIN_SECONDS = 10.0


@dataclass(frozen=True, slots=True)
class ReconcilerContainer:
    settings: ReconcilerSettings
    reconciler: Reconciler
    erasure: ErasureService
    purge: PurgeService | None  # None: no data store in this deployment


def now_ms() -> int:
    return time.time_ns() // 1_000_000


@cache
def get_reconciler_container() -> ReconcilerContainer:
    return build_reconciler_container(os.environ)


def build_reconciler_container(
    env: Mapping[str, str], *, sleep: Callable[[float], None] = time.sleep
) -> ReconcilerContainer:
    settings = ReconcilerSettings.from_env(env)
    terra = TerraClient(
        api_base_url=settings.terra_api_base_url,
        credentials=shared.credentials(settings),
        observe=observe_terra_attempt,
        sleep=sleep,
    )
    stores = shared.stores(settings)
    registry = shared.registry(stores)
    reconciler = Reconciler(registry, stores.reconciliation, terra, sleep=sleep)
    purges, purge = None, None
    if settings.purge is not None:
        endpoint = settings.local_aws_endpoint_url
        purges = SqsPurgeRequests(settings.purge.queue_url, endpoint_url=endpoint)
        purge = PurgeService(
            DynamoDBPurgeIndex(settings.purge.table, clock=now_ms, endpoint_url=endpoint),
            S3PurgeObjects(settings.purge.bucket, endpoint_url=endpoint),
            purges,
            clock=now_ms,
        )
    erasure = ErasureService(registry, stores.records, stores.erasures, terra, purges=purges)
    return ReconcilerContainer(settings=settings, reconciler=reconciler, erasure=erasure, purge=purge)


get_reconciler_container()  # cold start: a bad setting fails the init phase, not the run
# A batch whose every record failed is answered like any other (each reported), not raised.
processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)


@logger.inject_lambda_context(log_event=False)
@metrics.log_metrics(capture_cold_start_metric=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any] | PartialItemFailureResponse:
    if isinstance(event, dict) and "Records" in event:  # the purge queue's mapping
        return process_partial_response(event=event, record_handler=purge, processor=processor, context=context)
    deadline = Deadline.after(context.get_remaining_time_in_millis() / 1000 - SAFETY_MARGIN_SECONDS)
    if isinstance(event, dict) and "erase" in event:
        return erase(event["erase"], deadline)
    report = get_reconciler_container().reconciler.run(deadline)
    for name, value in (
        ("ReconciliationUsersChecked", report.checked),
        ("ReconciliationUsersRepaired", report.repaired),
        ("ReconciliationUsersFailed", report.failed),
        ("ReconciliationRunsCompleted", int(report.finished)),
        ("ReconciliationRunsStopped", int(report.stopped_by is not None)),
    ):
        metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)
    if report.stopped_by:
        logger.error("Reconciliation stopped early; the next run resumes", extra=asdict(report))
    else:
        logger.info("Reconciliation", extra=asdict(report))
    return asdict(report)


def erase(request: Any, deadline: Deadline) -> dict[str, Any]:
    """The operator's erasure of one app user (by its reference_id, the JWT subject the app signs in with)."""
    try:
        reference_id = reference_id_from_claims(request if isinstance(request, dict) else None, "reference_id")
    except Unauthenticated:
        logger.warning("Erasure refused: no valid reference_id")
        metrics.add_metric(name="ErasuresRefused", unit=MetricUnit.Count, value=1)
        return {"error": "invalid_request", "detail": 'Give {"erase": {"reference_id": "<app user id>"}}.'}
    try:
        report = get_reconciler_container().erasure.erase(reference_id, deadline, requested_by="operator")
    except ServiceError as error:
        logger.error(
            "Erasure did not finish; invoke again to finish it", extra={"code": error.code, **error.log_context}
        )
        metrics.add_metric(name="ErasuresFailed", unit=MetricUnit.Count, value=1)
        return {"error": error.code, "detail": "The erasure did not finish; invoke again to finish it."}
    metrics.add_metric(
        name="UsersErased" if report.erased else "ErasuresWithNothingToErase", unit=MetricUnit.Count, value=1
    )
    logger.info("Erasure requested by the operator", extra=asdict(report))
    return asdict(report)


def purge(record: SQSRecord, lambda_context: LambdaContext) -> None:
    """One purge request: as much of it as the time left allows (the rest is queued again). A malformed request or a
    failure raises: the message comes back, and ends in the purge dead-letter queue."""
    service = get_reconciler_container().purge
    if service is None:
        raise ConfigurationError(log_context={"reason": "a purge request reached a stack without a data store"})
    request = PurgeRequest.from_message(record.body)
    deadline = Deadline.after(lambda_context.get_remaining_time_in_millis() / 1000 - SAFETY_MARGIN_SECONDS)
    result = service.purge(request, deadline)
    if result.outcome is PurgeOutcome.ERASED:
        metrics.add_metric(name="UsersDataErased", unit=MetricUnit.Count, value=1)
    metrics.add_metric(name="DataPurgeSteps", unit=MetricUnit.Count, value=1)
    # The erasure's id only: the log never names the app user.
    logger.info(
        "Data purge",
        extra={
            "erasure_id": request.erasure_id,
            "outcome": result.outcome.value,
            "pass": result.run,
            "records_deleted": result.counts.records,
            "objects_deleted": result.counts.objects,
            "items_deleted": result.counts.items,
        },
    )
