"""Settings are validated once, at cold start, and a bad one fails loudly without naming secrets."""

import importlib
import sys

import pytest

from terra_connect.settings import (
    BackfillFunctionSettings,
    EventsSettings,
    IngestSettings,
    ReconcilerSettings,
    Settings,
    SettingsError,
    WebhookSettings,
)
from tests.support.builders import LEGACY_WIDGET_URL, WIDGET_URL

VALID = {
    "TERRA_SECRET_ARN": "arn:aws:secretsmanager:us-east-1:123456789012:secret:terra-AbCdEf",
    "CONNECTIONS_TABLE": "connections",
    "TERRA_WIDGET_SESSION_URL": WIDGET_URL,
    "ALLOWED_REDIRECT_URLS": "myapp://terra, https://app.example.com/terra",
    "DEFAULT_SUCCESS_REDIRECT_URL": "myapp://terra/connected",
}


def test_valid_settings_are_parsed() -> None:
    settings = Settings.from_env(VALID)

    assert settings.reference_id_claim == "sub"
    assert settings.secret_cache_ttl_seconds == 300
    assert settings.default_failure_redirect_url is None
    assert settings.redirect_policy.permits("https://app.example.com/terra/x")
    assert not settings.legacy_widget_endpoint
    assert Settings.from_env({**VALID, "TERRA_WIDGET_SESSION_URL": LEGACY_WIDGET_URL}).legacy_widget_endpoint


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"TERRA_SECRET_ARN": ""}, "TERRA_SECRET_ARN is required"),
        ({"TERRA_WIDGET_SESSION_URL": ""}, "TERRA_WIDGET_SESSION_URL is required"),
        ({"TERRA_WIDGET_SESSION_URL": "https://evil.example/widget"}, "https URL on tryterra.co"),
        ({"TERRA_WIDGET_SESSION_URL": "http://api.tryterra.co/v2/auth/generateWidgetSession"}, "tryterra.co"),
        ({"TERRA_WIDGET_SESSION_URL": "https://tryterra.co.evil.example/x"}, "tryterra.co"),
        ({"TERRA_WIDGET_SESSION_URL": "https://api.tryterra.co@evil.example/x"}, "tryterra.co"),
        ({"TERRA_API_BASE_URL": "https://evil.example/v2"}, "TERRA_API_BASE_URL must be an https URL on tryterra.co"),
        ({"CONNECTIONS_TABLE": ""}, "CONNECTIONS_TABLE is required"),
        ({"ALLOWED_REDIRECT_URLS": "http://app.example.com/terra"}, "plain http is only allowed for loopback"),
        ({"ALLOWED_REDIRECT_URLS": "javascript:alert(1)"}, "forbidden scheme"),
        ({"DEFAULT_SUCCESS_REDIRECT_URL": "https://elsewhere.example/x"}, "DEFAULT_SUCCESS_REDIRECT_URL must match"),
        ({"DEFAULT_FAILURE_REDIRECT_URL": "myapp://other"}, "DEFAULT_FAILURE_REDIRECT_URL must match"),
        ({"APPLE_APP_URL": "otherapp://terra/apple"}, "APPLE_APP_URL must match"),
        ({"SAMSUNG_APP_URL": "javascript:alert(1)"}, "SAMSUNG_APP_URL must match"),
        ({"LOCAL_AWS_ENDPOINT_URL": "https://secretsmanager.evil.example"}, "LOCAL_AWS_ENDPOINT_URL"),
        ({"LOCAL_AWS_ENDPOINT_URL": "http://user@localhost:5000"}, "LOCAL_AWS_ENDPOINT_URL"),
        ({"SECRET_CACHE_TTL_SECONDS": "0"}, "SECRET_CACHE_TTL_SECONDS"),
        ({"SECRET_CACHE_TTL_SECONDS": "soon"}, "SECRET_CACHE_TTL_SECONDS"),
    ],
)
def test_bad_settings_are_refused(overrides: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        Settings.from_env({**VALID, **overrides})


def test_every_problem_is_reported_at_once() -> None:
    with pytest.raises(SettingsError) as raised:
        Settings.from_env({"ALLOWED_REDIRECT_URLS": "ftp://x"})

    text = str(raised.value)
    assert "TERRA_SECRET_ARN is required" in text
    assert "TERRA_WIDGET_SESSION_URL is required" in text
    assert "forbidden scheme" in text


@pytest.mark.parametrize("host", ["127.0.0.1:4010", "localhost:4010", "[::1]:4010", "host.docker.internal:4010"])
def test_endpoints_on_this_machine_are_accepted_for_local_runs(host: str) -> None:
    settings = Settings.from_env(
        {
            **VALID,
            "TERRA_WIDGET_SESSION_URL": f"http://{host}/api/widget/session",
            "LOCAL_AWS_ENDPOINT_URL": f"http://{host}",
        }
    )

    assert settings.terra_widget_session_url == f"http://{host}/api/widget/session"
    assert settings.local_aws_endpoint_url == f"http://{host}"


def test_no_local_aws_endpoint_by_default() -> None:
    assert Settings.from_env({**VALID, "LOCAL_AWS_ENDPOINT_URL": ""}).local_aws_endpoint_url is None


def test_a_bad_setting_fails_the_cold_start(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in VALID:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("TERRA_WIDGET_SESSION_URL", "https://evil.example/steal-keys")
    monkeypatch.delitem(sys.modules, "terra_connect.entrypoints.api", raising=False)  # a fresh module, a fresh cache

    with pytest.raises(SettingsError, match="TERRA_WIDGET_SESSION_URL"):
        importlib.import_module("terra_connect.entrypoints.api")


def test_the_webhook_function_needs_only_the_secret_and_the_table() -> None:
    settings = WebhookSettings.from_env({"TERRA_SECRET_ARN": "arn:x", "CONNECTIONS_TABLE": "connections"})

    assert (settings.terra_secret_arn, settings.connections_table) == ("arn:x", "connections")
    with pytest.raises(SettingsError, match="CONNECTIONS_TABLE is required"):
        WebhookSettings.from_env({"TERRA_SECRET_ARN": "arn:x"})


CLAIM_CHECK = {
    "DATA_BUCKET": "data-bucket",
    "DATA_KEY_ID": "arn:aws:kms:us-east-1:123456789012:key/1",
    "INGEST_QUEUE_URL": "https://sqs.us-east-1.amazonaws.com/123456789012/ingest",
    "FETCH_QUEUE_URL": "https://sqs.us-east-1.amazonaws.com/123456789012/fetch",
}
INGEST = {
    **CLAIM_CHECK,
    "CONNECTIONS_TABLE": "connections",
    "DATA_TABLE": "data",
    "IDEMPOTENCY_TABLE": "idempotency",
}


def test_the_webhook_keeps_data_only_with_its_whole_data_store_named() -> None:
    base = {"TERRA_SECRET_ARN": "arn:x", "CONNECTIONS_TABLE": "connections"}

    settings = WebhookSettings.from_env({**base, **CLAIM_CHECK})

    assert settings.claim_check is not None
    assert settings.claim_check.fetch_queue_url.endswith("/fetch")
    with pytest.raises(SettingsError, match="FETCH_QUEUE_URL is required with DATA_BUCKET"):
        WebhookSettings.from_env({**base, **CLAIM_CHECK, "FETCH_QUEUE_URL": ""})


def test_the_ingest_function_reads_its_resources_and_limits() -> None:
    settings = IngestSettings.from_env(INGEST)

    assert (settings.data_retention_days, settings.record_retention_days, settings.backfill_days) == (30, 0, 30)
    assert settings.payload_url_hosts == ("amazonaws.com",)
    assert not settings.backfills_on  # no BACKFILL_QUEUE_URL
    assert IngestSettings.from_env({**INGEST, "BACKFILL_QUEUE_URL": "https://q"}).backfills_on
    assert not IngestSettings.from_env({**INGEST, "BACKFILL_QUEUE_URL": "https://q", "BACKFILL_DAYS": "0"}).backfills_on


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"IDEMPOTENCY_TABLE": ""}, "IDEMPOTENCY_TABLE is required"),
        ({"DATA_TABLE": ""}, "DATA_TABLE is required"),
        ({"BACKFILL_DAYS": "1826"}, "BACKFILL_DAYS must be a whole number of days from 0 to 1825"),
        ({"RECORD_RETENTION_DAYS": "-1"}, "RECORD_RETENTION_DAYS"),
        ({"DATA_RETENTION_DAYS": "0"}, "DATA_RETENTION_DAYS"),
        ({"PAYLOAD_URL_HOSTS": "amazonaws.com,*"}, "PAYLOAD_URL_HOSTS"),
    ],
)
def test_bad_ingest_settings_are_refused(overrides: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        IngestSettings.from_env({**INGEST, **overrides})


def test_the_backfill_function_needs_its_queue_and_a_way_to_keep_inline_data() -> None:
    base = {"TERRA_SECRET_ARN": "arn:x", "DATA_TABLE": "data", "BACKFILL_QUEUE_URL": "https://q", **CLAIM_CHECK}

    settings = BackfillFunctionSettings.from_env({**base, "BACKFILL_WITH_SAMPLES": "true"})

    assert settings.backfill_with_samples
    assert settings.claim_check.bucket == "data-bucket"
    with pytest.raises(SettingsError, match="BACKFILL_WITH_SAMPLES must be true or false"):
        BackfillFunctionSettings.from_env({**base, "BACKFILL_WITH_SAMPLES": "yes"})
    with pytest.raises(SettingsError, match="DATA_BUCKET, DATA_KEY_ID"):
        BackfillFunctionSettings.from_env({k: v for k, v in base.items() if k not in CLAIM_CHECK})


def test_the_events_function_asks_for_backfills_only_when_a_queue_is_named() -> None:
    base = {"EVENT_BUS_NAME": "bus", "CONNECTIONS_TABLE": "connections"}

    assert EventsSettings.from_env(base).backfill_queue_url == ""
    assert EventsSettings.from_env({**base, "BACKFILL_QUEUE_URL": "https://q"}).backfill_queue_url == "https://q"


def test_the_api_reads_data_only_with_both_the_table_and_the_bucket() -> None:
    assert Settings.from_env(VALID).data is None
    data = Settings.from_env({**VALID, "DATA_TABLE": "data", "DATA_BUCKET": "bucket", "PURGE_QUEUE_URL": "q"}).data
    assert data is not None
    assert data.table == "data"
    with pytest.raises(SettingsError, match="DATA_BUCKET is required with DATA_TABLE"):
        Settings.from_env({**VALID, "DATA_TABLE": "data", "PURGE_QUEUE_URL": "q"})


def test_a_stack_that_keeps_data_names_the_purge_queue_for_its_erasures() -> None:
    with pytest.raises(SettingsError, match="PURGE_QUEUE_URL is required with DATA_TABLE"):
        Settings.from_env({**VALID, "DATA_TABLE": "data", "DATA_BUCKET": "bucket"})
    with pytest.raises(SettingsError, match="PURGE_QUEUE_URL is required with DATA_TABLE"):
        ReconcilerSettings.from_env({**VALID, "DATA_TABLE": "data", "DATA_BUCKET": "bucket"})
    purge = ReconcilerSettings.from_env({**VALID, "DATA_TABLE": "t", "DATA_BUCKET": "b", "PURGE_QUEUE_URL": "q"}).purge
    assert purge is not None
    assert (purge.table, purge.bucket, purge.queue_url) == ("t", "b", "q")
    assert ReconcilerSettings.from_env(VALID).purge is None
