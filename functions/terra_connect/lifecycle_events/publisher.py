"""The events function's work: each stream record's events onto the bus, in order - the connections table's
lifecycle events and the data table's data events - and, for each new connection, a request for its backfill (its
handler: entrypoints/lifecycle_events.py)."""

from dataclasses import dataclass
from typing import Any, Protocol

from aws_lambda_powertools.metrics import MetricUnit

from terra_connect.kernel.errors import EventsUnavailable, RegistryUnavailable
from terra_connect.lifecycle_events.data_stream import data_change, is_data_table_record
from terra_connect.lifecycle_events.events import DetailType
from terra_connect.lifecycle_events.stream import outbox_key, stream_change
from terra_connect.platform.observability import logger, metrics


class Publisher(Protocol):
    def publish(self, entries: tuple[tuple[str, dict[str, Any]], ...]) -> None: ...


class OutboxCleaner(Protocol):
    def delete(self, key: dict[str, Any]) -> None: ...


class BackfillRequestFailed(Exception):
    """The backfill of a new connection could not be asked for: its stream record is retried."""


class BackfillRequests(Protocol):
    def connected(self, reference_id: str, terra_user_id: str, provider: str) -> None:
        """Ask for the backfill of a new connection; raises BackfillRequestFailed. Asking twice is harmless: a
        backfill is planned once per Terra user."""
        ...


@dataclass(frozen=True, slots=True)
class EventsContainer:
    """Where the events go, the outbox their items leave once published, and - when backfills are on - where a new
    connection's backfill is asked for."""

    publisher: Publisher
    outbox: OutboxCleaner
    connections_table: str = ""
    backfills: BackfillRequests | None = None


def publish_records(records: list[dict[str, Any]], container: EventsContainer) -> dict[str, Any]:
    """Publish each record's events in order; stop at the first that fails and report it for a retry."""
    published = 0
    for record in records:
        sequence = record.get("dynamodb", {}).get("SequenceNumber", "")
        try:
            if is_data_table_record(record, container.connections_table):
                entries = data_change(record)
            else:
                entries = stream_change(record)
        except (KeyError, TypeError, ValueError):
            # Not an item this service wrote: retrying cannot help, and blocking the shard would stop every event.
            logger.error("Stream record not understood; skipped", extra={"sequence": sequence})
            metrics.add_metric(name="StreamRecordsSkipped", unit=MetricUnit.Count, value=1)
            continue
        try:
            if entries:
                container.publisher.publish(entries)
        except EventsUnavailable as error:
            logger.warning(
                "Lifecycle events not published; the record is retried",
                extra={"sequence": sequence, **error.log_context},
            )
            metrics.add_metric(name="LifecycleEventFailures", unit=MetricUnit.Count, value=1)
            metrics.add_metric(name="LifecycleEventsPublished", unit=MetricUnit.Count, value=published)
            return {"batchItemFailures": [{"itemIdentifier": sequence}]}
        for detail_type, detail in entries:
            logger.info("Lifecycle event published", extra={"detail_type": detail_type, "event_id": detail["id"]})
        published += len(entries)
        try:
            _request_backfills(entries, container)
        except BackfillRequestFailed:
            # Published already: the retry publishes the same ids again (subscribers dedupe on them).
            logger.warning("Backfill not requested; the record is retried", extra={"sequence": sequence})
            metrics.add_metric(name="BackfillRequestFailures", unit=MetricUnit.Count, value=1)
            metrics.add_metric(name="LifecycleEventsPublished", unit=MetricUnit.Count, value=published)
            return {"batchItemFailures": [{"itemIdentifier": sequence}]}
        _clear_outbox(record, container)
    metrics.add_metric(name="LifecycleEventsPublished", unit=MetricUnit.Count, value=published)
    return {"batchItemFailures": []}


def _request_backfills(entries: tuple[tuple[str, dict[str, Any]], ...], container: EventsContainer) -> None:
    """A backfill for each connection made (`Wearable Connected`), when backfills are on."""
    if container.backfills is None:
        return
    for detail_type, detail in entries:
        terra_user_id, provider = detail.get("terra_user_id"), detail.get("provider")
        if detail_type == DetailType.CONNECTED and terra_user_id and provider:
            container.backfills.connected(detail["reference_id"], terra_user_id, provider)
            metrics.add_metric(name="BackfillsRequested", unit=MetricUnit.Count, value=1)


def _clear_outbox(record: dict[str, Any], container: EventsContainer) -> None:
    """An outbox item (an erasure's event) holds the app user's id: delete it once published. A failure is not
    retried: only the item's insertion is an event, and it expires within a day anyway."""
    key = outbox_key(record)
    if key is None:
        return
    try:
        container.outbox.delete(key)
    except RegistryUnavailable as error:
        logger.warning("Published outbox item not deleted; it expires", extra=dict(error.log_context))
        metrics.add_metric(name="OutboxItemsLeft", unit=MetricUnit.Count, value=1)
