"""The data queues' event source mappings, on this machine (make dev): the ingest function on the ingest and fetch
queues, the backfill function on the backfill queue, the reconcile function on the purge queue, each with the batch
size the template gives its mapping. A message sent with a delay stays invisible until it ends, as in AWS: polling
skips it, and nothing waits for it.

Each queue is polled every `interval` seconds (injectable); the messages received are handed to the function as
Lambda hands an SQS batch over (messageId, receiptHandle, body, attributes ApproximateReceiveCount and
SentTimestamp, eventSourceARN), one batch at a time per function instance. The messages it did not report in
`batchItemFailures` are deleted; those it did are left to the queue: they come back when their visibility timeout
ends (or when the function changed it: the ingest function's 10 s and 2 min waits, the backfill's Retry-After), and
go to the dead-letter queue after maxReceiveCount receives, as in AWS, in real time. A function that raises leaves
the whole batch to the queue.

Where it differs from AWS: polling rather than long-polled pollers scaling with the backlog, one batch at a time
(no concurrency), no batching window, no event filters, and no backoff when a function keeps failing.
"""

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from tooling.template import load_template

from local.aws import REGION, local_client
from local.gateway import FunctionInstance
from local.polling import Polling


@dataclass(frozen=True)
class QueueSource:
    """One mapping: a queue, the function it feeds, how many messages a batch holds."""

    queue_url: str
    function: FunctionInstance
    batch_size: int


def mapping_batch_sizes() -> dict[str, int]:
    """The template's batch size per data queue output ("IngestQueueArn": 10, "FetchQueueArn": 1, ...)."""
    sizes: dict[str, int] = {}
    for resource in load_template()["Resources"].values():
        source = resource.get("Properties", {}).get("EventSourceArn")
        if (
            resource["Type"] == "AWS::Lambda::EventSourceMapping"
            and isinstance(source, dict)
            and "Fn::GetAtt" in source
        ):
            stack, output = source["Fn::GetAtt"]
            if stack == "Data" and output.endswith("QueueArn"):
                sizes[output.removeprefix("Outputs.")] = int(resource["Properties"]["BatchSize"])
    return sizes


@dataclass
class LocalQueueTrigger:
    endpoint: str
    sources: list[QueueSource]
    interval: float = 0.1
    on_error: Callable[[Exception], None] = lambda error: None
    handed_over: int = 0  # messages handed to a function
    _sqs: Any = None
    _arns: dict[str, str] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _polling: Polling | None = None

    def __post_init__(self) -> None:
        self._sqs = local_client("sqs", self.endpoint)
        for source in self.sources:
            attributes = self._sqs.get_queue_attributes(QueueUrl=source.queue_url, AttributeNames=["QueueArn"])
            self._arns[source.queue_url] = attributes["Attributes"]["QueueArn"]

    def poll(self) -> int:
        """One batch from each queue that has messages, handed over; returns how many messages were handed over."""
        with self._lock:
            return sum(self._batch(source) for source in self.sources)

    def drain(self, rounds: int = 100) -> int:
        """Poll until no queue has a visible message (at most `rounds` polls); returns the messages handed over."""
        total = 0
        for _ in range(rounds):
            handed = self.poll()
            total += handed
            if not handed:
                break
        return total

    def _batch(self, source: QueueSource) -> int:
        received = self._sqs.receive_message(
            QueueUrl=source.queue_url,
            MaxNumberOfMessages=source.batch_size,
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
            WaitTimeSeconds=0,
        ).get("Messages", [])
        if not received:
            return 0
        records = [self._record(source.queue_url, message) for message in received]
        self.handed_over += len(records)
        answer = source.function.invoke({"Records": records}) or {}
        failed = {item["itemIdentifier"] for item in answer.get("batchItemFailures", [])}
        done = [
            {"Id": str(n), "ReceiptHandle": r["receiptHandle"]}
            for n, r in enumerate(records)
            if r["messageId"] not in failed
        ]
        if done:
            self._sqs.delete_message_batch(QueueUrl=source.queue_url, Entries=done)
        return len(records)

    def _record(self, queue_url: str, message: dict[str, Any]) -> dict[str, Any]:
        attributes = message.get("Attributes", {})
        return {
            "messageId": message["MessageId"],
            "receiptHandle": message["ReceiptHandle"],
            "body": message["Body"],
            "attributes": {
                "ApproximateReceiveCount": attributes.get("ApproximateReceiveCount", "1"),
                "SentTimestamp": attributes.get("SentTimestamp", "0"),
                "SenderId": attributes.get("SenderId", "offline"),
                "ApproximateFirstReceiveTimestamp": attributes.get("ApproximateFirstReceiveTimestamp", "0"),
            },
            "messageAttributes": message.get("MessageAttributes", {}),
            "md5OfBody": message.get("MD5OfBody", ""),
            "eventSource": "aws:sqs",
            "eventSourceARN": self._arns[queue_url],
            "awsRegion": REGION,
        }

    def start(self) -> "LocalQueueTrigger":
        self._polling = Polling(self.poll, self.interval, self.on_error, "local-queue-trigger")
        return self

    def stop(self) -> None:
        """Stop polling, after the batch under way (if any): nothing is handed over once this returns."""
        if self._polling is not None:
            self._polling.stop()
