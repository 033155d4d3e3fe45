"""The data path's sections of docs/performance.md: the webhook's answer time, the ingest function's throughput with
the AWS calls it makes, and what a million data events cost at list prices (an estimate, every assumption stated)."""

from dataclasses import dataclass

from bench.data_path import (
    BATCH,
    LAMBDA_SYNC_LIMIT,
    MB,
    ConsumerFigures,
    DataPathFigures,
    latency_ms,
)

KINDS = ("daily", "activity", "chunk")
KIND_NAMES = {"daily": "1-record daily", "activity": "activity", "chunk": "30-day chunk"}
# Functions' memory (template.yaml, data.yaml) and a Lambda platform's START/END/REPORT lines per invocation.
WEBHOOK_MB, INGEST_MB = 512, 1769
WEBHOOK_MS = 80  # assumption: signature, one S3 PUT and one SQS send of a small body, in-region
PLATFORM_LOG_BYTES = 300  # assumption
EVENTS_INVOCATIONS = 0.1  # the events function's invocations per data event (stream batches): assumption


@dataclass(frozen=True)
class Price:
    unit: float  # dollars per unit below
    per: str
    source: str


# us-east-1 list prices. "AWS page": read on an AWS page; "third-party page": a page quoting AWS's list price
# (AWS's own page not found with the figure); "assumption": not re-checked.
PRICES = {
    "http_api": Price(1.00 / 1e6, "$1.00 per million (first 300 M; metered per 512 KB)", "AWS page (whitepaper)"),
    "lambda_request": Price(0.20 / 1e6, "$0.20 per million", "third-party page"),
    "lambda_gb_s": Price(0.0000133334, "$0.0000133334 per GB-s (arm64)", "third-party page"),
    "s3_put": Price(0.005 / 1000, "$0.005 per 1,000", "third-party page"),
    "s3_get": Price(0.0004 / 1000, "$0.0004 per 1,000", "third-party page"),
    "wru": Price(0.625 / 1e6, "$0.625 per million WRU (on-demand)", "third-party page"),
    "rru": Price(0.125 / 1e6, "$0.125 per million RRU (on-demand)", "third-party page"),
    "sqs": Price(0.40 / 1e6, "$0.40 per million (per 64 KB chunk)", "third-party page"),
    "events": Price(1.00 / 1e6, "$1.00 per million custom events", "third-party page"),
    "logs": Price(0.50 / 1e9, "$0.50 per GB ingested", "third-party page"),
}


def render(figures: DataPathFigures) -> list[str]:
    return [*_webhook(figures), *_consumer(figures.consumer), *_cost(figures)]


def _webhook(figures: DataPathFigures) -> list[str]:
    rows = [
        f"| {w.body_bytes / MB:.2f} MB | {w.event_bytes / MB:.2f} MB ({w.event_bytes / LAMBDA_SYNC_LIMIT:.0%} of "
        f"6 MB) | {w.runs} | {w.answer_ms.p50:,.1f} | {w.answer_ms.p95:,.1f} | {w.answer_ms.max:,.1f} "
        f"| {w.signature_ms:.2f} | {w.put_ms:,.1f} | {w.send_ms:.1f} |"
        for w in figures.webhook
    ]
    largest = max(figures.webhook, key=lambda w: w.body_bytes)
    fits = "fits" if largest.event_bytes < LAMBDA_SYNC_LIMIT else "**does not fit**"
    return [
        "## Data path (bench/data_path.py)",
        "",
        "The real webhook and ingest handlers in this process, with their real adapters, against the stack's tables,",
        "bucket, key and queues in moto's server on 127.0.0.1 (in this same process). **moto on loopback stands in for",
        "S3, SQS and DynamoDB**: the times below are the code plus moto, not AWS. Every AWS call is counted where",
        "botocore makes it. Handler log lines and metrics are counted (bytes) and discarded.",
        "",
        "### Webhook answer time, one signed `activity` event",
        "",
        "Generated in Terra's shapes (an activity recorded at 1 Hz: heart rate, position, speed and distance samples,",
        "compact JSON, so every key and timestamp is quoted as in Terra's bodies), signed as Terra signs, each run a",
        "new trace id (a new delivery), after one warm-up run. Breakdown: medians of the product's signature check on",
        "that body, and of the S3 PutObject and SQS SendMessage calls inside the runs.",
        "",
        "| Body | Lambda event (API Gateway v2, JSON) | Runs | p50 ms | p95 ms | max ms | Signature ms "
        "| S3 PUT ms (moto) | SQS send ms (moto) |",
        "|---|---|---|---|---|---|---|---|---|",
        *rows,
        "",
        f"The body travels JSON-escaped inside the event: the {largest.body_bytes / MB:.2f} MB body makes a "
        f"{largest.event_bytes / MB:.2f} MB event, which {fits} under Lambda's 6 MB synchronous request limit "
        "(6,000,000 bytes here, the stricter reading). API Gateway's HTTP API meters such a request as "
        f"{-(-largest.body_bytes // 524_288)} requests (512 KB each).",
        "",
        "**Estimate, not measured:** an in-region S3 PUT of 5 MB from Lambda takes about 0.1-0.3 s: S3's performance",
        "guidelines give small requests a median in the tens of milliseconds, and 5 MB at the 25-100 MB/s one",
        "connection from a function typically gets adds 50-200 ms. The webhook answers after that PUT and one SQS",
        "send (~10 ms), well inside its 6 s timeout and Terra's ~8 s.",
        "",
    ]


def _consumer(consumer: ConsumerFigures) -> list[str]:
    per_payload = consumer.all_calls_per_payload()
    operations = sorted(per_payload)
    by_kind = {kind: consumer.per_payload(kind) for kind in KINDS}
    estimate_ms = consumer.estimated_ms_per_payload()
    cpu_ms = consumer.cpu_seconds * 1000 / consumer.payloads
    records_per_payload = consumer.records / consumer.payloads
    sizes = ", ".join(
        f"{KIND_NAMES[k]} {consumer.mean_bytes.get(k, 0) / 1000:,.0f} KB ({consumer.payloads_by_kind[k]})"
        for k in KINDS
    )
    return [
        "### Ingest function throughput, one instance",
        "",
        f"{consumer.payloads:,} payloads ({sizes}; {consumer.records:,} records, all new)",
        "delivered through the webhook, then their pointers through the ingest handler in",
        f"{consumer.batches:,} SQS batches of up to {BATCH}, as the",
        "queue's event source hands them over (receiving and deleting are the event source's work: not timed).",
        "",
        "| | Measured against moto | Estimate for AWS |",
        "|---|---|---|",
        f"| Payloads/s | {consumer.payloads / consumer.seconds:,.1f} | {1000 / estimate_ms:,.1f} |",
        f"| Records/s | {consumer.records / consumer.seconds:,.1f} | {1000 * records_per_payload / estimate_ms:,.1f} |",
        f"| ms per payload | {consumer.seconds * 1000 / consumer.payloads:,.1f} (handler's own CPU: {cpu_ms:,.1f}) "
        f"| {estimate_ms:,.1f} |",
        "",
        "**The AWS column is an estimate**: 1 / (Σ calls per payload x the per-call latency assumed below + the",
        "handler's own CPU per payload as measured here, moto's server threads excluded). The handler processes a",
        "batch's records one after another, so the calls add up. Per-call latencies are assumptions (in-region, kept-",
        "alive connections: S3's small requests in the tens of milliseconds, DynamoDB's single-item calls in single",
        "digits), not measurements.",
        "",
        "AWS calls per payload (counted at botocore):",
        "",
        "| Operation | " + " | ".join(KIND_NAMES[k] for k in KINDS) + " | mix | assumed latency |",
        "|---|---|---|---|---|---|",
        *(
            f"| {op} | " + " | ".join(f"{by_kind[k].get(op, 0):g}" for k in KINDS) + f" | {per_payload[op]:.2f} "
            f"| {latency_ms(op):g} ms |"
            for op in operations
        ),
        "",
        "moto deep-copies every table a transaction names before running it (its rollback), a cost that grows with",
        "the table and that DynamoDB does not have; the benchmark skips that copy and fails if any call fails.",
        "",
    ]


def _cost(figures: DataPathFigures) -> list[str]:
    consumer = figures.consumer
    daily = consumer.per_payload("daily")
    wru, rru = consumer.units["daily"]
    webhook_puts = figures.webhook_calls.get("s3.PutObject", 0.0)
    webhook_sends = figures.webhook_calls.get("sqs.SendMessage", 0.0)
    ingest_ms = sum(n * latency_ms(op) for op, n in daily.items()) + consumer.cpu_seconds * 1000 / consumer.payloads
    million = 1e6
    lambda_requests = (1 + 1 + EVENTS_INVOCATIONS) * million
    gb_s = million * (WEBHOOK_MB / 1024 * WEBHOOK_MS + INGEST_MB / 1024 * ingest_ms) / 1000
    s3_puts = (webhook_puts + daily.get("s3.PutObject", 0)) * million
    s3_gets = daily.get("s3.GetObject", 0) * million
    sqs_calls = (webhook_sends + 2 + sum(n for op, n in daily.items() if op.startswith("sqs."))) * million
    log_bytes = million * (consumer.webhook_log_bytes + consumer.log_bytes_per_payload + 2 * PLATFORM_LOG_BYTES)
    rows = [
        ("HTTP API requests (bodies ≤ 512 KB)", f"{million:,.0f}", "http_api", million),
        ("Lambda requests (webhook, ingest, events function)", f"{lambda_requests:,.0f}", "lambda_request",
         lambda_requests),
        ("Lambda duration (arm64)", f"{gb_s:,.0f} GB-s", "lambda_gb_s", gb_s),
        ("S3 PUT (raw archive + record)", f"{s3_puts:,.0f}", "s3_put", s3_puts),
        ("S3 GET (raw)", f"{s3_gets:,.0f}", "s3_get", s3_gets),
        ("DynamoDB writes", f"{wru * million:,.0f} WRU", "wru", wru * million),
        ("DynamoDB reads", f"{rru * million:,.0f} RRU", "rru", rru * million),
        ("SQS (send; event source's receive + delete)", f"{sqs_calls:,.0f}", "sqs", sqs_calls),
        ("EventBridge custom events (Data Received)", f"{million:,.0f}", "events", million),
        ("CloudWatch Logs", f"{log_bytes / 1e9:.2f} GB", "logs", log_bytes),
    ]  # fmt: skip
    total = sum(PRICES[key].unit * quantity for *_, key, quantity in rows)
    return [
        "## Cost per million data events (estimate, us-east-1 list prices)",
        "",
        "**An estimate, not a bill.** Request counts per event are the ones measured above for a 1-record daily",
        "payload (the webhook's and the ingest function's AWS calls); the rest are assumptions, listed here:",
        "batches of 1 (low traffic, the worst case: one ingest invocation and one receive + delete per event);",
        f"webhook {WEBHOOK_MB} MB x {WEBHOOK_MS} ms (assumption); ingest {INGEST_MB} MB x {ingest_ms:.0f} ms (the",
        "estimate above: measured calls x assumed latencies, plus the mix's measured CPU per payload);",
        f"{EVENTS_INVOCATIONS:g} events-function invocations and one custom event per data event; DynamoDB items under",
        "1 KB (a write 1 WRU; each item of a transaction 2, condition checks included; doubled when the item carries",
        "the by-day index's key; reads",
        "0.5 RRU eventually consistent, 1 strongly); logs = the handlers' measured bytes plus "
        f"{PLATFORM_LOG_BYTES} bytes of platform lines per invocation; no reads, no backfill; KMS with bucket keys",
        "(a few thousand requests, under $0.05: assumption).",
        "",
        "| Item | Quantity | Price | Source of the price | $ |",
        "|---|---|---|---|---|",
        *(
            f"| {name} | {shown} | {PRICES[key].per} | {PRICES[key].source} | {PRICES[key].unit * quantity:,.2f} |"
            for name, shown, key, quantity in rows
        ),
        f"| **Total per million events** | | | | **≈ ${total:,.0f}** |",
        "",
        "Prices re-checked for this page: the HTTP API's on AWS's own page (its API Gateway whitepaper, us-east-1);",
        "Lambda (arm64), S3 Standard requests, DynamoDB on-demand (the post-November-2024 rates), SQS standard,",
        "EventBridge custom events and CloudWatch Logs ingestion on third-party pages quoting AWS's list prices (the",
        "AWS pricing pages found did not carry the figures in their text). A body over 512 KB is metered as more than",
        "one HTTP API request (a 5 MB body: 10), and a pointer stays far under SQS's 64 KB billing chunk.",
        "Storage comes on top (S3 Standard, DynamoDB), and the fixed costs: the key, the secret, idle queue polling.",
        "",
    ]
