"""Terra's HTTP transport: one connection pool per container, bounded retries within a deadline.

Every call to Terra goes through `TerraTransport.call`, which owns the rules that keep the function fast and the
keys safe: explicit timeouts, no redirects followed (requests would forward the key headers to any host), a cap on
the answer's size, retries only for 429/5xx/connection failures and only while the Lambda's remaining time allows,
one retry with freshly read credentials after a 401/403, and Terra's error messages kept free of the keys. What
each operation sends and how its answer is read is in terra/client.py.
"""

import json
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit

import requests

from terra_connect.kernel.deadline import Deadline
from terra_connect.kernel.errors import (
    ServiceError,
    TerraBadResponse,
    TerraRejected,
    TerraTimeout,
    TerraUnavailable,
)
from terra_connect.settings import CURRENT_WIDGET_SESSION_URL
from terra_connect.terra.credentials import CredentialsSource, TerraCredentials

USER_AGENT = "terra-connect/0.1"
_MAX_MESSAGE_CHARS = 300

# Observes one HTTP attempt: (operation, outcome, seconds). Outcome is the status code or an error kind.
AttemptObserver = Callable[[str, str, float], None]


def ignore_attempt(operation: str, outcome: str, seconds: float) -> None:
    """Default observer: record nothing."""


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    max_attempts: int = 3
    base_delay: float = 0.1
    max_delay: float = 1.0
    connect_timeout: float = 2.0
    read_timeout: float = 6.0
    # Time kept back to build the answer, and the least time worth starting an attempt with.
    response_margin: float = 0.3
    min_attempt_time: float = 0.5
    max_body_bytes: int = 256 * 1024


@dataclass(frozen=True, slots=True)
class Answer:
    status: int
    body: bytes
    headers: Mapping[str, str]

    def json(self) -> Any:
        try:
            return json.loads(self.body)
        except (ValueError, RecursionError):
            raise TerraBadResponse(log_context={"reason": "answer is not JSON", "terra_status": self.status}) from None

    def json_object(self) -> dict[str, Any]:
        document = self.json()
        if not isinstance(document, dict):
            raise TerraBadResponse(log_context={"reason": "answer is not a JSON object", "terra_status": self.status})
        return document


DEFAULT_POLICY = RetryPolicy()


class TerraTransport:
    def __init__(
        self,
        *,
        credentials: CredentialsSource,
        session: requests.Session | None = None,
        policy: RetryPolicy = DEFAULT_POLICY,
        observe: AttemptObserver = ignore_attempt,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        self._credentials = credentials
        self.session = session or requests.Session()
        self.session.headers.update({"User-Agent": USER_AGENT, "Accept": "application/json"})
        # requests reads proxies, CA bundle and netrc from the environment on every request (about 100 µs); the
        # environment of a container does not change, so it is read once per host and passed explicitly.
        self._environment: dict[tuple[str, str], dict[str, Any]] = {}
        self._trust_env = self.session.trust_env
        self.session.trust_env = False
        self._policy = policy
        self._observe = observe
        self._sleep = sleep
        self._clock = clock
        self._jitter = jitter

    def call(
        self,
        method: str,
        url: str,
        operation: str,
        deadline: Deadline,
        *,
        body: Mapping[str, Any] | list[str] | None = None,
        params: Mapping[str, str] | None = None,
        accept: frozenset[int] = frozenset(),
    ) -> Answer:
        """Send one logical request; return a 2xx answer (or one whose status is in `accept`), else raise."""
        credentials = self._credentials.get()
        refreshed = False
        attempt = 0
        while True:
            attempt += 1
            budget = deadline.remaining() - self._policy.response_margin
            if budget < self._policy.min_attempt_time:
                raise TerraTimeout(log_context={"operation": operation, "reason": "no time left for an attempt"})
            try:
                answer = self._send(
                    method=method,
                    url=url,
                    operation=operation,
                    credentials=credentials,
                    budget=budget,
                    deadline=deadline,
                    body=body,
                    params=params,
                )
            except requests.Timeout:
                failure: ServiceError = TerraTimeout(log_context={"operation": operation, "attempts": attempt})
                retry_after = None
            except requests.RequestException as exc:
                failure = TerraUnavailable(log_context={"operation": operation, "error": type(exc).__name__})
                retry_after = None
            else:
                if answer.status in {401, 403} and not refreshed:
                    # The key may have been rotated since it was cached: read it again, retry once.
                    refreshed = True
                    fresh = self._credentials.get(refresh=True)
                    if (fresh.dev_id, fresh.api_key) != (credentials.dev_id, credentials.api_key):
                        credentials = fresh
                        attempt -= 1
                        continue
                if 200 <= answer.status < 300 or answer.status in accept:
                    return answer
                if 300 <= answer.status < 400:
                    # Never followed: requests would forward the key headers to wherever it points.
                    raise TerraBadResponse(log_context={"reason": "unexpected redirect", "terra_status": answer.status})
                if answer.status != 429 and answer.status < 500:
                    raise self.rejection(answer, operation, credentials)
                retry_after = _retry_after_seconds(answer.headers.get("Retry-After"))
                failure = TerraUnavailable(
                    retry_after=int(retry_after or 1),
                    log_context={"operation": operation, "terra_status": answer.status, "attempts": attempt},
                )
            if attempt >= self._policy.max_attempts:
                raise failure
            delay = retry_after if retry_after is not None else self._backoff(attempt)
            if delay + self._policy.min_attempt_time > deadline.remaining() - self._policy.response_margin:
                raise failure
            self._sleep(delay)

    def _send(
        self,
        *,
        method: str,
        url: str,
        operation: str,
        credentials: TerraCredentials,
        budget: float,
        deadline: Deadline,
        body: Mapping[str, Any] | list[str] | None,
        params: Mapping[str, str] | None,
    ) -> Answer:
        timeout = (min(self._policy.connect_timeout, budget), min(self._policy.read_timeout, budget))
        started = self._clock()
        outcome = "error"
        try:
            with self.session.request(
                method,
                url,
                params=params,
                json=body,
                headers={"dev-id": credentials.dev_id, "x-api-key": credentials.api_key},
                timeout=timeout,
                allow_redirects=False,
                stream=True,
                **self._environment_for(url),
            ) as response:
                outcome = str(response.status_code)
                payload = self._read_capped(response, deadline)
                return Answer(response.status_code, payload, response.headers)
        except requests.Timeout:
            outcome = "timeout"
            raise
        finally:
            self._observe(operation, outcome, self._clock() - started)

    def close(self) -> None:
        """Drop the kept-alive connections and the environment's proxies read so far."""
        self.session.close()
        self._environment.clear()

    def _environment_for(self, url: str) -> dict[str, Any]:
        """Proxies and CA bundle for this URL's host, from the environment as requests would read them, once."""
        key = urlsplit(url)[:2]
        settings = self._environment.get(key)
        if settings is None:
            if self._trust_env:
                reader = requests.Session()
                merged = reader.merge_environment_settings(url, {}, None, None, None)
                reader.close()
                settings = {"proxies": merged["proxies"], "verify": merged["verify"]}
            else:
                settings = {}
            self._environment[key] = settings
        return settings

    def _read_capped(self, response: requests.Response, deadline: Deadline) -> bytes:
        limit = self._policy.max_body_bytes
        declared = response.headers.get("Content-Length", "")
        if declared.isdigit() and int(declared) > limit:
            raise TerraBadResponse(log_context={"reason": "answer too large", "terra_status": response.status_code})
        chunks: list[bytes] = []
        size = 0
        for chunk in response.iter_content(chunk_size=16_384):
            size += len(chunk)
            if size > limit:
                raise TerraBadResponse(log_context={"reason": "answer too large", "terra_status": response.status_code})
            if deadline.remaining() <= 0:
                raise requests.Timeout("the answer arrived too slowly")
            chunks.append(chunk)
        return b"".join(chunks)

    def _backoff(self, attempt: int) -> float:
        # Full jitter: spreads retries from many containers instead of synchronising them.
        ceiling = min(self._policy.max_delay, self._policy.base_delay * 2.0 ** (attempt - 1))
        return ceiling * self._jitter()

    def rejection(self, answer: Answer, operation: str, credentials: TerraCredentials) -> TerraRejected:
        context: dict[str, Any] = {
            "operation": operation,
            "terra_status": answer.status,
            "terra_message": _redact(_error_message(answer.body), credentials),
        }
        if answer.status == 410 and operation == "widget_session":
            context["action"] = (
                "Terra retired this endpoint for this account: set the stack parameter "
                f"TerraWidgetSessionUrl to {CURRENT_WIDGET_SESSION_URL}"
            )
        return TerraRejected(log_context=context)


def _error_message(body: bytes) -> str:
    """Terra answers errors in two shapes: {"status","message"} and RFC 9457 {"title","detail"}."""
    try:
        document = json.loads(body)
    except (ValueError, RecursionError):
        return body[:_MAX_MESSAGE_CHARS].decode("utf-8", "replace")
    if not isinstance(document, dict):
        return ""
    parts = [document.get(key) for key in ("message", "title", "detail")]
    return " - ".join(str(p) for p in parts if p)[:_MAX_MESSAGE_CHARS]


def _redact(message: str, credentials: TerraCredentials) -> str:
    for secret in (credentials.api_key, credentials.dev_id):
        message = message.replace(secret, "[redacted]")
    return message


def _retry_after_seconds(value: str | None) -> float | None:
    """Retry-After as seconds: either delta-seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, moment.timestamp() - time.time())
