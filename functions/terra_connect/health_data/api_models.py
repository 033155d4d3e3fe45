"""What GET /v1/data/{type} answers (the API's contract, see http/models.py). The answer is written from the stored
records' text (reads.py), never through this model: it describes the document only."""

from typing import Any

from pydantic import BaseModel, Field

from terra_connect.http.models import ANSWER


class DataResponse(BaseModel):
    model_config = ANSWER

    data: list[dict[str, Any]] = Field(
        description="The caller's records of the type, the newest copy of each, in Terra's own shape "
        "(`metadata.summary_id`, `metadata.start_time`, every other field as Terra sent it), by day."
    )
    next_page_token: str | None = Field(
        description="Pass as `page_token`, with the same type and range, for the next page; `null` on the last page. "
        "Opaque."
    )
