"""What the connection routes read and answer: the caller's connections and last attempt, the custom-UI auth URL
(the API's contract, see http/models.py)."""

from datetime import datetime

from pydantic import BaseModel, Field

from terra_connect.http.models import ANSWER, REQUEST, SPARSE_ANSWER, Language, RedirectUrl


class AuthUrlRequest(BaseModel):
    """Options for connecting one provider with the app's own UI (no Terra widget)."""

    model_config = REQUEST

    language: Language | None = None
    success_redirect_url: RedirectUrl | None = None
    failure_redirect_url: RedirectUrl | None = None


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
