"""Terra's data requests (`GET /activity|/body|/daily|/menstruation|/nutrition|/sleep|/athlete`) through the one
Terra client, so they share its connection pool, timeouts, size cap, refusal of redirects, bounded retries of
5xx and its re-read of a rotated key - everything but its wait on a 429: that answer comes back here, and the
backfill waits through its queue instead of inside the function.

Terra's published answers, each turned into the value the service expects (ports.py):
200 `DataSentToWebhook {status, type, reference, trace_id, message?, user}` (message only for large requests) or
the data itself; 400/401/404 problem+json; 429 `{"detail": "rate limit exceeded"}` with `X-Terra-RateLimit-Rule`
and, for rule r2 only, `Retry-After` (seconds or an HTTP date). Accepted answers may carry
`X-Terra-RateLimit-Remaining` and `-Reset-After` (seconds).
"""

import json
import time
from collections.abc import Callable, Mapping
from email.utils import parsedate_to_datetime
from typing import Any

from terra_connect.backfill.models import DataRequest
from terra_connect.backfill.plan import DATED_TYPES
from terra_connect.backfill.ports import (
    Accepted,
    Allowance,
    DataInline,
    ProviderSupport,
    RateLimited,
    Refused,
    TerraAnswer,
    Unauthorized,
    Unavailable,
)
from terra_connect.health_data.keys import terra_token
from terra_connect.kernel.deadline import Deadline
from terra_connect.kernel.errors import TerraBadResponse, TerraRejected, TerraTimeout, TerraUnavailable
from terra_connect.terra.client import TerraClient

# Answered rather than raised by the client: each means something else to a backfill.
_ACCEPT = frozenset({400, 401, 403, 404, 429})
MAX_RETRY_AFTER_SECONDS = 3600  # Terra's hourly budget frees within the hour; a larger value is not believed
CACHE_SECONDS = 3600.0  # which provider offers which type changes rarely, and only in Terra's dashboard
# Terra's mobile-SDK providers (terra-api.md), assumed when /integrations cannot say.
KNOWN_SDK_PROVIDERS = frozenset({"APPLE", "SAMSUNG", "GOOGLEFIT", "HEALTH_CONNECT"})


class TerraDataRequestsClient:
    def __init__(
        self,
        client: TerraClient,
        *,
        with_samples: bool,
        wall_clock: Callable[[], float] = time.time,
        clock: Callable[[], float] = time.monotonic,
        cache_seconds: float = CACHE_SECONDS,
    ) -> None:
        self._client = client
        self._with_samples = with_samples
        self._wall_clock = wall_clock  # reads Retry-After's HTTP dates
        self._clock = clock
        self._cache_seconds = cache_seconds
        self._cached: tuple[float, frozenset[str] | None, Mapping[str, frozenset[str]] | None] | None = None

    def request(self, terra_user_id: str, request: DataRequest, deadline: Deadline) -> TerraAnswer:
        try:
            answer = self._client.get(
                f"/{request.data_type}",
                "data_request",
                deadline,
                params=request.terra_query(terra_user_id, with_samples=self._with_samples),
                accept=_ACCEPT,
            )
        except TerraUnavailable as exc:
            return Unavailable(exc.retry_after * 1000)
        except TerraTimeout:
            return Unavailable()
        except TerraBadResponse:
            return Refused(None)
        except TerraRejected as exc:
            status = exc.log_context.get("terra_status")
            return Refused(status if isinstance(status, int) else None)
        return self._answer(answer.status, answer.body, answer.headers)

    def _answer(self, status: int, body: bytes, headers: Mapping[str, str]) -> TerraAnswer:
        if status == 429:
            return RateLimited(_rule(headers), self._retry_after_ms(headers.get("Retry-After")))
        if status in {401, 403}:
            return Unauthorized(status)
        if status in {400, 404}:
            return Refused(status)
        return _accepted(body, headers)

    def provider_support(self, provider: str, deadline: Deadline) -> ProviderSupport:
        if self._cached is None or self._clock() - self._cached[0] > self._cache_seconds:
            self._cached = (self._clock(), self._sdk_providers(deadline), self._detailed(deadline))
        _, sdk_providers, offered = self._cached
        code = provider.upper()
        sdk = code in (KNOWN_SDK_PROVIDERS if sdk_providers is None else sdk_providers)
        return ProviderSupport(sdk=sdk, types=None if offered is None else offered.get(code))

    def _sdk_providers(self, deadline: Deadline) -> frozenset[str] | None:
        try:
            return frozenset(self._client.integrations(deadline).sdk_providers)
        except (TerraUnavailable, TerraTimeout, TerraBadResponse, TerraRejected):
            return None

    def _detailed(self, deadline: Deadline) -> Mapping[str, frozenset[str]] | None:
        """GET /integrations/detailed?sdk=true: {providers: [{provider, types: {activity: bool, ...}}]}."""
        try:
            answer = self._client.get(
                "/integrations/detailed", "integrations_detailed", deadline, params={"sdk": "true"}, accept=frozenset()
            )
            document = answer.json_object()
        except (TerraUnavailable, TerraTimeout, TerraBadResponse, TerraRejected):
            return None
        providers = document.get("providers")
        offered: dict[str, frozenset[str]] = {}
        for entry in providers if isinstance(providers, list) else []:
            code, types = (entry.get("provider"), entry.get("types")) if isinstance(entry, dict) else (None, None)
            if isinstance(code, str) and isinstance(types, dict):
                offered[code.upper()] = frozenset(name for name in DATED_TYPES if types.get(name) is True)
        return offered

    def _retry_after_ms(self, value: str | None) -> int | None:
        """Retry-After as milliseconds from now: delta-seconds or an HTTP date; None when absent or unreadable."""
        text = (value or "").strip()
        if text.isdigit():
            seconds = float(text)
        else:
            try:
                seconds = parsedate_to_datetime(text).timestamp() - self._wall_clock()
            except (TypeError, ValueError):
                return None
        return int(min(max(seconds, 0.0), MAX_RETRY_AFTER_SECONDS) * 1000)


def _accepted(body: bytes, headers: Mapping[str, str]) -> TerraAnswer:
    """A 200: `DataSentToWebhook` naming the reference its deliveries will carry, or the data itself."""
    try:
        document = json.loads(body)
    except (ValueError, RecursionError):
        return Refused(None)
    if not isinstance(document, dict):
        return Refused(None)
    allowance = _allowance(headers)
    if "reference" not in document:
        return DataInline(body, allowance)
    reference = terra_token(document["reference"])
    if reference is None or ":" in reference:
        return Refused(None)  # accepted under a reference no delivery could carry
    return Accepted(reference, large=bool(document.get("message")), allowance=allowance)


def _rule(headers: Mapping[str, str]) -> str | None:
    rule = headers.get("X-Terra-RateLimit-Rule", "").strip().lower()
    return rule if rule in {"r1", "r2"} else None


def _allowance(headers: Mapping[str, str]) -> Allowance | None:
    remaining, reset_after = (
        _count(headers.get(name)) for name in ("X-Terra-RateLimit-Remaining", "X-Terra-RateLimit-Reset-After")
    )
    if remaining is None or reset_after is None:
        return None
    return Allowance(remaining, reset_after * 1000)


def _count(value: Any) -> int | None:
    text = value.strip() if isinstance(value, str) else ""
    return int(text) if text.isdigit() and len(text) <= 9 else None
