"""Who owns a Terra user as the facts tell it: the owners a record keeps and how they merge, the stand-in for an
erased app user, and the SDK binding that decides who may own an SDK provider's Terra user (connections/records.py
weighs them with the rest of the record)."""

from collections.abc import Iterable
from dataclasses import dataclass
from typing import NamedTuple

# Stands in for an erased app user among a record's owners, so that what their facts did to ownership (who owned a
# Terra user last) still holds while nothing of them is kept. No reference_id can take this value: it is not
# printable, and identities and Terra's reference_ids are refused unless they are.
ERASED_OWNER = "\x00erased"
MAX_OWNERS = 8


class OwnerEntry(NamedTuple):
    """An app user a fact named as the Terra user's owner. `links`: 0 for facts about this Terra user, 1 for facts
    about the one it replaced, ... The owner is the nearest, then the latest named."""

    reference_id: str
    links: int
    named_at: int  # the latest time a fact named it


class Verdict(NamedTuple):
    """Whether an app user may own an SDK provider's Terra user, given once."""

    reference_id: str
    allowed: bool


@dataclass(frozen=True, slots=True)
class Binding:
    """Who may own an SDK provider's Terra user (sdk/binding.py), decided once and kept with its record.

    `judged_by`: the moment every app user a fact names is judged by, fixed on the Terra user's first sighting
    (Terra's created_at, else the first signed time seen), so a later fact - an event, a sync, a reconciliation -
    cannot move it next to a token issued afterwards. `verdicts`: each app user judged, and whether they may own
    it; a verdict is given once and read by every later fact. Not bounded: each entry is an app user Terra itself
    named for this Terra user, and dropping a refusal would let it be judged again.
    """

    judged_by: int
    verdicts: tuple[Verdict, ...] = ()

    def verdict(self, reference_id: str) -> bool | None:
        return next((allowed for ref, allowed in self.verdicts if ref == reference_id), None)

    def merge(self, other: "Binding") -> "Binding":
        verdicts: dict[str, bool] = {}
        for reference_id, allowed in (*self.verdicts, *other.verdicts):
            verdicts[reference_id] = verdicts.get(reference_id, True) and allowed  # a refusal stands
        return Binding(min(self.judged_by, other.judged_by), _verdicts(verdicts))

    def with_verdicts(self, verdicts: dict[str, bool]) -> "Binding":
        return self.merge(Binding(self.judged_by, _verdicts(verdicts)))

    def without(self, reference_id: str) -> "Binding":
        return Binding(self.judged_by, tuple(entry for entry in self.verdicts if entry.reference_id != reference_id))


def _verdicts(verdicts: dict[str, bool]) -> tuple[Verdict, ...]:
    return tuple(Verdict(reference_id, allowed) for reference_id, allowed in sorted(verdicts.items()))


def closest_latest(entry: OwnerEntry) -> tuple[int, int, str]:
    return (-entry.links, entry.named_at, entry.reference_id)


def merge_owners(a: Iterable[OwnerEntry], b: Iterable[OwnerEntry]) -> tuple[OwnerEntry, ...]:
    best: dict[str, OwnerEntry] = {}
    for entry in (*a, *b):
        known = best.get(entry.reference_id)
        if known is None or closest_latest(entry) > closest_latest(known):
            best[entry.reference_id] = entry
    kept = sorted(best.values(), key=closest_latest, reverse=True)[:MAX_OWNERS]
    return tuple(sorted(kept))
