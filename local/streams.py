"""The tables' streams and the events function's triggers, on this machine (make dev): the connections table's
and the data table's.

moto records every write of a table with a stream in its own process, but its server does not answer the Streams
API, so Lambda's event source mapping is played here, reading moto's records in-process: batches of up to 100 in
order, handed to the events function one batch at a time; a batch item failure is retried from that record (never
the records before it), as `ReportBatchItemFailures` does. What the function publishes reaches the stack's bus in
the emulated AWS, where a rule sends every event of this service to a local SQS queue (`LOCAL_EVENTS_QUEUE`) that
a test or the app's backend can read; each event is also printed.

The data table's records go to the same function, which publishes `Wearable Data Received` when a payload's part 0
(its announcement) is written and `Wearable Backfill Completed` when a backfill's plan leaves `open`; what is printed
for them is read from each record by the function's own rule (`data_events`).

Where it differs from AWS: records are read every `interval` seconds rather than as they come, and a batch that
keeps failing is retried every poll without the mapping's backoff, record age limit or dead-letter queue.
"""

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from moto.core.models import DEFAULT_ACCOUNT_ID
from moto.dynamodb.models import dynamodb_backends

from local.aws import REGION
from local.gateway import FunctionInstance
from local.polling import Polling
from terra_connect.lifecycle_events.data_stream import data_change
from terra_connect.lifecycle_events.stream import stream_change

BATCH_SIZE = 100


@dataclass
class LocalStreamTrigger:
    """The events function's event source mapping, over moto's record of the table's writes."""

    table: str
    function: FunctionInstance
    on_event: Callable[[str, dict[str, Any]], None] = lambda detail_type, detail: None
    on_error: Callable[[Exception], None] = lambda error: None
    # What each record announces, to print (None: the connections table's lifecycle events).
    events_of: Callable[[dict[str, Any]], tuple[tuple[str, dict[str, Any]], ...]] | None = None
    interval: float = 0.1
    position: int = 0  # the next record to hand over
    published: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _polling: Polling | None = None

    def records(self, start: int, count: int) -> list[dict[str, Any]]:
        """The stream's records from `start`, at most `count` (only those are converted)."""
        shard = dynamodb_backends[DEFAULT_ACCOUNT_ID][REGION].get_table(self.table).stream_shard
        items = shard.items[start : start + count] if shard is not None else []
        return [_lambda_record(item.to_json()) for item in items]

    def drain(self) -> int:
        """Hand every record written so far to the function, as the mapping would; returns how many it took
        (fewer when one of them failed: that one is handed over again next time)."""
        with self._lock:
            taken = 0
            while batch := self.records(self.position, BATCH_SIZE):
                answer = self.function.invoke({"Records": batch}) or {}
                failures = [item["itemIdentifier"] for item in answer.get("batchItemFailures", [])]
                done = batch
                if failures:
                    sequence = [record["dynamodb"]["SequenceNumber"] for record in batch]
                    done = batch[: sequence.index(failures[0])] if failures[0] in sequence else []
                for record in done:
                    for detail_type, detail in (self.events_of or _events)(record):
                        self.published.append((detail_type, detail))
                        self.on_event(detail_type, detail)
                self.position += len(done)
                taken += len(done)
                if failures:
                    break
            return taken

    def start(self) -> "LocalStreamTrigger":
        self._polling = Polling(self.drain, self.interval, self.on_error, "local-stream-trigger")
        return self

    def stop(self) -> None:
        """Stop polling, after the batch under way (if any): nothing is handed over once this returns."""
        if self._polling is not None:
            self._polling.stop()


def _lambda_record(record: dict[str, Any]) -> dict[str, Any]:
    """moto's stream record as Lambda hands it over (the creation time in epoch seconds, as JSON allows)."""
    change = dict(record["dynamodb"])
    created = change.get("ApproximateCreationDateTime")
    if created is not None and not isinstance(created, int | float):
        change["ApproximateCreationDateTime"] = int(created.timestamp())
    return {**record, "dynamodb": change}


def _events(record: dict[str, Any]) -> tuple[tuple[str, dict[str, Any]], ...]:
    try:
        return stream_change(record)
    except (KeyError, TypeError, ValueError):
        return ()


def data_events(record: dict[str, Any]) -> tuple[tuple[str, dict[str, Any]], ...]:
    """The data events a data table's stream record makes the events function publish (its own rule, read here
    to print them)."""
    try:
        return data_change(record)
    except (KeyError, TypeError, ValueError):
        return ()
