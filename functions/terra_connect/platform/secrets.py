"""Terra credentials read from one AWS Secrets Manager secret, cached per container.

The secret is a JSON object: {"dev_id": "...", "api_key": "..."} (and, for webhooks,
"webhook_signing_secret"). Errors name what is wrong, never a value.
"""

import json
import time
from collections.abc import Callable
from typing import Any

from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from terra_connect.kernel.errors import ConfigurationError, SecretsUnavailable
from terra_connect.platform.aws_clients import aws_client
from terra_connect.terra.credentials import TerraCredentials

# Secrets Manager is on the request path of a cold container: fail fast rather than let the SDK's
# default 60 s timeouts consume the function's whole budget.
SECRETS_CLIENT_CONFIG = Config(connect_timeout=2, read_timeout=3, retries={"mode": "standard", "max_attempts": 2})

# The value the stack's own secret is created with, until the operator puts the real credentials in.
PLACEHOLDER = "REPLACE_ME"

_TRANSIENT_CODES = frozenset({"ThrottlingException", "InternalServiceError", "InternalServiceErrorException"})


class SecretsManagerCredentials:
    """GetSecretValue at most once per `max_age_seconds`, and again on demand (`refresh`: a rotated key).

    The cache is this object: nothing is read at construction (so an init-phase snapshot never holds the secret)
    and `forget()` empties it. Powertools' parameters utility did the same until its package import, which pulls in
    boto3 and s3transfer, became most of the cold start; the semantics (max age, forced fetch, the raw string cached
    as read) are kept.
    """

    def __init__(
        self,
        secret_id: str,
        *,
        max_age_seconds: int,
        endpoint_url: str | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._secret_id = secret_id
        self._max_age = max_age_seconds
        self._clock = clock
        self._client = aws_client("secretsmanager", config=SECRETS_CLIENT_CONFIG, endpoint_url=endpoint_url)
        self._raw: tuple[float, str] | None = None
        self._parsed: tuple[str, TerraCredentials] | None = None

    def get(self, *, refresh: bool = False) -> TerraCredentials:
        raw = self._fetch(refresh=refresh)
        if self._parsed is not None and self._parsed[0] is raw:
            return self._parsed[1]
        credentials = _parse(raw)
        self._parsed = (raw, credentials)
        return credentials

    def forget(self) -> None:
        """Drop what was read and the SDK's pooled connections: the next get() asks Secrets Manager again."""
        self._raw = None
        self._parsed = None
        self._client.close()

    def _fetch(self, *, refresh: bool) -> str:
        now = self._clock()
        if not refresh and self._raw is not None and now - self._raw[0] < self._max_age:
            return self._raw[1]
        try:
            answer = self._client.get_secret_value(SecretId=self._secret_id)
        except Exception as exc:  # every SDK failure is classified, none escapes unnamed
            raise _classify(exc) from None
        value = answer.get("SecretString")
        if not isinstance(value, str):
            raise ConfigurationError(log_context={"reason": "the Terra secret is binary, expected a JSON string"})
        self._raw = (now, value)
        return value


def _classify(exc: Exception) -> Exception:
    if isinstance(exc, ClientError):
        code = exc.response.get("Error", {}).get("Code", "Unknown")
        if code in _TRANSIENT_CODES:
            return SecretsUnavailable(log_context={"secrets_manager_error": code})
        return ConfigurationError(
            log_context={"reason": "the Terra secret cannot be read", "secrets_manager_error": code}
        )
    if isinstance(exc, BotoCoreError):
        return SecretsUnavailable(log_context={"secrets_manager_error": type(exc).__name__})
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
            log_context={
                "reason": "the Terra secret still holds placeholder values: put the real ones in (docs/deploy.md)"
            }
        )
    signing_secret = document.get("webhook_signing_secret")
    return TerraCredentials(
        dev_id=document["dev_id"],
        api_key=document["api_key"],
        webhook_signing_secret=signing_secret
        if isinstance(signing_secret, str) and signing_secret not in {"", PLACEHOLDER}
        else None,
    )
