"""Terra credentials read from one AWS Secrets Manager secret, cached per container.

The secret is a JSON object: {"dev_id": "...", "api_key": "..."} (and, for webhooks,
"webhook_signing_secret"). Errors name what is wrong, never a value.
"""

import json
import logging
from typing import Any

import boto3
from aws_lambda_powertools.utilities.parameters import SecretsProvider
from aws_lambda_powertools.utilities.parameters.exceptions import GetParameterError
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from terra_connect.domain.errors import ConfigurationError, SecretsUnavailable
from terra_connect.domain.ports import TerraCredentials

# Secrets Manager is on the request path of a cold container: fail fast rather than let the SDK's
# default 60 s timeouts consume the function's whole budget.
SECRETS_CLIENT_CONFIG = Config(connect_timeout=2, read_timeout=3, retries={"mode": "standard", "max_attempts": 2})

# botocore logs whole API responses at DEBUG, GetSecretValue's SecretString included. Keep the SDK's
# loggers quiet even when the runtime's application log level is turned up to DEBUG.
for _sdk_logger in ("botocore", "boto3"):
    logging.getLogger(_sdk_logger).setLevel(logging.WARNING)

# The value the stack's own secret is created with, until the operator puts the real credentials in.
PLACEHOLDER = "REPLACE_ME"

_TRANSIENT_CODES = frozenset({"ThrottlingException", "InternalServiceError", "InternalServiceErrorException"})


class SecretsManagerCredentials:
    def __init__(self, secret_id: str, *, max_age_seconds: int, endpoint_url: str | None = None) -> None:
        self._secret_id = secret_id
        self._max_age = max_age_seconds
        client = boto3.session.Session().client(
            "secretsmanager", config=SECRETS_CLIENT_CONFIG, endpoint_url=endpoint_url
        )
        self._provider = SecretsProvider(boto3_client=client)
        self._parsed: tuple[str, TerraCredentials] | None = None

    def get(self, *, refresh: bool = False) -> TerraCredentials:
        raw = self._fetch(refresh=refresh)
        if self._parsed is not None and self._parsed[0] is raw:
            return self._parsed[1]
        credentials = _parse(raw)
        self._parsed = (raw, credentials)
        return credentials

    def _fetch(self, *, refresh: bool) -> str:
        try:
            value = self._provider.get(self._secret_id, max_age=self._max_age, force_fetch=refresh)
        except GetParameterError as exc:
            raise _classify(exc) from None
        if not isinstance(value, str):
            raise ConfigurationError(log_context={"reason": "the Terra secret is binary, expected a JSON string"})
        return value


def _classify(exc: GetParameterError) -> Exception:
    # Powertools wraps the SDK error in GetParameterError; the original is its __context__.
    cause = exc.__context__
    if isinstance(cause, ClientError):
        code = cause.response.get("Error", {}).get("Code", "Unknown")
        if code in _TRANSIENT_CODES:
            return SecretsUnavailable(log_context={"secrets_manager_error": code})
        return ConfigurationError(
            log_context={"reason": "the Terra secret cannot be read", "secrets_manager_error": code}
        )
    if isinstance(cause, BotoCoreError):
        return SecretsUnavailable(log_context={"secrets_manager_error": type(cause).__name__})
    return ConfigurationError(log_context={"reason": "the Terra secret cannot be read"})


def _parse(raw: str) -> TerraCredentials:
    try:
        document: Any = json.loads(raw)
    except ValueError:
        raise ConfigurationError(log_context={"reason": "the Terra secret is not JSON"}) from None
    if not isinstance(document, dict):
        raise ConfigurationError(log_context={"reason": "the Terra secret is not a JSON object"})
    missing = [key for key in ("dev_id", "api_key") if not isinstance(document.get(key), str) or not document[key]]
    if missing:
        raise ConfigurationError(log_context={"reason": "the Terra secret lacks keys", "missing_keys": missing})
    if PLACEHOLDER in (document["dev_id"], document["api_key"]):
        raise ConfigurationError(
            log_context={"reason": "the Terra secret still holds placeholder values: put the real ones in (see README)"}
        )
    signing_secret = document.get("webhook_signing_secret")
    return TerraCredentials(
        dev_id=document["dev_id"],
        api_key=document["api_key"],
        webhook_signing_secret=signing_secret
        if isinstance(signing_secret, str) and signing_secret not in {"", PLACEHOLDER}
        else None,
    )
