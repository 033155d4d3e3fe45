"""Lambda entry point of the scheduled reconciliation: repairs the whole registry from Terra's user list."""

from dataclasses import asdict
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from terra_connect.api.observability import logger, metrics
from terra_connect.api.reconciler_container import get_reconciler_container
from terra_connect.domain.deadline import Deadline

# Kept back from the Lambda timeout: saving the cursor and flushing metrics must happen before it.
SAFETY_MARGIN_SECONDS = 10.0

get_reconciler_container()  # cold start: a bad setting fails the init phase, not the run


@logger.inject_lambda_context(log_event=False)
@metrics.log_metrics(capture_cold_start_metric=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    deadline = Deadline.after(context.get_remaining_time_in_millis() / 1000 - SAFETY_MARGIN_SECONDS)
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
