"""What callers send and receive, and what the service asks of Terra.

The Pydantic models are the public contract (they drive validation and the OpenAPI document);
the dataclasses are what the service passes to its ports.
"""

from dataclasses import dataclass, field
from datetime import datetime
from typing import Annotated

from pydantic import AfterValidator, ConfigDict, Field, StringConstraints

from terra_connect.domain.contract import Contract
from terra_connect.domain.redirects import MAX_URL_LENGTH

MAX_PROVIDERS = 50

# Terra's provider codes are upper-case letters, digits and underscores; its docs also write them in lower case
# (`resource=oura`), so either case is accepted and Terra always gets the upper-case form.
PROVIDER_PATTERN = r"^[A-Za-z0-9_]{2,40}$"
# A widget language: "en", "fr", "zh_cn", "pt-BR" (Terra falls back to the browser's language for others).
LANGUAGE_PATTERN = r"^[a-z]{2,3}(?:[_-][A-Za-z0-9]{2,8})?$"

ProviderCode = Annotated[
    str,
    StringConstraints(pattern=PROVIDER_PATTERN),
    AfterValidator(str.upper),
    Field(description="A Terra provider code such as GARMIN, FITBIT or OURA (any case).", examples=["GARMIN"]),
]
RedirectUrl = Annotated[
    str,
    StringConstraints(min_length=1, max_length=MAX_URL_LENGTH),
    Field(description="Must match one of the stack's AllowedRedirectUrls.", examples=["myapp://terra/done"]),
]


def _unique_in_order(codes: list[str]) -> list[str]:
    return list(dict.fromkeys(codes))


class WidgetSessionRequest(Contract):
    """Options for the widget. Every field is optional; an empty body asks for Terra's defaults."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    providers: (
        Annotated[
            list[ProviderCode],
            Field(min_length=1, max_length=MAX_PROVIDERS),
            AfterValidator(_unique_in_order),
        ]
        | None
    ) = Field(default=None, description="Providers to offer; omitted means every provider enabled for the app.")
    language: Annotated[str, StringConstraints(pattern=LANGUAGE_PATTERN)] | None = Field(
        default=None,
        description="Widget language, e.g. en, fr, ja, zh_cn.",
        examples=["en"],
    )
    success_redirect_url: RedirectUrl | None = None
    failure_redirect_url: RedirectUrl | None = None
    multi_auth: bool | None = Field(default=None, description="Stay on the widget to connect several providers.")
    show_disconnect: bool | None = Field(default=None, description="Offer to disconnect already-connected providers.")
    bypass_feedback: bool | None = Field(default=None, description="Skip the widget's feedback screen at the end.")
    use_terra_avengers_app: bool | None = Field(
        default=None,
        description="Let the widget hand Apple Health / Samsung Health to Terra's own companion app instead of "
        "yours (for apps that do not embed Terra's mobile SDK).",
    )


class WidgetSessionResponse(Contract):
    url: str = Field(description="Open in an in-app browser (never a WebView). Valid until expires_at.")
    session_id: str
    expires_in: int = Field(description="Seconds the URL stays valid, as Terra reported it.")
    expires_at: datetime = Field(description="When the URL stops working (UTC, ISO-8601).")
    warnings: list[str] | None = Field(default=None, description="Terra's warnings, e.g. unknown providers.")


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


class AuthUrlRequest(Contract):
    """Options for connecting one provider with the app's own UI (no Terra widget)."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    language: Annotated[str, StringConstraints(pattern=LANGUAGE_PATTERN)] | None = None
    success_redirect_url: RedirectUrl | None = None
    failure_redirect_url: RedirectUrl | None = None


class AuthUrlResponse(Contract):
    auth_url: str = Field(description="Open in an in-app browser; the provider's own sign-in page.")
    provider: str
    terra_user_id: str | None = Field(default=None, description="The Terra user this attempt will create.")


class ConnectionView(Contract):
    terra_user_id: str
    provider: str
    status: str = Field(description="connected, or needs_reauth (the provider rejected Terra: reconnect).")
    scopes: list[str] = Field(default_factory=list, description="Permissions the user granted, as Terra reports them.")
    active: bool | None = Field(
        default=None, description="Terra's flag: false means Terra receives no data updates for this connection."
    )
    connected_at: datetime | None = None
    updated_at: datetime | None = None


class AttemptView(Contract):
    status: str = Field(description="success or error")
    provider: str | None = None
    reason: str | None = None
    at: datetime | None = None


class ConnectionsResponse(Contract):
    connections: list[ConnectionView]
    last_attempt: AttemptView | None = Field(default=None, description="The latest widget or custom-UI outcome.")


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


class SdkTokenResponse(Contract):
    token: str = Field(description="Pass to Terra's mobile SDK initConnection(). Single use; expires at expires_at.")
    expires_in: int = Field(description="Seconds the token stays valid, as Terra reported it (180).")
    expires_at: datetime = Field(description="When the token stops working (UTC).")
    reference_id: str = Field(
        description="Initialise Terra's SDK with exactly this reference_id: SDK connections under any other are "
        "kept out of the user's connections."
    )


@dataclass(frozen=True, slots=True)
class TerraSdkToken:
    token: str = field(repr=False)
    expires_in: int


class ProvidersResponse(Contract):
    providers: list[str] = Field(description="Providers connected through Terra's widget or custom UI (cloud APIs).")
    sdk_providers: list[str] = Field(
        description="Providers connected through Terra's mobile SDK on the device (Apple Health, Samsung Health, "
        "Health Connect): get a token from POST /v1/sdk-tokens."
    )


@dataclass(frozen=True, slots=True)
class Integrations:
    providers: tuple[str, ...]
    sdk_providers: tuple[str, ...]
