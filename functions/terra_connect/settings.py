"""Each function's configuration: environment variables parsed and validated once per container.

A bad setting raises SettingsError at import time, so the deployment fails loudly at cold start
(in the function's logs and in `sam local invoke`) instead of answering every request with an error.
"""

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import urlsplit

from terra_connect.kernel.redirects import AllowedRedirect, RedirectPolicy

# This machine, seen from itself or from a container (`--add-host host.docker.internal:host-gateway`):
# the only hosts plain http may reach, for local runs against emulators and the Terra simulator.
LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "::1", "host.docker.internal"})
TERRA_DOMAIN = "tryterra.co"
LEGACY_WIDGET_PATH = "/auth/generateWidgetSession"
CURRENT_WIDGET_SESSION_URL = "https://access.tryterra.co/api/widget/session"
# Terra publishes three paths for its current widget endpoint: its docs and its 410 message, the 2026.07.06 widget
# spec, the 2026.10.08 widget spec. With the default setting, a 404 at one makes the function try the others.
PUBLISHED_WIDGET_SESSION_PATHS = ("/api/widget/session", "/widget/api/session", "/widget/session")
DEFAULT_TERRA_API_BASE_URL = "https://api.tryterra.co/v2"


class SettingsError(ValueError):
    """One or more environment variables are missing or invalid."""


def is_local_url(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme in {"http", "https"} and (parts.hostname or "") in LOCAL_HOSTS and "@" not in parts.netloc


def is_legacy_widget_url(url: str) -> bool:
    """The retired generateWidgetSession endpoint: answers 200 and ignores the newer fields."""
    return urlsplit(url).path.rstrip("/").endswith(LEGACY_WIDGET_PATH)


def widget_session_candidates(url: str) -> tuple[str, ...]:
    """The widget-session URLs to try, in order: with the default setting (or a local Terra at the default path),
    every published path on the same host; an explicitly configured URL alone."""
    parts = urlsplit(url)
    if url != CURRENT_WIDGET_SESSION_URL and not (
        is_local_url(url) and parts.path == urlsplit(CURRENT_WIDGET_SESSION_URL).path
    ):
        return (url,)
    return tuple(f"{parts.scheme}://{parts.netloc}{path}" for path in PUBLISHED_WIDGET_SESSION_PATHS)


def is_terra_endpoint(url: str) -> bool:
    """True for https on tryterra.co (or a subdomain), or a URL on this machine (local runs).

    The function sends the API key to this URL, so it refuses anything else even if the template's
    own AllowedPattern is bypassed.
    """
    if is_local_url(url):
        return True
    parts = urlsplit(url)
    host = parts.hostname or ""
    on_terra = host == TERRA_DOMAIN or host.endswith("." + TERRA_DOMAIN)
    return parts.scheme == "https" and on_terra and "@" not in parts.netloc


class _Environment:
    """Reads variables and collects every problem, so one cold-start error names them all."""

    def __init__(self, env: Mapping[str, str]) -> None:
        self._env = env
        self.problems: list[str] = []

    def text(self, name: str, *, required: bool = False, default: str = "") -> str:
        value = self._env.get(name, "").strip() or default
        if required and not value:
            self.problems.append(f"{name} is required")
        return value

    def terra_url(self, name: str, *, default: str = "") -> str:
        value = self.text(name, required=not default, default=default)
        if value and not is_terra_endpoint(value):
            self.problems.append(f"{name} must be an https URL on tryterra.co")
        return value

    def local_url(self, name: str) -> str | None:
        value = self.text(name) or None
        if value is not None and not is_local_url(value):
            self.problems.append(f"{name} must be an http(s) URL on this machine (or empty in AWS)")
        return value

    def number(self, name: str, *, default: int, maximum: int, unit: str = "seconds") -> int:
        text = self.text(name, default=str(default))
        value = int(text) if text.isascii() and text.isdigit() else -1
        if not 0 < value <= maximum:
            self.problems.append(f"{name} must be a whole number of {unit} from 1 to {maximum}")
        return value

    def count(self, name: str, *, default: int, maximum: int, unit: str = "days") -> int:
        """A whole number that may be 0 (a feature turned off)."""
        text = self.text(name, default=str(default))
        value = int(text) if text.isascii() and text.isdigit() and len(text) <= 9 else -1
        if not 0 <= value <= maximum:
            self.problems.append(f"{name} must be a whole number of {unit} from 0 to {maximum}")
        return value

    def flag(self, name: str, *, default: bool = False) -> bool:
        text = self.text(name, default="true" if default else "false").lower()
        if text not in {"true", "false"}:
            self.problems.append(f"{name} must be true or false")
        return text == "true"

    def group(self, *names: str) -> dict[str, str] | None:
        """Variables that name one resource together: all set, or none (that part of the product is off)."""
        values = {name: self.text(name) for name in names}
        if not any(values.values()):
            return None
        self.problems.extend(f"{name} is required with {names[0]}" for name, value in values.items() if not value)
        return values

    def check(self) -> None:
        if self.problems:
            raise SettingsError("Invalid configuration: " + "; ".join(self.problems))


@dataclass(frozen=True, slots=True)
class CommonSettings:
    """What every function needs: the Terra secret and the connection registry."""

    terra_secret_arn: str
    connections_table: str
    secret_cache_ttl_seconds: int
    local_aws_endpoint_url: str | None
    # How long the registry keeps history: connections users no longer have, and the records of ended Terra
    # users (at least a day: Terra retries a delivery for about 9 hours, and a late one must still be refused).
    history_retention: timedelta

    @staticmethod
    def _read_common(env: _Environment) -> dict[str, object]:
        days = env.number("HISTORY_RETENTION_DAYS", default=30, maximum=3650, unit="days")
        return {
            "terra_secret_arn": env.text("TERRA_SECRET_ARN", required=True),
            "connections_table": env.text("CONNECTIONS_TABLE", required=True),
            "secret_cache_ttl_seconds": env.number("SECRET_CACHE_TTL_SECONDS", default=300, maximum=86_400),
            "local_aws_endpoint_url": env.local_url("LOCAL_AWS_ENDPOINT_URL"),
            "history_retention": timedelta(days=max(days, 1)),
        }


@dataclass(frozen=True, slots=True)
class ClaimCheckSettings:
    """Where the webhook keeps the data events it is sent: the raw archive, and the queues of pointers to it."""

    bucket: str  # DATA_BUCKET
    kms_key_id: str  # DATA_KEY_ID: every put asks for SSE-KMS with it (the bucket's policy refuses any other)
    ingest_queue_url: str  # INGEST_QUEUE_URL
    fetch_queue_url: str  # FETCH_QUEUE_URL: s3_payload pointers, apart from the rest

    @classmethod
    def read(cls, env: _Environment) -> "ClaimCheckSettings | None":
        values = env.group("DATA_BUCKET", "DATA_KEY_ID", "INGEST_QUEUE_URL", "FETCH_QUEUE_URL")
        if values is None:
            return None
        return cls(values["DATA_BUCKET"], values["DATA_KEY_ID"], values["INGEST_QUEUE_URL"], values["FETCH_QUEUE_URL"])


@dataclass(frozen=True, slots=True)
class DataReadSettings:
    """Where the read route finds the data: the record index (DataTable) and the record objects (DataBucket)."""

    table: str  # DATA_TABLE
    bucket: str  # DATA_BUCKET

    @classmethod
    def read(cls, env: _Environment) -> "DataReadSettings | None":
        values = env.group("DATA_TABLE", "DATA_BUCKET")
        return None if values is None else cls(values["DATA_TABLE"], values["DATA_BUCKET"])


@dataclass(frozen=True, slots=True)
class PurgeSettings:
    """Where an erasure asks for the purge of the stored health data (PURGE_QUEUE_URL), and what the purge deletes
    from: a deployment that keeps data names all three, so no erasure can leave its data behind."""

    table: str  # DATA_TABLE
    bucket: str  # DATA_BUCKET
    queue_url: str  # PURGE_QUEUE_URL

    @classmethod
    def read(cls, env: _Environment) -> "PurgeSettings | None":
        values = env.group("DATA_TABLE", "DATA_BUCKET", "PURGE_QUEUE_URL")
        if values is None:
            return None
        return cls(values["DATA_TABLE"], values["DATA_BUCKET"], values["PURGE_QUEUE_URL"])


@dataclass(frozen=True, slots=True)
class WebhookSettings(CommonSettings):
    # None: no data store in this deployment (DATA_BUCKET and the queues unset): data events are acknowledged and
    # not kept, as lifecycle-only stacks always did.
    claim_check: ClaimCheckSettings | None = None

    @classmethod
    def from_env(cls, variables: Mapping[str, str]) -> "WebhookSettings":
        env = _Environment(variables)
        common = cls._read_common(env)
        claim_check = ClaimCheckSettings.read(env)
        env.check()
        return cls(**common, claim_check=claim_check)  # type: ignore[arg-type]


def _host_suffixes(env: _Environment) -> tuple[str, ...]:
    suffixes = tuple(
        s.strip().lower().strip(".") for s in env.text("PAYLOAD_URL_HOSTS", default="amazonaws.com").split(",")
    )
    if not suffixes or any(not re.fullmatch(r"[a-z0-9-]+(\.[a-z0-9-]+)+", s) for s in suffixes):
        env.problems.append("PAYLOAD_URL_HOSTS must be a comma-separated list of host suffixes, e.g. amazonaws.com")
    return suffixes


@dataclass(frozen=True, slots=True)
class IngestSettings:
    """The ingest function: archived deliveries in, records and payload parts out; the registry read for owners."""

    connections_table: str
    data_bucket: str
    data_key_id: str
    data_table: str
    idempotency_table: str
    ingest_queue_url: str
    fetch_queue_url: str
    backfill_queue_url: str  # "" when backfills are off: nothing is counted
    terra_delivery_queue_url: str  # "" without Terra's SQS destination
    payload_url_hosts: tuple[str, ...]
    data_retention_days: int
    record_retention_days: int  # 0: until erased
    backfill_days: int
    backfill_timeout_hours: int
    local_aws_endpoint_url: str | None

    @classmethod
    def from_env(cls, variables: Mapping[str, str]) -> "IngestSettings":
        env = _Environment(variables)
        settings = cls(
            connections_table=env.text("CONNECTIONS_TABLE", required=True),
            data_bucket=env.text("DATA_BUCKET", required=True),
            data_key_id=env.text("DATA_KEY_ID", required=True),
            data_table=env.text("DATA_TABLE", required=True),
            idempotency_table=env.text("IDEMPOTENCY_TABLE", required=True),
            ingest_queue_url=env.text("INGEST_QUEUE_URL", required=True),
            fetch_queue_url=env.text("FETCH_QUEUE_URL", required=True),
            backfill_queue_url=env.text("BACKFILL_QUEUE_URL"),
            terra_delivery_queue_url=env.text("TERRA_DELIVERY_QUEUE_URL"),
            payload_url_hosts=_host_suffixes(env),
            data_retention_days=env.number("DATA_RETENTION_DAYS", default=30, maximum=3650, unit="days"),
            record_retention_days=env.count("RECORD_RETENTION_DAYS", default=0, maximum=36_500),
            backfill_days=env.count("BACKFILL_DAYS", default=30, maximum=1825),
            backfill_timeout_hours=env.number("BACKFILL_TIMEOUT_HOURS", default=24, maximum=336, unit="hours"),
            local_aws_endpoint_url=env.local_url("LOCAL_AWS_ENDPOINT_URL"),
        )
        env.check()
        return settings

    @property
    def backfills_on(self) -> bool:
        return bool(self.backfill_queue_url) and self.backfill_days > 0


@dataclass(frozen=True, slots=True)
class BackfillFunctionSettings:
    """The backfill function: Terra's data requests (the secret's API key), its state in the data table, its queue,
    and the raw archive and ingest queue for data Terra answers inline."""

    terra_secret_arn: str
    terra_api_base_url: str
    secret_cache_ttl_seconds: int
    data_table: str
    backfill_queue_url: str
    claim_check: ClaimCheckSettings
    backfill_days: int
    backfill_timeout_hours: int
    backfill_with_samples: bool
    local_aws_endpoint_url: str | None

    @classmethod
    def from_env(cls, variables: Mapping[str, str]) -> "BackfillFunctionSettings":
        env = _Environment(variables)
        claim_check = ClaimCheckSettings.read(env)
        if claim_check is None:
            env.problems.append("DATA_BUCKET, DATA_KEY_ID, INGEST_QUEUE_URL and FETCH_QUEUE_URL are required")
        values = {
            "terra_secret_arn": env.text("TERRA_SECRET_ARN", required=True),
            "terra_api_base_url": env.terra_url("TERRA_API_BASE_URL", default=DEFAULT_TERRA_API_BASE_URL),
            "secret_cache_ttl_seconds": env.number("SECRET_CACHE_TTL_SECONDS", default=300, maximum=86_400),
            "data_table": env.text("DATA_TABLE", required=True),
            "backfill_queue_url": env.text("BACKFILL_QUEUE_URL", required=True),
            "backfill_days": env.count("BACKFILL_DAYS", default=30, maximum=1825),
            "backfill_timeout_hours": env.number("BACKFILL_TIMEOUT_HOURS", default=24, maximum=336, unit="hours"),
            "backfill_with_samples": env.flag("BACKFILL_WITH_SAMPLES"),
            "local_aws_endpoint_url": env.local_url("LOCAL_AWS_ENDPOINT_URL"),
        }
        env.check()
        return cls(claim_check=claim_check, **values)  # type: ignore[arg-type]


@dataclass(frozen=True, slots=True)
class EventsSettings:
    """The events function: the table's stream in, the event bus out. It never reads the Terra secret."""

    event_bus_name: str  # a bus name or ARN
    connections_table: str  # only to delete the outbox items it published
    local_aws_endpoint_url: str | None
    # Where a new connection's backfill is asked for; "" when backfills are off.
    backfill_queue_url: str = ""

    @classmethod
    def from_env(cls, variables: Mapping[str, str]) -> "EventsSettings":
        env = _Environment(variables)
        settings = cls(
            event_bus_name=env.text("EVENT_BUS_NAME", required=True),
            connections_table=env.text("CONNECTIONS_TABLE", required=True),
            local_aws_endpoint_url=env.local_url("LOCAL_AWS_ENDPOINT_URL"),
            backfill_queue_url=env.text("BACKFILL_QUEUE_URL"),
        )
        env.check()
        return settings


@dataclass(frozen=True, slots=True)
class ReconcilerSettings(CommonSettings):
    """The scheduled reconciliation: it reads Terra's user lists. The maintenance function also runs the operator's
    erasures and the purges of erased users' data."""

    terra_api_base_url: str
    purge: PurgeSettings | None = None  # None: no data store in this deployment

    @classmethod
    def from_env(cls, variables: Mapping[str, str]) -> "ReconcilerSettings":
        env = _Environment(variables)
        common = cls._read_common(env)
        api_base_url = env.terra_url("TERRA_API_BASE_URL", default=DEFAULT_TERRA_API_BASE_URL)
        purge = PurgeSettings.read(env)
        env.check()
        return cls(**common, terra_api_base_url=api_base_url, purge=purge)  # type: ignore[arg-type]


@dataclass(frozen=True, slots=True)
class Settings(CommonSettings):
    """The API function's settings."""

    terra_widget_session_url: str
    terra_api_base_url: str
    redirect_policy: RedirectPolicy
    default_success_redirect_url: str | None
    default_failure_redirect_url: str | None
    reference_id_claim: str
    # Where the widget sends the user to finish Apple Health / Samsung Health in the app (current endpoint only).
    apple_app_url: str | None = None
    samsung_app_url: str | None = None
    # None: no data store in this deployment; the read route answers 500 data_store_misconfigured.
    data: DataReadSettings | None = None
    purge_queue_url: str | None = None  # PURGE_QUEUE_URL: where an erasure asks for its data's purge

    @property
    def legacy_widget_endpoint(self) -> bool:
        return is_legacy_widget_url(self.terra_widget_session_url)

    @classmethod
    def from_env(cls, variables: Mapping[str, str]) -> "Settings":
        env = _Environment(variables)
        common = cls._read_common(env)
        widget_url = env.terra_url("TERRA_WIDGET_SESSION_URL")
        api_base_url = env.terra_url("TERRA_API_BASE_URL", default=DEFAULT_TERRA_API_BASE_URL)

        allowed: list[AllowedRedirect] = []
        for entry in filter(None, (e.strip() for e in env.text("ALLOWED_REDIRECT_URLS").split(","))):
            try:
                allowed.append(AllowedRedirect.parse(entry))
            except ValueError as exc:
                env.problems.append(f"ALLOWED_REDIRECT_URLS entry {entry!r} {exc}")
        policy = RedirectPolicy(allowed)

        defaults: dict[str, str | None] = {}
        for name in (
            "DEFAULT_SUCCESS_REDIRECT_URL",
            "DEFAULT_FAILURE_REDIRECT_URL",
            "APPLE_APP_URL",
            "SAMSUNG_APP_URL",
        ):
            value = env.text(name) or None
            if value is not None and not policy.permits(value):
                env.problems.append(f"{name} must match one of ALLOWED_REDIRECT_URLS")
            defaults[name] = value

        claim = env.text("REFERENCE_ID_CLAIM", default="sub")
        data = DataReadSettings.read(env)
        purge = PurgeSettings.read(env)
        env.check()
        return cls(
            **common,  # type: ignore[arg-type]
            terra_widget_session_url=widget_url,
            terra_api_base_url=api_base_url,
            redirect_policy=policy,
            default_success_redirect_url=defaults["DEFAULT_SUCCESS_REDIRECT_URL"],
            default_failure_redirect_url=defaults["DEFAULT_FAILURE_REDIRECT_URL"],
            reference_id_claim=claim,
            apple_app_url=defaults["APPLE_APP_URL"],
            samsung_app_url=defaults["SAMSUNG_APP_URL"],
            data=data,
            purge_queue_url=purge.queue_url if purge else None,
        )
