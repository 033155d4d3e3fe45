"""What callers send and receive, and what the service asks of Terra.

Requests are checked against their JSON Schemas (the public contract: they drive validation and the OpenAPI
document) and read into frozen dataclasses; answers are dataclasses serialised as JSON (`Document`). The plain
dataclasses are what the service passes to its ports.
"""

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from terra_connect.domain.contract import Document, Schema
from terra_connect.domain.redirects import MAX_URL_LENGTH

MAX_PROVIDERS = 50

# Terra's provider codes are upper-case letters, digits and underscores; its docs also write them in lower case
# (`resource=oura`), so either case is accepted and Terra always gets the upper-case form.
PROVIDER_PATTERN = r"^[A-Za-z0-9_]{2,40}$"
# A widget language: "en", "fr", "zh_cn", "pt-BR" (Terra falls back to the browser's language for others).
LANGUAGE_PATTERN = r"^[a-z]{2,3}(?:[_-][A-Za-z0-9]{2,8})?$"


def _nullable(schema: Schema, **documentation: Any) -> dict[str, Any]:
    return {"anyOf": [schema, {"type": "null"}], **documentation}


_PROVIDER_CODE = {
    "type": "string",
    "pattern": PROVIDER_PATTERN,
    "description": "A Terra provider code such as GARMIN, FITBIT or OURA (any case).",
    "examples": ["GARMIN"],
}
_LANGUAGE = {"type": "string", "pattern": LANGUAGE_PATTERN}
_REDIRECT_URL = {
    "type": "string",
    "minLength": 1,
    "maxLength": MAX_URL_LENGTH,
    "description": "Must match one of the stack's AllowedRedirectUrls.",
    "examples": ["myapp://terra/done"],
}
_BOOLEAN = {"type": "boolean"}
_DATE_TIME = {"type": "string", "format": "date-time"}

WIDGET_SESSION_REQUEST: Schema = {
    "type": "object",
    "description": "Options for the widget. Every field is optional; an empty body asks for Terra's defaults.",
    "additionalProperties": False,
    "properties": {
        "providers": _nullable(
            {"type": "array", "items": _PROVIDER_CODE, "minItems": 1, "maxItems": MAX_PROVIDERS},
            description="Providers to offer; omitted means every provider enabled for the app.",
        ),
        "language": _nullable(_LANGUAGE, description="Widget language, e.g. en, fr, ja, zh_cn.", examples=["en"]),
        "success_redirect_url": _nullable(_REDIRECT_URL),
        "failure_redirect_url": _nullable(_REDIRECT_URL),
        "multi_auth": _nullable(_BOOLEAN, description="Stay on the widget to connect several providers."),
        "show_disconnect": _nullable(_BOOLEAN, description="Offer to disconnect already-connected providers."),
        "bypass_feedback": _nullable(_BOOLEAN, description="Skip the widget's feedback screen at the end."),
        "use_terra_avengers_app": _nullable(
            _BOOLEAN,
            description="Let the widget hand Apple Health / Samsung Health to Terra's own companion app instead of "
            "yours (for apps that do not embed Terra's mobile SDK).",
        ),
    },
}

AUTH_URL_REQUEST: Schema = {
    "type": "object",
    "description": "Options for connecting one provider with the app's own UI (no Terra widget).",
    "additionalProperties": False,
    "properties": {
        "language": _nullable(_LANGUAGE),
        "success_redirect_url": _nullable(_REDIRECT_URL),
        "failure_redirect_url": _nullable(_REDIRECT_URL),
    },
}


@dataclass(frozen=True, slots=True)
class WidgetSessionRequest:
    """A validated WIDGET_SESSION_REQUEST: provider codes upper-case, each once, in the order given."""

    providers: tuple[str, ...] | None = None
    language: str | None = None
    success_redirect_url: str | None = None
    failure_redirect_url: str | None = None
    multi_auth: bool | None = None
    show_disconnect: bool | None = None
    bypass_feedback: bool | None = None
    use_terra_avengers_app: bool | None = None

    @classmethod
    def from_document(cls, document: dict[str, Any] | None) -> "WidgetSessionRequest":
        """From a body that passed WIDGET_SESSION_REQUEST (None: no body)."""
        options = dict(document or {})
        if options.get("providers") is not None:
            options["providers"] = tuple(dict.fromkeys(code.upper() for code in options["providers"]))
        return cls(**options)


@dataclass(frozen=True, slots=True)
class WidgetSessionResponse(Document):
    url: str
    session_id: str
    expires_in: int
    expires_at: datetime
    warnings: list[str] | None = None


WIDGET_SESSION_RESPONSE: Schema = {
    "type": "object",
    "required": ["url", "session_id", "expires_in", "expires_at"],
    "properties": {
        "url": {
            "type": "string",
            "description": "Open in an in-app browser (never a WebView). Valid until expires_at.",
        },
        "session_id": {"type": "string"},
        "expires_in": {"type": "integer", "description": "Seconds the URL stays valid, as Terra reported it."},
        "expires_at": {**_DATE_TIME, "description": "When the URL stops working (UTC, ISO-8601)."},
        "warnings": {
            "type": "array",
            "items": {"type": "string"},
            "description": "Terra's warnings, e.g. unknown providers (absent when there are none).",
        },
    },
}


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
class AuthUrlRequest:
    """A validated AUTH_URL_REQUEST."""

    language: str | None = None
    success_redirect_url: str | None = None
    failure_redirect_url: str | None = None

    @classmethod
    def from_document(cls, document: dict[str, Any] | None) -> "AuthUrlRequest":
        """From a body that passed AUTH_URL_REQUEST (None: no body)."""
        return cls(**(document or {}))


@dataclass(frozen=True, slots=True)
class AuthUrlResponse(Document):
    auth_url: str
    provider: str
    terra_user_id: str | None = None


AUTH_URL_RESPONSE: Schema = {
    "type": "object",
    "required": ["auth_url", "provider"],
    "properties": {
        "auth_url": {"type": "string", "description": "Open in an in-app browser; the provider's own sign-in page."},
        "provider": {"type": "string"},
        "terra_user_id": {"type": "string", "description": "The Terra user this attempt will create, when Terra says."},
    },
}


@dataclass(frozen=True, slots=True)
class ConnectionView(Document):
    terra_user_id: str
    provider: str
    status: str
    scopes: list[str] = field(default_factory=list)
    active: bool | None = None
    connected_at: datetime | None = None
    updated_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class AttemptView(Document):
    status: str
    provider: str | None = None
    reason: str | None = None
    at: datetime | None = None


@dataclass(frozen=True, slots=True)
class ConnectionsResponse(Document):
    connections: list[ConnectionView]
    last_attempt: AttemptView | None = None


_NULLABLE_STRING = _nullable({"type": "string"})
CONNECTION_VIEW: Schema = {
    "type": "object",
    "required": ["terra_user_id", "provider", "status", "scopes", "active", "connected_at", "updated_at"],
    "properties": {
        "terra_user_id": {"type": "string"},
        "provider": {"type": "string"},
        "status": {
            "type": "string",
            "description": "connected, or needs_reauth (the provider rejected Terra: reconnect).",
        },
        "scopes": {
            "type": "array",
            "items": {"type": "string"},
            "description": "Permissions the user granted, as Terra reports them.",
        },
        "active": _nullable(
            _BOOLEAN, description="Terra's flag: false means Terra receives no data updates for this connection."
        ),
        "connected_at": _nullable(_DATE_TIME),
        "updated_at": _nullable(_DATE_TIME),
    },
}
ATTEMPT_VIEW: Schema = {
    "type": "object",
    "required": ["status", "provider", "reason", "at"],
    "properties": {
        "status": {"type": "string", "description": "success or error"},
        "provider": _NULLABLE_STRING,
        "reason": _NULLABLE_STRING,
        "at": _nullable(_DATE_TIME),
    },
}
CONNECTIONS_RESPONSE: Schema = {
    "type": "object",
    "required": ["connections", "last_attempt"],
    "properties": {
        "connections": {"type": "array", "items": {"$ref": "#/components/schemas/ConnectionView"}},
        "last_attempt": _nullable(
            {"$ref": "#/components/schemas/AttemptView"}, description="The latest widget or custom-UI outcome."
        ),
    },
}


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
class SdkTokenResponse(Document):
    token: str
    expires_in: int
    expires_at: datetime
    reference_id: str


SDK_TOKEN_RESPONSE: Schema = {
    "type": "object",
    "required": ["token", "expires_in", "expires_at", "reference_id"],
    "properties": {
        "token": {
            "type": "string",
            "description": "Pass to Terra's mobile SDK initConnection(). Single use; expires at expires_at.",
        },
        "expires_in": {"type": "integer", "description": "Seconds the token stays valid, as Terra reported it (180)."},
        "expires_at": {**_DATE_TIME, "description": "When the token stops working (UTC)."},
        "reference_id": {
            "type": "string",
            "description": "Initialise Terra's SDK with exactly this reference_id: SDK connections under any other "
            "are kept out of the user's connections.",
        },
    },
}


@dataclass(frozen=True, slots=True)
class TerraSdkToken:
    token: str = field(repr=False)
    expires_in: int


@dataclass(frozen=True, slots=True)
class ProvidersResponse(Document):
    providers: list[str]
    sdk_providers: list[str]


PROVIDERS_RESPONSE: Schema = {
    "type": "object",
    "required": ["providers", "sdk_providers"],
    "properties": {
        "providers": {
            "type": "array",
            "items": {"type": "string"},
            "description": "Providers connected through Terra's widget or custom UI (cloud APIs).",
        },
        "sdk_providers": {
            "type": "array",
            "items": {"type": "string"},
            "description": "Providers connected through Terra's mobile SDK on the device (Apple Health, Samsung "
            "Health, Health Connect): get a token from POST /v1/sdk-tokens.",
        },
    },
}


@dataclass(frozen=True, slots=True)
class Integrations:
    providers: tuple[str, ...]
    sdk_providers: tuple[str, ...]


# The named schemas of the OpenAPI document (components/schemas), referenced as #/components/schemas/<name>.
SCHEMAS: dict[str, Schema] = {
    "WidgetSessionRequest": WIDGET_SESSION_REQUEST,
    "WidgetSessionResponse": WIDGET_SESSION_RESPONSE,
    "AuthUrlRequest": AUTH_URL_REQUEST,
    "AuthUrlResponse": AUTH_URL_RESPONSE,
    "ConnectionView": CONNECTION_VIEW,
    "AttemptView": ATTEMPT_VIEW,
    "ConnectionsResponse": CONNECTIONS_RESPONSE,
    "SdkTokenResponse": SDK_TOKEN_RESPONSE,
    "ProvidersResponse": PROVIDERS_RESPONSE,
}


def ref(name: str) -> dict[str, str]:
    """A reference to one of SCHEMAS, as the OpenAPI document writes it."""
    if name not in SCHEMAS:
        raise KeyError(name)
    return {"$ref": f"#/components/schemas/{name}"}
