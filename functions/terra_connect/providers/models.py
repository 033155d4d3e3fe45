"""What GET /v1/providers answers (the API's contract, see http/models.py)."""

from pydantic import BaseModel, Field

from terra_connect.http.models import ANSWER


class ProvidersResponse(BaseModel):
    model_config = ANSWER

    providers: list[str] = Field(description="Providers connected through Terra's widget or custom UI (cloud APIs).")
    sdk_providers: list[str] = Field(
        description="Providers connected through Terra's mobile SDK on the device (Apple Health, Samsung Health, "
        "Health Connect): get a token from POST /v1/sdk-tokens."
    )
