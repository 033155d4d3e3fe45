"""Logger and Metrics, created once per container and shared by every module."""

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit, single_metric

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


def count_error(code: str, *, server_side: bool) -> None:
    """Count every error answer; Terra failures also by kind (terra_timeout, terra_unavailable, ...)."""
    metrics.add_metric(name="ServerErrors" if server_side else "ClientErrors", unit=MetricUnit.Count, value=1)
    if code.startswith("terra_"):
        with single_metric(name="TerraErrors", unit=MetricUnit.Count, value=1, namespace=metrics.namespace) as metric:
            metric.add_dimension(name="kind", value=code)


def observe_unverified_sdk_connection(terra_user_id: str, provider: str) -> None:
    """An SDK connection (Apple Health...) claimed for an app user that was issued no token then: kept out."""
    logger.warning(
        "SDK connection kept out: its reference_id was issued no SDK token when it was made",
        extra={"terra_user_id": terra_user_id, "provider": provider},
    )
    metrics.add_metric(name="SdkConnectionsUnverified", unit=MetricUnit.Count, value=1)


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
