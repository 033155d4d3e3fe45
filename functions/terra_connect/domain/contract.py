"""The API's contract: what callers send and what they get back, as pydantic models.

Powertools' event handler validates request bodies against these models, and the OpenAPI document is generated from
them (offline/openapi.py), so the two cannot disagree. Only the API function imports this module, and with it
pydantic: the webhook, reconciliation and events functions never do.

Each model builds its validator and serializer when this module is imported, in the function's init phase, not on
first use (pydantic's `defer_build`). Deferring saves a cold start nothing: most of the cost is pydantic's set-up for
the first model it builds, which the first request would pay instead (measured: the same init + first invocation).
And Lambda runs init with a full vCPU, where a 512 MB invocation gets about a third of one; with SnapStart what init
built is in the snapshot. No request builds a model.
"""

from datetime import datetime
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from terra_connect.kernel.redirects import MAX_URL_LENGTH
from terra_connect.terra.messages import PROVIDER_PATTERN

MAX_PROVIDERS = 50
# A widget language: "en", "fr", "zh_cn", "pt-BR" (Terra falls back to the browser's language for others).
LANGUAGE_PATTERN = r"^[a-z]{2,3}(?:[_-][A-Za-z0-9]{2,8})?$"


# A request body is read strictly: a number is not a boolean or a string, and a field the API does not define
# (`reference_id` above all: the caller's identity comes from the token) is refused.
REQUEST = ConfigDict(frozen=True, strict=True, extra="forbid")
# An answer has every field in its JSON, `null` when empty, so its published schema requires each one...
ANSWER = ConfigDict(frozen=True, json_schema_serialization_defaults_required=True)
# ...unless the route leaves its empty fields out (`exclude_none`).
SPARSE_ANSWER = ConfigDict(frozen=True)


def _unique_in_order(codes: list[str]) -> list[str]:
    return list(dict.fromkeys(codes))


ProviderCode = Annotated[
    str,
    Field(
        pattern=PROVIDER_PATTERN,
        description="A Terra provider code such as GARMIN, FITBIT or OURA (any case).",
        examples=["GARMIN"],
    ),
    AfterValidator(str.upper),
]
Language = Annotated[str, Field(pattern=LANGUAGE_PATTERN)]
RedirectUrl = Annotated[
    str,
    Field(
        min_length=1,
        max_length=MAX_URL_LENGTH,
        description="Must match one of the stack's AllowedRedirectUrls.",
        examples=["myapp://terra/done"],
    ),
]


class WidgetSessionRequest(BaseModel):
    """Options for the widget. Every field is optional; an empty body asks for Terra's defaults."""

    model_config = REQUEST

    providers: (
        Annotated[
            list[ProviderCode],
            Field(min_length=1, max_length=MAX_PROVIDERS),
            AfterValidator(_unique_in_order),
        ]
        | None
    ) = Field(default=None, description="Providers to offer; omitted means every provider enabled for the app.")
    language: Language | None = Field(
        default=None, description="Widget language, e.g. en, fr, ja, zh_cn.", examples=["en"]
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


class AuthUrlRequest(BaseModel):
    """Options for connecting one provider with the app's own UI (no Terra widget)."""

    model_config = REQUEST

    language: Language | None = None
    success_redirect_url: RedirectUrl | None = None
    failure_redirect_url: RedirectUrl | None = None


class WidgetSessionResponse(BaseModel):
    model_config = SPARSE_ANSWER

    url: str = Field(description="Open in an in-app browser (never a WebView). Valid until expires_at.")
    session_id: str
    expires_in: int = Field(description="Seconds the URL stays valid, as Terra reported it.")
    expires_at: datetime = Field(description="When the URL stops working (UTC, ISO-8601).")
    warnings: list[str] | None = Field(
        default=None, description="Terra's warnings, e.g. unknown providers (absent when there are none)."
    )


class AuthUrlResponse(BaseModel):
    model_config = SPARSE_ANSWER

    auth_url: str = Field(description="Open in an in-app browser; the provider's own sign-in page.")
    provider: str
    terra_user_id: str | None = Field(
        default=None, description="The Terra user this attempt will create, when Terra says (absent otherwise)."
    )


class ConnectionView(BaseModel):
    model_config = ANSWER

    terra_user_id: str
    provider: str
    status: str = Field(description="connected, or needs_reauth (the provider rejected Terra: reconnect).")
    scopes: list[str] = Field(default_factory=list, description="Permissions the user granted, as Terra reports them.")
    active: bool | None = Field(
        default=None, description="Terra's flag: false means Terra receives no data updates for this connection."
    )
    connected_at: datetime | None = None
    updated_at: datetime | None = None


class AttemptView(BaseModel):
    model_config = ANSWER

    status: str = Field(description="success or error")
    provider: str | None = None
    reason: str | None = None
    at: datetime | None = None


class ConnectionsResponse(BaseModel):
    model_config = ANSWER

    connections: list[ConnectionView]
    last_attempt: AttemptView | None = Field(default=None, description="The latest widget or custom-UI outcome.")


class SdkTokenResponse(BaseModel):
    model_config = ANSWER

    token: str = Field(description="Pass to Terra's mobile SDK initConnection(). Single use; expires at expires_at.")
    expires_in: int = Field(description="Seconds the token stays valid, as Terra reported it (180).")
    expires_at: datetime = Field(description="When the token stops working (UTC).")
    reference_id: str = Field(
        description="Initialise Terra's SDK with exactly this reference_id: SDK connections under any other are "
        "kept out of the user's connections."
    )


class ProvidersResponse(BaseModel):
    model_config = ANSWER

    providers: list[str] = Field(description="Providers connected through Terra's widget or custom UI (cloud APIs).")
    sdk_providers: list[str] = Field(
        description="Providers connected through Terra's mobile SDK on the device (Apple Health, Samsung Health, "
        "Health Connect): get a token from POST /v1/sdk-tokens."
    )
