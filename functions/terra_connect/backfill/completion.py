"""Knowing when a backfill is done: what Terra answered and delivered, counted per reference, in any order.

Each data request Terra accepts answers with a `reference`; its data arrives as webhooks carrying that reference in
the `terra-reference` header. A request over a month is *large*: Terra's answer has a `message`, it announces
`large_request_processing`, then `large_request_sending{expected_payloads}`, then sends that many chunks. Terra's
sources disagree on where a chunk's own id lives - `terra-reference: <reference>:chunk:<n>` (its FAQ), or the same
`terra-reference` with distinct trace ids `<id>:chunk:<n>` (its agent guidance) - so a chunk is identified by the
header when it carries a chunk suffix, else by its trace id, else by its body's digest: a retry (same trace id,
same header) or a fresh redelivery of the same chunk is counted once either way.

A reference is done once Terra's answer named it and either it is not large and a payload arrived (Terra's
"usually a single delivery"; Garmin's later batches are still stored, only not waited for), or every announced
chunk has. The backfill completes when every request is done or failed (failed ones make it `incomplete`), or at
its deadline as `incomplete`, with each type's status. Everything merges - answers, announcements and chunks may
arrive in any order, chunks before the answer included - and the end is reported exactly once.

Every delivery of data under a reference counts as a chunk, readable or not (the raw body is kept either way); an
`s3_payload` counts as the chunk it points to (the fetched body shares its trace id).
"""

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType

from terra_connect.backfill.models import DataRequest
from terra_connect.backfill.plan import BackfillPlan
from terra_connect.health_data.events import BackfillCompleted, BackfillStatus, TypeReport, TypeStatus
from terra_connect.health_data.keys import base_reference, terra_token


def chunk_id(terra_reference: str | None, trace_id: str | None, body_digest: str) -> str:
    """The identity of one chunk of a reference (see the module's docstring for why in this order)."""
    header = terra_token(terra_reference)
    if header is not None and header != base_reference(header):
        return f"r:{header}"
    trace = terra_token(trace_id)
    return f"t:{trace}" if trace is not None else f"b:{body_digest}"


@dataclass(frozen=True, slots=True)
class ReferenceProgress:
    """What arrived under one reference (before or after Terra's answer named it)."""

    large: bool = False
    expected: int | None = None  # large_request_sending's expected_payloads
    chunks: frozenset[str] = frozenset()

    @property
    def done(self) -> bool:
        """Whether its data has all arrived, once Terra's answer to one of the plan's requests has named it."""
        if self.large:
            return self.expected is not None and len(self.chunks) >= self.expected
        return len(self.chunks) >= 1


_FAILED = ""  # a request's reference when Terra refused it for good


@dataclass(frozen=True, slots=True)
class Backfill:
    """A backfill's progress; every method returns the new progress and, once only, how it ended."""

    plan: BackfillPlan
    answers: Mapping[DataRequest, str] = field(default_factory=lambda: MappingProxyType({}))  # request → reference
    references: Mapping[str, ReferenceProgress] = field(default_factory=lambda: MappingProxyType({}))
    status: BackfillStatus | None = None  # None while open

    def answered(self, request: DataRequest, reference: str, *, large: bool, now_ms: int) -> "Outcome":
        """Terra accepted `request` under `reference` (`large`: its answer had a message). The first answer
        recorded for a request stands (a request is made again only when its answer was never recorded)."""
        base = base_reference(reference)
        if request not in self.plan.requests or request in self.answers or base is None:
            return Outcome(self)
        progress = self._progress(base)
        progress = replace(progress, large=progress.large or large)
        return self._with(answers={request: base}, progress={base: progress})._settle(now_ms)

    def failed(self, request: DataRequest, *, now_ms: int) -> "Outcome":
        """Terra refused `request` for good (r1, a 4xx; a 404 for every request: the user is gone at Terra)."""
        if request not in self.plan.requests or request in self.answers:
            return Outcome(self)
        return self._with(answers={request: _FAILED})._settle(now_ms)

    def processing(self, reference: str, *, now_ms: int) -> "Outcome":
        """`large_request_processing` for `reference`."""
        base = base_reference(reference)
        if base is None:
            return Outcome(self)
        progress = replace(self._progress(base), large=True)
        return self._with(progress={base: progress})._settle(now_ms)

    def sending(self, reference: str, expected_payloads: int, *, now_ms: int) -> "Outcome":
        """`large_request_sending`: `expected_payloads` chunks follow (a repeated announcement keeps the larger)."""
        base = base_reference(reference)
        if base is None:
            return Outcome(self)
        progress = self._progress(base)
        expected = max(progress.expected or 0, expected_payloads)
        progress = replace(progress, large=True, expected=expected)
        return self._with(progress={base: progress})._settle(now_ms)

    def chunk(self, terra_reference: str | None, trace_id: str | None, body_digest: str, *, now_ms: int) -> "Outcome":
        """A delivery of data under `terra_reference` (the header)."""
        base = base_reference(terra_reference)
        if base is None:
            return Outcome(self)
        progress = self._progress(base)
        chunks = progress.chunks | {chunk_id(terra_reference, trace_id, body_digest)}
        return self._with(progress={base: replace(progress, chunks=chunks)})._settle(now_ms)

    def expire(self, now_ms: int) -> "Outcome":
        """At or after the deadline, an open backfill ends incomplete."""
        if self.status is not None or now_ms < self.plan.deadline_ms:
            return Outcome(self)
        return self._end(BackfillStatus.INCOMPLETE, now_ms)

    def report(self) -> dict[str, TypeReport]:
        """Each type's status now (a type whose range took several requests reports them together)."""
        reports = {name: TypeReport(TypeStatus.SKIPPED, None, None, 0) for name in self.plan.skipped}
        for name in self.plan.types:
            requests = [request for request in self.plan.requests if request.data_type == name]
            references = [self.answers.get(request) for request in requests]
            progress = [self._progress(reference) for reference in references if reference]
            if _FAILED in references:
                status = TypeStatus.FAILED
            elif len(progress) == len(requests) and all(p.done for p in progress):
                status = TypeStatus.COMPLETED
            else:
                status = TypeStatus.INCOMPLETE
            expected = [p.expected for p in progress if p.expected is not None]
            reports[name] = TypeReport(
                status,
                next((reference for reference in references if reference), None),
                sum(expected) if expected else None,
                sum(len(p.chunks) for p in progress),
            )
        return reports

    def _progress(self, reference: str) -> ReferenceProgress:
        return self.references.get(reference, ReferenceProgress())

    def _with(
        self,
        *,
        answers: Mapping[DataRequest, str] | None = None,
        progress: Mapping[str, ReferenceProgress] | None = None,
    ) -> "Backfill":
        return replace(
            self,
            answers=MappingProxyType({**self.answers, **(answers or {})}),
            references=MappingProxyType({**self.references, **(progress or {})}),
        )

    def _settle(self, now_ms: int) -> "Outcome":
        if self.status is not None:
            return Outcome(self)
        references = [self.answers.get(request) for request in self.plan.requests]
        settled = [
            reference == _FAILED or (reference is not None and self._progress(reference).done)
            for reference in references
        ]
        if not all(settled):
            return Outcome(self)
        failed = _FAILED in references
        return self._end(BackfillStatus.INCOMPLETE if failed else BackfillStatus.COMPLETED, now_ms)

    def _end(self, status: BackfillStatus, now_ms: int) -> "Outcome":
        ended = replace(self, status=status)
        connection = self.plan.connection
        event = BackfillCompleted(
            connection.reference_id,
            connection.terra_user_id,
            connection.provider,
            status,
            self.plan.days.start.isoformat(),
            self.plan.days.end.isoformat(),
            ended.report(),
            self.plan.started_ms,
            now_ms,
        )
        return Outcome(ended, event)


@dataclass(frozen=True, slots=True)
class Outcome:
    backfill: Backfill
    ended: BackfillCompleted | None = None  # set by the one step that ended the backfill
