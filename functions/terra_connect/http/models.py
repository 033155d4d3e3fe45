"""What the API's pydantic models share: how strictly a request is read, how an answer shows its empty fields,
provider codes, languages and redirect URLs. Each capability's models (its `models.py`) build on these.

Powertools' event handler validates request bodies against these models, and the OpenAPI document is generated from
them (tooling/openapi.py), so the two cannot disagree. Only the API function imports the models, and with it
pydantic: the webhook, reconciliation and events functions never do.

Each model builds its validator and serializer when its module is imported, in the function's init phase, not on
first use (pydantic's `defer_build`). Deferring saves a cold start nothing: most of the cost is pydantic's set-up for
the first model it builds, which the first request would pay instead (measured: the same init + first invocation).
And Lambda runs init with a full vCPU, where a 512 MB invocation gets about a third of one; with SnapStart what init
built is in the snapshot. No request builds a model.
"""

from typing import Annotated

from pydantic import AfterValidator, ConfigDict, Field

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


def unique_in_order(codes: list[str]) -> list[str]:
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
