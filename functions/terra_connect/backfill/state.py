"""A backfill's whole state in one value - its progress, where its requests stand, its pacing - and its JSON form.

One Terra user has at most one backfill, kept as one item: every change (a step, an answer, a chunk, the deadline)
is a compare-and-swap of the whole value, so concurrent writers (the backfill function, the ingest function, the
sweep) never lose each other's changes and the end is decided once.
"""

from dataclasses import dataclass, field
from datetime import date
from types import MappingProxyType
from typing import Any

from terra_connect.backfill.completion import Backfill, ReferenceProgress
from terra_connect.backfill.models import DataRequest, DayRange
from terra_connect.backfill.pacing import DayLedger, Spend, TerraAllowance
from terra_connect.backfill.plan import BackfillPlan, NewConnection
from terra_connect.health_data.events import BackfillStatus

FORMAT = 1


@dataclass(frozen=True, slots=True)
class BackfillState:
    backfill: Backfill
    made: int = 0  # requests of the plan Terra has answered for good; the next is plan.requests[made]
    ledger: DayLedger = field(default_factory=DayLedger)
    terra: TerraAllowance | None = None  # Terra's own count, from its last answer
    retry_at_ms: int | None = None  # not before then (a 429's Retry-After, a backoff)
    failures: int = 0  # consecutive transient failures of the next request (the backoff's exponent)
    wake: int = 0  # token of the one wake-up message that may take steps (0: the connection's own message)
    lease: str | None = None  # the step under way: who asked Terra, and until when the claim holds
    lease_until_ms: int = 0

    @property
    def terra_user_id(self) -> str:
        return self.backfill.plan.connection.terra_user_id

    @property
    def pending(self) -> tuple[DataRequest, ...]:
        return self.backfill.plan.requests[self.made :]

    @property
    def open(self) -> bool:
        return self.backfill.status is None


def to_json(state: BackfillState) -> dict[str, Any]:
    backfill = state.backfill
    plan = backfill.plan
    index = {request: number for number, request in enumerate(plan.requests)}
    return {
        "format": FORMAT,
        "connection": [plan.connection.reference_id, plan.connection.terra_user_id, plan.connection.provider],
        "days": [plan.days.start.isoformat(), plan.days.end.isoformat()],
        "requests": [[request.data_type, *_days(request.days)] for request in plan.requests],
        "skipped": list(plan.skipped),
        "started_ms": plan.started_ms,
        "deadline_ms": plan.deadline_ms,
        "answers": sorted([index[request], reference] for request, reference in backfill.answers.items()),
        "references": {
            reference: {"large": progress.large, "expected": progress.expected, "chunks": sorted(progress.chunks)}
            for reference, progress in sorted(backfill.references.items())
        },
        "status": backfill.status.value if backfill.status is not None else None,
        "made": state.made,
        "ledger": [[spend.at_ms, spend.days] for spend in state.ledger.spends],
        "terra": None if (terra := state.terra) is None else [terra.remaining, terra.reset_at_ms, terra.observed_ms],
        "retry_at_ms": state.retry_at_ms,
        "failures": state.failures,
        "wake": state.wake,
        "lease": state.lease,
        "lease_until_ms": state.lease_until_ms,
    }


def from_json(document: dict[str, Any]) -> BackfillState:
    """The state `to_json` wrote. Raises ValueError for anything else (a newer format included)."""
    try:
        return _read(document)
    except (KeyError, TypeError, IndexError, AttributeError) as exc:
        raise ValueError(f"not a backfill state: {type(exc).__name__}") from exc


def _read(document: dict[str, Any]) -> BackfillState:
    if document["format"] != FORMAT:
        raise ValueError(f"backfill state format {document['format']!r} is not {FORMAT}")
    requests = tuple(DataRequest(name, _range(bounds)) for name, *bounds in document["requests"])
    start, end = document["days"]
    plan = BackfillPlan(
        NewConnection(*(str(part) for part in document["connection"])),
        DayRange(date.fromisoformat(start), date.fromisoformat(end)),
        requests,
        tuple(str(name) for name in document["skipped"]),
        int(document["started_ms"]),
        int(document["deadline_ms"]),
    )
    references = {
        str(reference): ReferenceProgress(
            bool(progress["large"]),
            None if progress["expected"] is None else int(progress["expected"]),
            frozenset(str(chunk) for chunk in progress["chunks"]),
        )
        for reference, progress in document["references"].items()
    }
    status = document["status"]
    backfill = Backfill(
        plan,
        MappingProxyType({requests[int(number)]: str(reference) for number, reference in document["answers"]}),
        MappingProxyType(references),
        None if status is None else BackfillStatus(status),
    )
    terra = document["terra"]
    return BackfillState(
        backfill,
        int(document["made"]),
        DayLedger(tuple(Spend(int(at), int(days)) for at, days in document["ledger"])),
        None if terra is None else TerraAllowance(int(terra[0]), int(terra[1]), int(terra[2])),
        None if document["retry_at_ms"] is None else int(document["retry_at_ms"]),
        int(document["failures"]),
        int(document["wake"]),
        None if document["lease"] is None else str(document["lease"]),
        int(document["lease_until_ms"]),
    )


def _days(days: DayRange | None) -> list[str]:
    return [] if days is None else [days.start.isoformat(), days.end.isoformat()]


def _range(bounds: list[str]) -> DayRange | None:
    if not bounds:
        return None
    start, end = bounds
    return DayRange(date.fromisoformat(start), date.fromisoformat(end))
