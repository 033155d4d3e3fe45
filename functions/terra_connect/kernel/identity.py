"""The caller's identity, taken only from claims the API's JWT authorizer has already verified."""

import re
from collections.abc import Iterable, Mapping
from typing import Any

from terra_connect.kernel.errors import Unauthenticated

# Terra documents no limit for reference_id; identity providers' subjects are far shorter
# (Cognito 36, Auth0 and Firebase under 128), so anything longer is not a real subject.
MAX_REFERENCE_ID_LENGTH = 256


def reference_id_from_claims(claims: Mapping[str, Any] | None, claim_name: str) -> str:
    """Return the value of `claim_name` as Terra's reference_id, or raise Unauthenticated."""
    value = (claims or {}).get(claim_name)
    if not isinstance(value, str) or not value.strip():
        raise Unauthenticated(f"The access token has no usable '{claim_name}' claim.")
    if len(value) > MAX_REFERENCE_ID_LENGTH or not value.isprintable() or value != value.strip():
        raise Unauthenticated(f"The access token's '{claim_name}' claim is not a valid user id.")
    return value


_REFERENCE_ID = re.compile(r"reference[-_]*id", re.IGNORECASE)


def names_reference_id(names: Iterable[str]) -> bool:
    """Whether any of these header, query parameter or body field names tries to choose the identity:
    `reference_id`, `Reference-Id`, `X-ReferenceID`, however the caller spells it. Every route refuses one
    (422 reference_id_not_allowed)."""
    return _REFERENCE_ID.search("\n".join(names)) is not None
