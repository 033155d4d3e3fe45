"""What POST /v1/sdk-tokens answers (the API's contract, see http/models.py)."""

from datetime import datetime

from pydantic import BaseModel, Field

from terra_connect.http.models import ANSWER


class SdkTokenResponse(BaseModel):
    model_config = ANSWER

    token: str = Field(description="Pass to Terra's mobile SDK initConnection(). Single use; expires at expires_at.")
    expires_in: int = Field(description="Seconds the token stays valid, as Terra reported it (180).")
    expires_at: datetime = Field(description="When the token stops working (UTC).")
    reference_id: str = Field(
        description="Initialise Terra's SDK with exactly this reference_id: SDK connections under any other are "
        "kept out of the user's connections."
    )
