"""Receiving one webhook delivery: authenticate it, date it, then hand the event on: a connection-lifecycle event
to the processor (the registry), anything else - with a data store configured - to the claim check."""

import json
import time
from collections.abc import Callable, Mapping
from typing import Any

from terra_connect.kernel.errors import ConfigurationError, InvalidSignature, MalformedBody
from terra_connect.terra.credentials import CredentialsSource
from terra_connect.webhooks.data_events import ClaimCheck
from terra_connect.webhooks.processor import PARSERS, Outcome, WebhookProcessor, event_name
from terra_connect.webhooks.signatures import fact_time, signature_header, verify_signature

# A failed signature may mean the signing secret was rotated, so the secret is read again - but at most this
# often, or anyone could make every forged request cost a Secrets Manager call.
REFRESH_INTERVAL_SECONDS = 60.0
# What the registry reads (and Terra's healthcheck, which needs no storing); every other type is data to keep.
LIFECYCLE_TYPES = frozenset({*PARSERS, "healthcheck"})
# Lifecycle events are a few KiB: a larger body is archived without being parsed (no JSON parse of megabytes within
# Terra's timeout), and read by the ingest function.
MAX_PARSED_BYTES = 256 * 1024


class WebhookReceiver:
    def __init__(
        self,
        credentials: CredentialsSource,
        processor: WebhookProcessor,
        *,
        claim_check: ClaimCheck | None = None,
        wall_clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._credentials = credentials
        self._processor = processor
        self._claim_check = claim_check
        self._wall_clock = wall_clock
        self._monotonic = monotonic
        self._last_refresh = -REFRESH_INTERVAL_SECONDS

    def receive(self, headers: Mapping[str, str], raw_body: bytes, delivery_id: str | None) -> Outcome:
        signed_at = self._authenticate(signature_header(headers), raw_body)
        parsed = _event(raw_body) if self._claim_check is None or len(raw_body) <= MAX_PARSED_BYTES else None
        if self._claim_check is not None:
            event_type = parsed.get("type") if isinstance(parsed, dict) else None
            named = event_type if isinstance(event_type, str) else None
            if named not in LIFECYCLE_TYPES:
                self._claim_check.keep(headers, raw_body, signed_at, named)
                return Outcome(event_name(named), "archived", archived=True)
        if not isinstance(parsed, dict):
            raise parsed or MalformedBody()
        return self._processor.process(parsed, delivery_id, signed_at, fact_time(headers, signed_at))

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


def _event(raw_body: bytes) -> dict[str, Any] | MalformedBody:
    """The body as a JSON object, or why it is not one."""
    try:
        event = json.loads(raw_body)
    except (ValueError, RecursionError):
        return MalformedBody()
    return event if isinstance(event, dict) else MalformedBody("The webhook body is not a JSON object.")
