"""What the service asks of Terra and what Terra answers: the plain values the services pass to their ports.

The API's own requests and answers are pydantic models in each capability's models.py; these stay plain
dataclasses, so the functions that call Terra without serving the API (the reconciliation) never import pydantic.
"""

from dataclasses import dataclass, field

# Terra's provider codes are upper-case letters, digits and underscores; its docs also write them in lower case
# (`resource=oura`), so either case is accepted and Terra always gets the upper-case form.
PROVIDER_PATTERN = r"^[A-Za-z0-9_]{2,40}$"


@dataclass(frozen=True, slots=True)
class WidgetSessionParams:
    """A widget session as the service asks Terra for it."""

    reference_id: str
    providers: tuple[str, ...] = ()
    language: str | None = None
    success_redirect_url: str | None = None
    failure_redirect_url: str | None = None
    multi_auth: bool | None = None
    show_disconnect: bool | None = None
    bypass_feedback: bool | None = None
    use_terra_avengers_app: bool | None = None
    connected_uids: tuple[str, ...] = ()
    # Where the widget sends the user to finish Apple Health / Samsung Health in the app (stack settings).
    apple_app_url: str | None = None
    samsung_app_url: str | None = None


@dataclass(frozen=True, slots=True)
class TerraWidgetSession:
    url: str = field(repr=False)
    session_id: str = field(repr=False)
    expires_in: int
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class AuthUrlParams:
    reference_id: str
    provider: str
    language: str | None = None
    success_redirect_url: str | None = None
    failure_redirect_url: str | None = None


@dataclass(frozen=True, slots=True)
class TerraAuthUrl:
    auth_url: str = field(repr=False)
    terra_user_id: str | None


@dataclass(frozen=True, slots=True)
class TerraSdkToken:
    token: str = field(repr=False)
    expires_in: int


@dataclass(frozen=True, slots=True)
class Integrations:
    providers: tuple[str, ...]
    sdk_providers: tuple[str, ...]
