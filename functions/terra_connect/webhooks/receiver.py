"""Receiving one webhook delivery: authenticate it, date it, then hand the event to the processor."""

import json
import time
from collections.abc import Callable, Mapping

from terra_connect.kernel.errors import ConfigurationError, InvalidSignature, MalformedBody
from terra_connect.terra.credentials import CredentialsSource
from terra_connect.webhooks.processor import Outcome, WebhookProcessor
from terra_connect.webhooks.signatures import fact_time, signature_header, verify_signature

# A failed signature may mean the signing secret was rotated, so the secret is read again - but at most this
# often, or anyone could make every forged request cost a Secrets Manager call.
REFRESH_INTERVAL_SECONDS = 60.0


class WebhookReceiver:
    def __init__(
        self,
        credentials: CredentialsSource,
        processor: WebhookProcessor,
        *,
        wall_clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._credentials = credentials
        self._processor = processor
        self._wall_clock = wall_clock
        self._monotonic = monotonic
        self._last_refresh = -REFRESH_INTERVAL_SECONDS

    def receive(self, headers: Mapping[str, str], raw_body: bytes, delivery_id: str | None) -> Outcome:
        signed_at = self._authenticate(signature_header(headers), raw_body)
        try:
            event = json.loads(raw_body)
        except (ValueError, RecursionError):
            raise MalformedBody from None
        if not isinstance(event, dict):
            raise MalformedBody("The webhook body is not a JSON object.")
        return self._processor.process(event, delivery_id, signed_at, fact_time(headers, signed_at))

    def _authenticate(self, header: str | None, raw_body: bytes) -> int:
        """The time Terra signed the delivery, once the signature is verified."""
        secret = self._signing_secret(refresh=False)
        try:
            return verify_signature(header, raw_body, secret, self._wall_clock())
        except InvalidSignature:
            if self._monotonic() - self._last_refresh < REFRESH_INTERVAL_SECONDS:
                raise
            self._last_refresh = self._monotonic()
            fresh = self._signing_secret(refresh=True)
            if fresh == secret:
                raise
            return verify_signature(header, raw_body, fresh, self._wall_clock())

    def _signing_secret(self, *, refresh: bool) -> str:
        secret = self._credentials.get(refresh=refresh).webhook_signing_secret
        if not secret:
            raise ConfigurationError(log_context={"reason": "the Terra secret has no webhook_signing_secret"})
        return secret
