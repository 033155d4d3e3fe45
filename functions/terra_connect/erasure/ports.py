"""An app user's erasure as the registry stores it."""

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Erasure:
    """An app user's erasure, from its start until every step is done (then it is published once)."""

    id: str
    reference_id: str
    started_at: int  # stamp: facts naming the app user from before it are refused
    requested_by: str  # "user" (the API) or "operator"


@dataclass(frozen=True, slots=True)
class ErasureScope:
    """What the registry holds for an app user, as an erasure needs to know it."""

    terra_user_ids: frozenset[str]  # every Terra user it lists, had, or was claimed for
    holds_data: bool  # anything at all is stored for the app user
    pending: Erasure | None  # an erasure that started and did not finish
