"""An app user's erasure as the registry stores it, and the storage it needs."""

from dataclasses import dataclass
from typing import Any, NamedTuple, Protocol


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


class MarkerAsRead(NamedTuple):
    """An app user's erasure marker as a write read it (`erased_at` None: no marker): the write is conditional on
    it, so none lands after an erasure that started meanwhile has read the registry."""

    reference_id: str
    erased_at: int | None


class ErasureMarkers(Protocol):
    """What every write naming an app user reads of their erasure: when it started, and the Terra users facts from
    before it claimed for it."""

    def erased_at(self, reference_id: str) -> int | None:
        """When the app user's latest erasure started, while that is remembered (the history retention)."""
        ...

    def claim_for_erasure(self, reference_id: str, terra_user_id: str) -> None:
        """A fact from before the app user's erasure named them for this Terra user: the erasure must ask Terra
        about it (kept with the erasure marker, which holds Terra user ids only)."""
        ...


class ErasureStore(ErasureMarkers, Protocol):
    """An erasure's own steps: its marker, what it must erase, the deletion and the finish."""

    def mark_erased(self, reference_id: str, at: int) -> None:
        """Refuse facts naming the app user from before `at` (the erasure marker; never moved earlier)."""
        ...

    def erasure_scope(self, reference_id: str) -> ErasureScope: ...

    def erasure_claims(self, reference_id: str) -> frozenset[str]:
        """Every Terra user claimed for the app user's erasure so far (they only ever grow)."""
        ...

    def begin_erasure(self, erasure: Erasure) -> Erasure:
        """Record that the erasure is under way; an erasure already under way for the app user is returned
        instead, so a retry finishes it."""
        ...

    def delete_owner_data(self, reference_id: str, terra_user_ids: frozenset[str]) -> int:
        """Delete everything stored for the app user but the erasure under way, and the views of Terra users
        other than `terra_user_ids` (connections made while the erasure ran; their records own those views).
        Returns how many items went."""
        ...

    def finish_erasure(self, erasure: Erasure, event: tuple[str, dict[str, Any]], claims: int) -> bool:
        """End the erasure and store its event for publishing, in one write, if the erasure marker still holds
        `claims` claims (else a fact claimed another Terra user meanwhile: handle it first). False if it had
        already ended, or on a new claim."""
        ...
