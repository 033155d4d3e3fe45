"""The function's configuration: environment variables parsed and validated once per container.

A bad setting raises SettingsError at import time, so the deployment fails loudly at cold start
(in the function's logs and in `sam local invoke`) instead of answering every request with an error.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from terra_connect.domain.redirects import AllowedRedirect, RedirectPolicy

# This machine, seen from itself or from a container (`--add-host host.docker.internal:host-gateway`):
# the only hosts plain http may reach, for local runs against emulators and the Terra simulator.
LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "::1", "host.docker.internal"})
TERRA_DOMAIN = "tryterra.co"
LEGACY_WIDGET_PATH = "/auth/generateWidgetSession"


class SettingsError(ValueError):
    """One or more environment variables are missing or invalid."""


def is_terra_endpoint(url: str) -> bool:
    """True for https on tryterra.co (or a subdomain), or a URL on this machine (local runs).

    The function sends the API key to this URL, so it refuses anything else even if the template's
    own AllowedPattern is bypassed.
    """
    parts = urlsplit(url)
    host = parts.hostname or ""
    if is_local_url(url):
        return True
    on_terra = host == TERRA_DOMAIN or host.endswith("." + TERRA_DOMAIN)
    return parts.scheme == "https" and on_terra and "@" not in parts.netloc


def is_local_url(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme in {"http", "https"} and (parts.hostname or "") in LOCAL_HOSTS and "@" not in parts.netloc


@dataclass(frozen=True, slots=True)
class Settings:
    terra_secret_arn: str
    terra_widget_session_url: str
    redirect_policy: RedirectPolicy
    default_success_redirect_url: str | None
    default_failure_redirect_url: str | None
    reference_id_claim: str
    secret_cache_ttl_seconds: int
    local_aws_endpoint_url: str | None = None

    @property
    def legacy_widget_endpoint(self) -> bool:
        return urlsplit(self.terra_widget_session_url).path.rstrip("/").endswith(LEGACY_WIDGET_PATH)

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> "Settings":
        problems: list[str] = []

        def read(name: str, *, required: bool = False, default: str = "") -> str:
            value = env.get(name, "").strip() or default
            if required and not value:
                problems.append(f"{name} is required")
            return value

        secret_arn = read("TERRA_SECRET_ARN", required=True)
        widget_url = read("TERRA_WIDGET_SESSION_URL", required=True)
        if widget_url and not is_terra_endpoint(widget_url):
            problems.append("TERRA_WIDGET_SESSION_URL must be an https URL on tryterra.co")

        allowed: list[AllowedRedirect] = []
        for entry in filter(None, (e.strip() for e in read("ALLOWED_REDIRECT_URLS").split(","))):
            try:
                allowed.append(AllowedRedirect.parse(entry))
            except ValueError as exc:
                problems.append(f"ALLOWED_REDIRECT_URLS entry {entry!r} {exc}")
        policy = RedirectPolicy(allowed)

        defaults: dict[str, str | None] = {}
        for name in ("DEFAULT_SUCCESS_REDIRECT_URL", "DEFAULT_FAILURE_REDIRECT_URL"):
            value = read(name) or None
            if value is not None and not policy.permits(value):
                problems.append(f"{name} must match one of ALLOWED_REDIRECT_URLS")
            defaults[name] = value

        local_aws = read("LOCAL_AWS_ENDPOINT_URL") or None
        if local_aws is not None and not is_local_url(local_aws):
            problems.append("LOCAL_AWS_ENDPOINT_URL must be an http(s) URL on this machine (or empty in AWS)")

        claim = read("REFERENCE_ID_CLAIM", default="sub")
        ttl_text = read("SECRET_CACHE_TTL_SECONDS", default="300")
        ttl = int(ttl_text) if ttl_text.isdigit() else -1
        if not 0 < ttl <= 86_400:
            problems.append("SECRET_CACHE_TTL_SECONDS must be a whole number of seconds from 1 to 86400")

        if problems:
            raise SettingsError("Invalid configuration: " + "; ".join(problems))
        return cls(
            terra_secret_arn=secret_arn,
            terra_widget_session_url=widget_url,
            redirect_policy=policy,
            default_success_redirect_url=defaults["DEFAULT_SUCCESS_REDIRECT_URL"],
            default_failure_redirect_url=defaults["DEFAULT_FAILURE_REDIRECT_URL"],
            reference_id_claim=claim,
            secret_cache_ttl_seconds=ttl,
            local_aws_endpoint_url=local_aws,
        )
