"""Terra credentials come from one Secrets Manager secret, cached per container, and never leak in errors."""

import json
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError, EndpointConnectionError

from terra_connect.kernel.errors import ConfigurationError, SecretsUnavailable
from terra_connect.platform.secrets import SecretsManagerCredentials
from tests.support.builders import API_KEY, DEV_ID, ROTATED_API_KEY


@pytest.fixture
def secrets_client(aws: None) -> Any:
    return boto3.client("secretsmanager")


def store(client: Any, value: str) -> str:
    return str(client.create_secret(Name="terra", SecretString=value)["ARN"])


def counting(source: SecretsManagerCredentials) -> list[str]:
    """Count the SDK calls the source's provider makes."""
    calls: list[str] = []
    client = source._client
    client.meta.events.register("before-call.secrets-manager.GetSecretValue", lambda **_: calls.append("get"))
    return calls


def test_reads_and_caches_the_credentials(secrets_client: Any) -> None:
    arn = store(secrets_client, json.dumps({"dev_id": DEV_ID, "api_key": API_KEY}))
    source = SecretsManagerCredentials(arn, max_age_seconds=300)
    calls = counting(source)

    first = source.get()
    second = source.get()

    assert (first.dev_id, first.api_key, first.webhook_signing_secret) == (DEV_ID, API_KEY, None)
    assert second is first
    assert calls == ["get"]


def test_refresh_bypasses_the_cache_and_sees_a_rotation(secrets_client: Any) -> None:
    arn = store(secrets_client, json.dumps({"dev_id": DEV_ID, "api_key": API_KEY}))
    source = SecretsManagerCredentials(arn, max_age_seconds=300)
    calls = counting(source)
    source.get()
    secrets_client.put_secret_value(
        SecretId=arn, SecretString=json.dumps({"dev_id": DEV_ID, "api_key": ROTATED_API_KEY})
    )

    assert source.get().api_key == API_KEY
    assert source.get(refresh=True).api_key == ROTATED_API_KEY
    assert calls == ["get", "get"]


def test_the_cache_expires_after_its_max_age(secrets_client: Any) -> None:
    arn = store(secrets_client, json.dumps({"dev_id": DEV_ID, "api_key": API_KEY}))
    now = [1000.0]
    source = SecretsManagerCredentials(arn, max_age_seconds=300, clock=lambda: now[0])
    calls = counting(source)
    source.get()
    secrets_client.put_secret_value(
        SecretId=arn, SecretString=json.dumps({"dev_id": DEV_ID, "api_key": ROTATED_API_KEY})
    )

    now[0] += 299.9
    before_expiry = source.get().api_key
    now[0] += 0.1
    after_expiry = source.get().api_key

    assert (before_expiry, after_expiry) == (API_KEY, ROTATED_API_KEY)
    assert calls == ["get", "get"]


def test_nothing_is_read_until_asked_and_forget_empties_the_cache(secrets_client: Any) -> None:
    arn = store(secrets_client, json.dumps({"dev_id": DEV_ID, "api_key": API_KEY}))
    source = SecretsManagerCredentials(arn, max_age_seconds=300)
    calls = counting(source)

    assert calls == []
    source.get()
    source.forget()
    source.get()
    assert calls == ["get", "get"]


def test_credentials_never_show_in_repr(secrets_client: Any) -> None:
    arn = store(secrets_client, json.dumps({"dev_id": DEV_ID, "api_key": API_KEY, "webhook_signing_secret": "whsec"}))

    text = repr(SecretsManagerCredentials(arn, max_age_seconds=300).get())

    assert API_KEY not in text
    assert DEV_ID not in text
    assert "whsec" not in text


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("not json {", "not JSON"),
        ('["a", "b"]', "not a JSON object"),
        (json.dumps({"dev_id": DEV_ID}), "lacks keys"),
        (json.dumps({"dev_id": DEV_ID, "api_key": ""}), "lacks keys"),
        (json.dumps({"dev_id": DEV_ID, "api_key": 42}), "lacks keys"),
        (json.dumps({"dev_id": "REPLACE_ME", "api_key": "REPLACE_ME"}), "placeholder"),
    ],
    ids=["not-json", "not-object", "missing-key", "empty-key", "wrong-type", "placeholders"],
)
def test_a_malformed_secret_is_a_configuration_error_that_names_no_value(
    secrets_client: Any,
    value: str,
    reason: str,
) -> None:
    arn = store(secrets_client, value)

    with pytest.raises(ConfigurationError) as raised:
        SecretsManagerCredentials(arn, max_age_seconds=300).get()

    assert reason in str(raised.value.log_context)
    assert DEV_ID not in str(raised.value.log_context)
    assert raised.value.detail == "The service is not configured correctly."


def test_a_missing_secret_is_a_configuration_error(aws: None) -> None:
    arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:missing-AbCdEf"

    with pytest.raises(ConfigurationError) as raised:
        SecretsManagerCredentials(arn, max_age_seconds=300).get()

    assert raised.value.log_context["secrets_manager_error"] == "ResourceNotFoundException"


def test_a_binary_secret_is_a_configuration_error(secrets_client: Any) -> None:
    arn = secrets_client.create_secret(Name="binary", SecretBinary=b"\x00\x01")["ARN"]

    with pytest.raises(ConfigurationError):
        SecretsManagerCredentials(arn, max_age_seconds=300).get()


def _failing_source(error: Exception) -> SecretsManagerCredentials:
    source = SecretsManagerCredentials("terra", max_age_seconds=300)
    client = source._client

    def fail(**_: Any) -> None:
        raise error

    client.meta.events.register("before-call.secrets-manager.GetSecretValue", fail)
    return source


def _client_error(code: str) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": "denied"}}, "GetSecretValue")


@pytest.mark.parametrize(
    ("error", "expected", "code"),
    [
        (_client_error("AccessDeniedException"), ConfigurationError, "configuration_error"),
        (_client_error("DecryptionFailure"), ConfigurationError, "configuration_error"),
        (_client_error("ThrottlingException"), SecretsUnavailable, "secrets_unavailable"),
        (_client_error("InternalServiceError"), SecretsUnavailable, "secrets_unavailable"),
        (EndpointConnectionError(endpoint_url="https://secretsmanager"), SecretsUnavailable, "secrets_unavailable"),
    ],
    ids=["access-denied", "decryption-failure", "throttled", "internal-error", "unreachable"],
)
def test_sdk_errors_are_classified(aws: None, error: Exception, expected: type[Exception], code: str) -> None:
    with pytest.raises(expected) as raised:
        _failing_source(error).get()

    assert getattr(raised.value, "code", None) == code
