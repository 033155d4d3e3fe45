"""What POST /v1/widget-sessions reads and answers (the API's contract, see http/models.py)."""

from datetime import datetime
from typing import Annotated

from pydantic import AfterValidator, BaseModel, Field

from terra_connect.http.models import (
    MAX_PROVIDERS,
    REQUEST,
    SPARSE_ANSWER,
    Language,
    ProviderCode,
    RedirectUrl,
    unique_in_order,
)


class WidgetSessionRequest(BaseModel):
    """Options for the widget. Every field is optional; an empty body asks for Terra's defaults."""

    model_config = REQUEST

    providers: (
        Annotated[
            list[ProviderCode],
            Field(min_length=1, max_length=MAX_PROVIDERS),
            AfterValidator(unique_in_order),
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


class WidgetSessionResponse(BaseModel):
    model_config = SPARSE_ANSWER

    url: str = Field(description="Open in an in-app browser (never a WebView). Valid until expires_at.")
    session_id: str
    expires_in: int = Field(description="Seconds the URL stays valid, as Terra reported it.")
    expires_at: datetime = Field(description="When the URL stops working (UTC, ISO-8601).")
    warnings: list[str] | None = Field(
        default=None, description="Terra's warnings, e.g. unknown providers (absent when there are none)."
    )
