"""Logger and Metrics, created once per container and shared by every module."""

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit, single_metric
from aws_lambda_powertools.utilities.typing import LambdaContext

from terra_connect.kernel.errors import InvalidSignature, TerraRejected

logger = Logger()
metrics = Metrics()


def observe_terra_attempt(operation: str, outcome: str, seconds: float) -> None:
    """Record the latency of one HTTP attempt to Terra, by operation."""
    with single_metric(
        name="TerraLatency",
        unit=MetricUnit.Milliseconds,
        value=round(seconds * 1000, 3),
        namespace=metrics.namespace,
    ) as metric:
        metric.add_dimension(name="operation", value=operation)
    logger.debug("Terra attempt", extra={"operation": operation, "outcome": outcome, "seconds": round(seconds, 4)})


# TerraErrors' `kind` for Terra's own refusals that need the operator, not a retry: the key (401/403: rotated,
# revoked, wrong dev-id) and a retired endpoint (410). Each has its own alarm (template.yaml, docs/operations.md).
REJECTION_KINDS = {401: "terra_unauthorized", 403: "terra_unauthorized", 410: "terra_gone"}


def terra_error_kind(code: str, terra_status: object) -> str:
    """The TerraErrors `kind` of an error answer: its problem code, with Terra's rejections split by status."""
    if code == TerraRejected.code and isinstance(terra_status, int):
        return REJECTION_KINDS.get(terra_status, code)
    return code


def count_error(
    code: str, *, server_side: bool, function: LambdaContext | None = None, terra_status: object = None
) -> None:
    """Count every error answer; Terra failures also by kind (terra_timeout, terra_gone, ...); bad signatures apart.

    A 5xx answer is also counted by function and version: while CodeDeploy shifts traffic to a new version, its
    rollback alarm judges that version's share of 5xx answers apart from the old version's (template.yaml)."""
    metrics.add_metric(name="ServerErrors" if server_side else "ClientErrors", unit=MetricUnit.Count, value=1)
    if server_side and function is not None:
        with single_metric(name="ServerErrors", unit=MetricUnit.Count, value=1, namespace=metrics.namespace) as metric:
            metric.add_dimension(name="function_name", value=function.function_name)
            metric.add_dimension(name="function_version", value=function.function_version)
    if code == InvalidSignature.code:
        metrics.add_metric(name="WebhookSignatureFailures", unit=MetricUnit.Count, value=1)
    if code.startswith("terra_"):
        with single_metric(name="TerraErrors", unit=MetricUnit.Count, value=1, namespace=metrics.namespace) as metric:
            metric.add_dimension(name="kind", value=terra_error_kind(code, terra_status))


def observe_unverified_sdk_connection(terra_user_id: str, provider: str) -> None:
    """An SDK connection (Apple Health...) claimed for an app user that was issued no token then: kept out."""
    logger.warning(
        "SDK connection kept out: its reference_id was issued no SDK token when it was made",
        extra={"terra_user_id": terra_user_id, "provider": provider},
    )
    metrics.add_metric(name="SdkConnectionsUnverified", unit=MetricUnit.Count, value=1)


def observe_erased_fact(terra_user_id: str) -> None:
    """A fact about a Terra user whose app user was erased (a late or replayed delivery): refused."""
    logger.info("Fact about an erased app user's Terra user refused", extra={"terra_user_id": terra_user_id})
    metrics.add_metric(name="ErasedUserFactsRefused", unit=MetricUnit.Count, value=1)


def observe_widget_url_found(url: str) -> None:
    """The default widget endpoint answered 404 and another of Terra's published paths did: say which to set."""
    logger.warning(
        "Terra's widget endpoint for this account is at another published path: set the stack parameter "
        "TerraWidgetSessionUrl to it",
        extra={"terra_widget_session_url": url},
    )


def observe_stale_prefill(invalid_user_ids: tuple[str, ...]) -> None:
    """Terra refused the widget's connected_uids: the registry listed Terra users Terra no longer has."""
    logger.warning(
        "Terra refused stale connected_uids; retrying without them",
        extra={"invalid_user_ids": list(invalid_user_ids), "count": len(invalid_user_ids)},
    )
    metrics.add_metric(name="StalePrefillsHealed", unit=MetricUnit.Count, value=1)
