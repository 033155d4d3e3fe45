"""The data path, measured: how long the webhook takes to answer a large signed data event, and how many payloads one
ingest function instance gets through, with the AWS calls each costs.

Both run the real handlers in this process, with their real adapters, against AWS emulated by moto's server on
127.0.0.1 (local/aws.py: the stack's table, secret, bucket, key and queues, each as the templates define it). moto on
loopback stands in for S3, SQS and DynamoDB, and its server runs in this process: what these figures show is the
code's own cost plus moto's, never AWS's latency. Every API call is counted where botocore makes it; what the same
calls would take in AWS is an estimate from stated per-call latencies, written as such.

    python -m bench.data_path            # the full run, printed
    python -m bench.data_path --quick    # a short run that proves it still works (CI)
"""

import argparse
import contextlib
import copy
import io
import json
import logging
import os
import statistics
import sys
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from importlib import import_module
from typing import Any
from unittest import mock

from botocore.client import BaseClient
from local.aws import (
    CONNECTIONS_TABLE,
    FAKE_CREDENTIALS,
    REGION,
    create_data_stack,
    create_stack_resources,
    local_client,
)
from local.aws import emulated_aws as start_emulated_aws
from local.signing import terra_signature
from moto.dynamodb import models as moto_dynamodb
from moto.dynamodb.models.table import Table
from tooling.template import ROOT

from bench.data_payloads import activity, activity_seconds, body, daily, data_event, terra_user

SIGNING_SECRET = "bench-signing-secret"  # noqa: S105 - a fake secret for the Terra stand-in
CREDENTIALS = {"dev_id": "bench-dev-id", "api_key": "bench-api-key", "webhook_signing_secret": SIGNING_SECRET}
WEBHOOK_EVENT = ROOT / "events" / "terra-webhook-auth.json"
MB = 1_000_000
LAMBDA_SYNC_LIMIT = 6 * MB  # Lambda's synchronous request payload; 6 MiB if AWS counts binary megabytes
BATCH = 10  # the ingest queue's event source mapping (data.yaml)
USERS = 10  # connected wearables the payloads are spread over
# The consumer's mix, per 10 payloads: 1-record daily (~5 KB), activity (~50 KB), a 30-day chunk (~150 KB).
MIX = ("daily",) * 5 + ("activity",) * 4 + ("chunk",)
ACTIVITY_BYTES = 50_000
CHUNK_DAYS = 30
# In-region latency of one call on a kept-alive connection, by operation: an estimate, not a measurement. S3 serves
# small objects with a median in the tens of milliseconds (AWS's S3 performance guidelines); DynamoDB answers
# single-item calls in single-digit milliseconds; transactions take two phases.
LATENCY_MS = {
    "s3.PutObject": 30.0,
    "s3.GetObject": 20.0,
    "dynamodb.TransactWriteItems": 12.0,
    "sqs.SendMessage": 10.0,
    "sqs.ChangeMessageVisibility": 10.0,
    "events.PutEvents": 15.0,
    "secretsmanager.GetSecretValue": 20.0,
}
DEFAULT_LATENCY_MS = {"dynamodb": 5.0, "s3": 20.0, "sqs": 10.0}


class LambdaContext:
    function_name = "terra-connect-bench"
    function_version = "$LATEST"
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:terra-connect-bench"
    memory_limit_in_mb = 1769
    aws_request_id = "00000000-0000-4000-8000-000000000000"
    log_group_name = "/terra-connect/bench"
    log_stream_name = "bench"

    def get_remaining_time_in_millis(self) -> int:
        return 60_000


def latency_ms(operation: str) -> float:
    return LATENCY_MS.get(operation, DEFAULT_LATENCY_MS.get(operation.split(".", 1)[0], 10.0))


@dataclass
class Call:
    operation: str  # "s3.PutObject"
    seconds: float
    write_units: float  # DynamoDB write request units, items under 1 KB
    read_units: float
    failed: bool = False


@dataclass
class CallLog:
    """Every AWS call botocore makes while `label` is set, by label ("webhook", "daily", "batch", ...)."""

    label: str | None = None
    calls: dict[str, list[Call]] = field(default_factory=dict)

    def add(self, call: Call) -> None:
        if self.label is not None:
            self.calls.setdefault(self.label, []).append(call)

    @contextlib.contextmanager
    def under(self, label: str) -> Iterator[None]:
        before, self.label = self.label, label
        try:
            yield
        finally:
            self.label = before


def _units(operation: str, params: dict[str, Any]) -> tuple[float, float]:
    """On-demand request units of one DynamoDB call (items under 1 KB, as the index's are): a write 1 WRU, or 2 in a
    transaction, plus as much again for the by-day index when the item carries its key; a read 1 RRU (0.5 if
    eventually consistent), 2 in a transaction."""
    if operation in {"dynamodb.PutItem", "dynamodb.UpdateItem", "dynamodb.DeleteItem"}:
        indexed = "day_key" in params.get("Item", {})
        return (2.0 if indexed else 1.0), 0.0
    if operation == "dynamodb.TransactWriteItems":
        units = 0.0
        for item in params.get("TransactItems", []):
            units += 2.0
            if "day_key" in item.get("Put", {}).get("Item", {}):
                units += 2.0
        return units, 0.0
    if operation in {"dynamodb.GetItem", "dynamodb.Query"}:
        return 0.0, (1.0 if params.get("ConsistentRead") else 0.5)
    if operation == "dynamodb.BatchGetItem":
        requests = params.get("RequestItems", {}).values()
        return 0.0, sum(len(r.get("Keys", [])) * (1.0 if r.get("ConsistentRead") else 0.5) for r in requests)
    return 0.0, 0.0


@contextlib.contextmanager
def counting(log: CallLog) -> Iterator[None]:
    """Every botocore call goes through BaseClient._make_api_call: time and count each there."""
    original = BaseClient.__dict__["_make_api_call"]

    def counted(client: BaseClient, name: str, params: dict[str, Any]) -> Any:
        operation = f"{client.meta.service_model.service_name}.{name}"
        started = time.perf_counter()
        failed = True
        try:
            answer = original(client, name, params)
            failed = False
            return answer
        finally:
            log.add(Call(operation, time.perf_counter() - started, *_units(operation, params), failed=failed))

    with mock.patch.object(BaseClient, "_make_api_call", counted):
        yield


class _TablesUncopied:
    """moto.dynamodb's `copy` module, except that a whole table is never copied.

    Before each transaction moto deep-copies every table it names, to roll back if it is cancelled: a cost growing
    with the table (quadratic over a run of thousands of writes) that DynamoDB does not have. Without the copy a
    cancelled transaction would keep its partial writes, so the benchmark fails if any transaction is cancelled.
    """

    def __getattr__(self, name: str) -> Any:
        return getattr(copy, name)

    @staticmethod
    def deepcopy(value: Any, memo: dict[int, Any] | None = None) -> Any:
        return value if isinstance(value, Table) else copy.deepcopy(value, memo)


class _Sink(io.TextIOBase):
    """Where the functions' log lines and metrics go: counted (CloudWatch bills the bytes), not kept."""

    def __init__(self) -> None:
        self.written = 0

    def write(self, text: str) -> int:
        self.written += len(text.encode())
        return len(text)


@contextlib.contextmanager
def quiet_functions(sink: _Sink) -> Iterator[None]:
    """The functions' log lines (their logger's handlers) and EMF metrics (printed) go to `sink`."""
    logger = import_module("terra_connect.platform.observability").logger
    handlers = [h for h in logging.getLogger(logger.name).handlers if isinstance(h, logging.StreamHandler)]
    streams = [h.setStream(sink) for h in handlers]
    try:
        with contextlib.redirect_stdout(sink):
            yield
    finally:
        for handler, stream in zip(handlers, streams, strict=True):
            if stream is not None:
                handler.setStream(stream)


def webhook_event(raw: bytes, trace_id: str) -> dict[str, Any]:
    """Terra's delivery of `raw` as API Gateway's HTTP API hands it to the function, signed now."""
    event: dict[str, Any] = json.loads(WEBHOOK_EVENT.read_text())
    event["headers"] = {
        **event["headers"],
        "terra-signature": terra_signature(SIGNING_SECRET, raw),
        "x-terra-trace-id": trace_id,
        "content-length": str(len(raw)),
    }
    event["body"] = raw.decode()
    return event


@dataclass(frozen=True)
class Spread:
    p50: float
    p95: float
    max: float

    @classmethod
    def of(cls, values: list[float]) -> "Spread":
        ordered = sorted(values)
        p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
        return cls(statistics.median(ordered), p95, ordered[-1])


@dataclass(frozen=True)
class WebhookFigures:
    body_bytes: int
    event_bytes: int  # the JSON-encoded API Gateway v2 event Lambda receives
    runs: int
    answer_ms: Spread
    signature_ms: float  # median, the product's verify_signature on this body
    put_ms: float  # median S3 PutObject, moto on loopback
    send_ms: float  # median SQS SendMessage


@dataclass(frozen=True)
class ConsumerFigures:
    payloads: int
    records: int
    batches: int
    seconds: float  # wall time inside the handler, moto included
    cpu_seconds: float  # the handler thread's own CPU (moto's server threads excluded)
    mean_bytes: dict[str, int]  # by payload kind
    calls: dict[str, Counter[str]]  # by payload kind ("batch": outside any payload): operation -> calls
    payloads_by_kind: Counter[str]
    units: dict[str, tuple[float, float]]  # by kind: (WRU, RRU) per payload
    log_bytes_per_payload: float
    webhook_log_bytes: float  # per delivery

    def per_payload(self, kind: str) -> dict[str, float]:
        count = self.payloads_by_kind[kind]
        return {operation: n / count for operation, n in sorted(self.calls.get(kind, Counter()).items())}

    def all_calls_per_payload(self) -> dict[str, float]:
        total: Counter[str] = Counter()
        for counts in self.calls.values():
            total.update(counts)
        return {operation: n / self.payloads for operation, n in sorted(total.items())}

    def estimated_ms_per_payload(self) -> float:
        """Σ calls x stated latency, plus the handler's own CPU, per payload: the estimate for AWS."""
        calls = sum(n * latency_ms(operation) for operation, n in self.all_calls_per_payload().items())
        return calls + self.cpu_seconds * 1000 / self.payloads


@dataclass(frozen=True)
class DataPathFigures:
    webhook: list[WebhookFigures]
    consumer: ConsumerFigures
    webhook_calls: dict[str, float]  # per small data event, warm


@dataclass
class _Stack:
    webhook: Any  # the entry modules, imported once the environment names the emulated stack
    ingest: Any
    queue_url: str
    queue_arn: str
    log: CallLog
    sink: _Sink


@contextlib.contextmanager
def _metrics_namespace(metrics: Any, namespace: str) -> Iterator[None]:
    previous = metrics.namespace
    metrics.namespace = namespace
    try:
        yield
    finally:
        metrics.namespace = previous


@contextlib.contextmanager
def emulated_stack() -> Iterator[_Stack]:
    """The stack's resources in moto, the functions' environment naming them, the entry modules imported fresh."""
    with start_emulated_aws() as aws:
        resources = create_stack_resources(aws.endpoint, CREDENTIALS)
        data = create_data_stack(aws.endpoint)
        environment = {
            **FAKE_CREDENTIALS,
            "AWS_REGION": REGION,
            "AWS_DEFAULT_REGION": REGION,
            "TERRA_SECRET_ARN": resources.secret_arn,
            "CONNECTIONS_TABLE": CONNECTIONS_TABLE,
            "LOCAL_AWS_ENDPOINT_URL": aws.endpoint,
            "SECRET_CACHE_TTL_SECONDS": "300",
            "HISTORY_RETENTION_DAYS": "30",
            "POWERTOOLS_SERVICE_NAME": "terra-connect",
            "POWERTOOLS_METRICS_NAMESPACE": "TerraConnect",
            "POWERTOOLS_LOG_LEVEL": "INFO",
            **data.settings(),
        }
        sink, log = _Sink(), CallLog()
        # The functions' Metrics object reads its namespace when first imported, which make bench's other parts
        # may have done before this environment was set: give it the one the template sets.
        observability = import_module("terra_connect.platform.observability")
        with (
            _metrics_namespace(observability.metrics, environment["POWERTOOLS_METRICS_NAMESPACE"]),
            mock.patch.dict(os.environ, environment),
            mock.patch.object(moto_dynamodb, "copy", _TablesUncopied()),
            quiet_functions(sink),
            counting(log),
        ):
            webhook = import_module("terra_connect.entrypoints.webhook")
            ingest = import_module("terra_connect.entrypoints.ingest")
            caches = (webhook.get_webhook_container, ingest.get_ingest_container)
            for cache in caches:
                cache.cache_clear()
            sqs = local_client("sqs", aws.endpoint)
            url = data.queue_urls["ingest"]
            arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
            try:
                yield _Stack(webhook, ingest, url, arn, log, sink)
            finally:
                for cache in caches:
                    cache.cache_clear()


def _deliver(stack: _Stack, raw: bytes, trace_id: str) -> dict[str, Any]:
    answer: dict[str, Any] = stack.webhook.lambda_handler(webhook_event(raw, trace_id), LambdaContext())
    if answer["statusCode"] != 200:
        raise RuntimeError(f"the webhook answered {answer['statusCode']}: {answer.get('body')}")
    return answer


def _connect(stack: _Stack, users: list[dict[str, Any]]) -> None:
    """Each user's `auth` delivery, so the ingest function knows whose data it is."""
    for n, user in enumerate(users):
        event = {"type": "auth", "status": "success", "user": user, "reference_id": user["reference_id"]}
        _deliver(stack, body(event), f"bench-auth-{n}")


def measure_webhook(stack: _Stack, sizes: list[int], runs: int, user: dict[str, Any]) -> list[WebhookFigures]:
    from terra_connect.webhooks.signatures import verify_signature  # noqa: PLC0415 - after the environment is set

    figures = []
    for size in sizes:
        seconds = activity_seconds(size)
        samples: list[tuple[float, float, float]] = []
        raw = body(data_event("activity", [activity(user["user_id"], date(2026, 7, 1), seconds, f"s-{size}")], user))
        event_bytes = 0
        for n in range(runs + 1):  # the first is the warm-up
            # Each run another trace id: another delivery, archived under its own key.
            event = webhook_event(raw, f"bench-webhook-{size}-{n}")
            event_bytes = len(json.dumps(event).encode())
            with stack.log.under("webhook-large"):
                started = time.perf_counter()
                answer = stack.webhook.lambda_handler(event, LambdaContext())
                elapsed = time.perf_counter() - started
            if answer["statusCode"] != 200:
                raise RuntimeError(f"the webhook answered {answer['statusCode']}: {answer.get('body')}")
            calls = stack.log.calls.pop("webhook-large")
            put = sum(c.seconds for c in calls if c.operation == "s3.PutObject")
            send = sum(c.seconds for c in calls if c.operation == "sqs.SendMessage")
            if n:
                samples.append((elapsed, put, send))
        header = webhook_event(raw, "signature")["headers"]["terra-signature"]
        checks = []
        for _ in range(max(runs, 3)):
            started = time.perf_counter()
            verify_signature(header, raw, SIGNING_SECRET, time.time())
            checks.append(time.perf_counter() - started)
        figures.append(
            WebhookFigures(
                body_bytes=len(raw),
                event_bytes=event_bytes,
                runs=runs,
                answer_ms=Spread.of([s[0] * 1000 for s in samples]),
                signature_ms=statistics.median(checks) * 1000,
                put_ms=statistics.median(s[1] for s in samples) * 1000,
                send_ms=statistics.median(s[2] for s in samples) * 1000,
            )
        )
    return figures


def _payloads(users: list[dict[str, Any]], count: int) -> Iterator[tuple[str, bytes, int]]:
    """(kind, body, records) for `count` payloads of the mix, spread over the users; every record is new."""
    next_day = {user["user_id"]: date(2024, 1, 1) for user in users}
    seconds = activity_seconds(ACTIVITY_BYTES)
    for n in range(count):
        kind, user = MIX[n % len(MIX)], users[n % len(users)]
        uid = user["user_id"]
        day = next_day[uid]
        if kind == "activity":
            records = [activity(uid, day, seconds, f"bench-activity-{n}")]
            data_type = "activity"
        else:
            days = CHUNK_DAYS if kind == "chunk" else 1
            records = [daily(uid, day + timedelta(days=d)) for d in range(days)]
            next_day[uid] = day + timedelta(days=days)
            data_type = "daily"
        yield kind, body(data_event(data_type, records, user)), len(records)


def measure_consumer(stack: _Stack, users: list[dict[str, Any]], count: int) -> ConsumerFigures:
    """`count` payloads delivered through the webhook (not timed), then their pointers through the ingest handler in
    batches of 10, as the queue's event source hands them over (receiving and deleting are the event source's work
    and are not timed)."""
    sizes: dict[str, list[int]] = {}
    by_kind: Counter[str] = Counter()
    records = 0
    for n, (kind, raw, in_payload) in enumerate(_payloads(users, count)):
        with stack.log.under("webhook"):
            _deliver(stack, raw, f"bench-payload-{n}")
        sizes.setdefault(kind, []).append(len(raw))
        by_kind[kind] += 1
        records += in_payload
    sqs = local_client("sqs", os.environ["LOCAL_AWS_ENDPOINT_URL"])

    handler_module = stack.ingest
    record_handler = handler_module.record_handler

    def attributed(record: Any) -> None:
        with stack.log.under(_kind(json.loads(record.body)["size"])):
            record_handler(record)

    webhook_log_bytes = stack.sink.written / (count + USERS)
    stack.sink.written = 0
    wall = cpu = 0.0
    batches = received = 0
    with mock.patch.object(handler_module, "record_handler", attributed):
        while received < count:
            answer = sqs.receive_message(
                QueueUrl=stack.queue_url, MaxNumberOfMessages=BATCH, AttributeNames=["All"], VisibilityTimeout=600
            )
            messages = answer.get("Messages", [])
            if not messages:
                raise RuntimeError(f"the ingest queue ran dry after {received} of {count} pointers")
            event = {"Records": [_sqs_record(m, stack.queue_arn) for m in messages]}
            with stack.log.under("batch"):
                started, started_cpu = time.perf_counter(), time.thread_time()
                result = handler_module.lambda_handler(event, LambdaContext())
                wall += time.perf_counter() - started
                cpu += time.thread_time() - started_cpu
            if result["batchItemFailures"]:
                raise RuntimeError(f"the ingest function failed {result['batchItemFailures']}")
            sqs.delete_message_batch(
                QueueUrl=stack.queue_url,
                Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)],
            )
            batches += 1
            received += len(messages)
    failed = [c.operation for log in stack.log.calls.values() for c in log if c.failed]
    if failed:  # a transaction cancelled here would have kept its partial writes (_TablesUncopied)
        raise RuntimeError(f"AWS calls failed during the run: {Counter(failed)}")
    calls = {label: Counter(c.operation for c in log) for label, log in stack.log.calls.items() if label != "webhook"}
    units = {
        kind: (
            sum(c.write_units for c in stack.log.calls.get(kind, [])) / by_kind[kind],
            sum(c.read_units for c in stack.log.calls.get(kind, [])) / by_kind[kind],
        )
        for kind in by_kind
    }
    return ConsumerFigures(
        payloads=count,
        records=records,
        batches=batches,
        seconds=wall,
        cpu_seconds=cpu,
        mean_bytes={kind: round(statistics.mean(values)) for kind, values in sizes.items()},
        calls=calls,
        payloads_by_kind=by_kind,
        units=units,
        log_bytes_per_payload=stack.sink.written / count,
        webhook_log_bytes=webhook_log_bytes,
    )


def _kind(size: int) -> str:
    """A payload's kind by its size: a 1-record daily is a few KB, an activity about 50 KB, a chunk about 150 KB."""
    if size < 20_000:
        return "daily"
    return "activity" if size < 100_000 else "chunk"


def _sqs_record(message: dict[str, Any], arn: str) -> dict[str, Any]:
    return {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": message["Attributes"],
        "messageAttributes": {},
        "md5OfBody": message["MD5OfBody"],
        "eventSource": "aws:sqs",
        "eventSourceARN": arn,
        "awsRegion": REGION,
    }


def measure(*, webhook_runs: int, sizes: list[int], pointers: int) -> DataPathFigures:
    users = [terra_user(f"bench-terra-user-{n:04d}", f"bench-user-{n}") for n in range(USERS)]
    with emulated_stack() as stack:
        _connect(stack, users)
        consumer = measure_consumer(stack, users, pointers)
        webhook_calls = stack.log.calls.pop("webhook", [])
        webhook = measure_webhook(stack, sizes, webhook_runs, users[0])
    per_delivery = Counter(c.operation for c in webhook_calls)
    return DataPathFigures(
        webhook=webhook,
        consumer=consumer,
        webhook_calls={operation: n / pointers for operation, n in sorted(per_delivery.items())},
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="few iterations; proves the benchmark runs")
    args = parser.parse_args()
    from bench.data_report import render  # noqa: PLC0415 - the report is only needed here

    started = time.perf_counter()
    figures = measure(**(QUICK if args.quick else FULL))
    print("\n".join(render(figures)))  # noqa: T201
    print(f"\n(data path bench took {time.perf_counter() - started:.1f} s)", file=sys.stderr)  # noqa: T201
    return 0


FULL: dict[str, Any] = {"webhook_runs": 30, "sizes": [1 * MB, 5 * MB], "pointers": 1000}
# make bench-quick runs in CI, which is over its time budget: it must add under 10 s.
QUICK: dict[str, Any] = {"webhook_runs": 3, "sizes": [1 * MB, 5 * MB], "pointers": 30}


if __name__ == "__main__":
    sys.exit(main())
