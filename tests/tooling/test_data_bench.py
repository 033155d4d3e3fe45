"""The data path's benchmark runs end to end (tiny counts) and reports figures: make bench-quick is not in make test."""

import pytest
from bench.data_path import measure
from bench.data_report import render

from terra_connect.platform.observability import metrics


def test_the_data_bench_measures_both_functions_and_prices_a_million_events(monkeypatch: pytest.MonkeyPatch) -> None:
    # make bench imports the functions' modules before any environment is set: their metrics have no namespace.
    monkeypatch.delenv("POWERTOOLS_METRICS_NAMESPACE", raising=False)
    previous, metrics.namespace = metrics.namespace, None
    try:
        figures = measure(webhook_runs=1, sizes=[200_000], pointers=10)
    finally:
        metrics.namespace = previous

    (webhook,) = figures.webhook
    assert webhook.answer_ms.p50 > 0
    assert webhook.event_bytes > webhook.body_bytes >= 190_000
    consumer = figures.consumer
    assert consumer.payloads == 10
    assert consumer.records > consumer.payloads  # the mix holds a 30-record chunk
    assert consumer.seconds > 0
    assert consumer.per_payload("daily")["s3.GetObject"] == 1
    assert figures.webhook_calls == {"s3.PutObject": 1.0, "sqs.SendMessage": 1.0}
    report = "\n".join(render(figures))
    assert "## Cost per million data events (estimate, us-east-1 list prices)" in report
    assert "**Total per million events**" in report
