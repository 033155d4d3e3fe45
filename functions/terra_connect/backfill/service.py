"""Backfilling a new connection: plan it once, ask Terra step by step within its limits, count what arrives, end once.

A backfill moves only when something wakes it: the message announcing the connection, a wake-up message it
scheduled for itself (never a sleep: a wait of any length is a delayed message, re-sent every 15 minutes at
most), a delivery the ingest function reports, or the sweep. Every change is a compare-and-swap of the backfill's
one stored value (state.py), so any of them may run twice or at once:
- only the message carrying the token the backfill holds takes steps, and scheduling the next wake-up hands the
  token on, so duplicated messages die out instead of multiplying;
- a step is claimed (a lease) before Terra is asked, so two holders of one token do not both ask; a holder that
  dies mid-step leaves the lease to expire and the sweep to wake the backfill again;
- an answer is applied to whatever the backfill became meanwhile (chunks may arrive before Terra's answer).

Terra's answers: accepted → its data is expected under the reference; data answered inline → handed over to be
kept like a delivery, and counted as the request's one payload; 429 → asked again after Retry-After (without one,
60 s doubling to an hour), except rule r1 (too many days; pacing never asks that) which fails the request; 400
fails the request; 404 (Terra no longer knows the user) fails every request left; 401/403 → again in 5 minutes;
5xx or no answer → again after 30 s doubling to an hour. The deadline ends an open backfill as incomplete.
"""

import hashlib
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from enum import StrEnum

from terra_connect.backfill.completion import Backfill, Outcome
from terra_connect.backfill.models import DataRequest
from terra_connect.backfill.pacing import Run, TerraAllowance, Wait, next_step
from terra_connect.backfill.plan import NewConnection, plan_backfill
from terra_connect.backfill.ports import (
    MAX_WAKE_DELAY_MS,
    Accepted,
    Allowance,
    BackfillStore,
    DataInline,
    InlineData,
    RateLimited,
    Refused,
    Stored,
    TerraAnswer,
    TerraDataRequests,
    Unauthorized,
    Unavailable,
    WakeScheduler,
)
from terra_connect.backfill.state import BackfillState
from terra_connect.health_data.events import BackfillCompleted
from terra_connect.kernel.deadline import Deadline

CONNECTION_TOKEN = 0  # the wake token of the message that announced the connection
LEASE_MS = 120_000  # longer than one Terra call within a step's time
STEP_SECONDS = 15.0  # time a step needs left in the invocation: Terra's call with its retries
STALL_MS = 900_000  # a wake-up this late means its message was lost: the sweep sends another
MAX_CONFLICTS = 16  # concurrent writers of one backfill are few: a handful of rereads settle them
SWEEP_LIMIT = 500
RATE_LIMITED_BACKOFF_MS = 60_000
UNAVAILABLE_BACKOFF_MS = 30_000
UNAUTHORIZED_WAIT_MS = 300_000
MAX_BACKOFF_MS = 3_600_000


def _epoch_ms() -> int:
    return time.time_ns() // 1_000_000


class BackfillBusy(Exception):
    """Too many concurrent changes to one backfill: the caller's message is retried later."""


class StepResult(StrEnum):
    OFF = "off"  # BackfillDays is 0
    NOT_BACKFILLED = "not_backfilled"  # an SDK provider: its data is on the phone
    UNKNOWN = "unknown"  # no backfill for this Terra user (anymore)
    CLOSED = "closed"  # it has ended
    STALE = "stale"  # the message's token is not the backfill's: another message carries it on
    BUSY = "busy"  # another holder is taking a step
    WAITING = "waiting"  # a wake-up is scheduled
    REQUESTED = "requested"  # every request has been answered; what remains is Terra's deliveries


@dataclass(frozen=True, slots=True)
class StepReport:
    result: StepResult
    made: tuple[DataRequest, ...] = ()  # requests Terra answered in this run
    wake_at_ms: int | None = None
    ended: BackfillCompleted | None = None


@dataclass(frozen=True, slots=True)
class BackfillSettings:
    days: int  # BackfillDays: 0 turns backfills off
    timeout_hours: int  # BackfillTimeoutHours


class BackfillService:
    def __init__(
        self,
        *,
        terra: TerraDataRequests,
        store: BackfillStore,
        scheduler: WakeScheduler,
        inline: InlineData,
        settings: BackfillSettings,
        clock: Callable[[], int] = _epoch_ms,
        new_lease: Callable[[], str] = lambda: uuid.uuid4().hex,
    ) -> None:
        self._terra = terra
        self._store = store
        self._scheduler = scheduler
        self._inline = inline
        self._settings = settings
        self._clock = clock
        self._new_lease = new_lease

    def connected(self, connection: NewConnection, deadline: Deadline) -> StepReport:
        """A new connection: plan its backfill unless it has one (a repeated announcement plans nothing), then
        take the first steps."""
        if self._settings.days == 0:
            return StepReport(StepResult.OFF)
        if self._store.load(connection.terra_user_id) is None:
            support = self._terra.provider_support(connection.provider, deadline)
            plan = plan_backfill(
                connection,
                backfill_days=self._settings.days,
                timeout_hours=self._settings.timeout_hours,
                now_ms=self._clock(),
                supported_types=support.types,
                sdk_providers=(connection.provider,) if support.sdk else (),
            )
            if plan is None:
                return StepReport(StepResult.NOT_BACKFILLED)
            self._store.create(BackfillState(Backfill(plan)))  # False: another delivery created it first
        return self.step(connection.terra_user_id, CONNECTION_TOKEN, deadline)

    def step(self, terra_user_id: str, token: int, deadline: Deadline) -> StepReport:
        """Take every step that is due, while the invocation has time, then schedule the next wake-up."""
        made: list[DataRequest] = []
        ended: BackfillCompleted | None = None
        conflicts = 0
        while conflicts < MAX_CONFLICTS:
            stored = self._store.load(terra_user_id)
            if stored is None:
                return StepReport(StepResult.UNKNOWN, tuple(made), ended=ended)
            state, now = stored.state, self._clock()
            if not state.open:
                return StepReport(StepResult.CLOSED, tuple(made), ended=ended)
            if state.wake != token:
                return StepReport(StepResult.STALE, tuple(made), ended=ended)
            if not state.pending:
                return StepReport(StepResult.REQUESTED, tuple(made), ended=ended)
            if state.lease is not None and state.lease_until_ms > now:
                return StepReport(StepResult.BUSY, tuple(made), ended=ended)
            step = next_step(state.pending, state.ledger, now, terra=state.terra, retry_at_ms=state.retry_at_ms)
            if not isinstance(step, Run) or deadline.remaining() < STEP_SECONDS:
                at = step.until_ms if isinstance(step, Wait) else now
                wake_at = self._schedule(terra_user_id, token, at)
                return StepReport(StepResult.WAITING, tuple(made), wake_at, ended)
            lease = self._new_lease()
            claimed = replace(state, lease=lease, lease_until_ms=now + LEASE_MS)
            if not self._store.save(claimed, stored.version):
                conflicts += 1  # changed meanwhile: look again
                continue
            answer = self._terra.request(terra_user_id, step.request, deadline)
            if isinstance(answer, DataInline):
                self._inline.hand_over(terra_user_id, step.request.data_type, answer.body)
            outcome = self._apply(terra_user_id, lease, step.request, answer)
            ended = ended or outcome
            if isinstance(answer, Accepted | DataInline):
                made.append(step.request)
        raise BackfillBusy(terra_user_id)

    def delivered(
        self, terra_user_id: str, terra_reference: str | None, trace_id: str | None, body_digest: str
    ) -> BackfillCompleted | None:
        """The ingest function stored a data payload of this Terra user under `terra_reference`; how the backfill
        ended, when this payload ended it."""
        return self._change(
            terra_user_id, lambda backfill, now: backfill.chunk(terra_reference, trace_id, body_digest, now_ms=now)
        )

    def announced(self, terra_user_id: str, reference: str, expected_payloads: int | None) -> BackfillCompleted | None:
        """`large_request_processing` (no count yet) or `large_request_sending{expected_payloads}`."""
        if expected_payloads is None:
            return self._change(terra_user_id, lambda backfill, now: backfill.processing(reference, now_ms=now))
        return self._change(
            terra_user_id, lambda backfill, now: backfill.sending(reference, expected_payloads, now_ms=now)
        )

    def sweep(self) -> list[BackfillCompleted]:
        """End every open backfill past its deadline as incomplete, and wake those whose wake-up was lost."""
        ended: list[BackfillCompleted] = []
        for terra_user_id in self._store.open_backfills(SWEEP_LIMIT):
            outcome = self._change(terra_user_id, lambda backfill, now: backfill.expire(now))
            if outcome is not None:
                ended.append(outcome)
                continue
            stored = self._store.load(terra_user_id)
            if stored is None or not stored.state.open or not stored.state.pending:
                continue
            state, now = stored.state, self._clock()
            stalled = max(state.wake, state.retry_at_ms or 0, state.lease_until_ms) + STALL_MS < now
            if stalled:
                self._scheduler.wake(terra_user_id, state.wake, 0)
        return ended

    def _schedule(self, terra_user_id: str, token: int, at_ms: int) -> int:
        """Send the wake-up for `at_ms` (or a nearer one, to look again then), then hand it the token."""
        for _ in range(MAX_CONFLICTS):
            now = self._clock()
            stored = self._require(terra_user_id)
            if stored.state.wake != token:
                return stored.state.wake  # another message holds the token now
            delay = min(max(at_ms - now, 0), MAX_WAKE_DELAY_MS)
            wake = max(now + delay, token + 1)
            # Sent first: a wake-up whose token is never saved finds the backfill with another and does nothing.
            self._scheduler.wake(terra_user_id, wake, delay)
            if self._store.save(replace(stored.state, wake=wake), stored.version):
                return wake
        raise BackfillBusy(terra_user_id)

    def _apply(
        self, terra_user_id: str, lease: str, request: DataRequest, answer: TerraAnswer
    ) -> BackfillCompleted | None:
        for _ in range(MAX_CONFLICTS):
            now = self._clock()
            stored = self._require(terra_user_id)
            state = stored.state
            if state.lease != lease or not state.pending or state.pending[0] != request:
                return None  # the lease expired and another holder took the step over
            state, outcome = _answered(state, request, answer, now)
            released = replace(state, lease=None, lease_until_ms=0)
            if self._store.save(released, stored.version, outcome.ended):
                return outcome.ended
        raise BackfillBusy(terra_user_id)

    def _change(self, terra_user_id: str, change: Callable[[Backfill, int], Outcome]) -> BackfillCompleted | None:
        for _ in range(MAX_CONFLICTS):
            stored = self._store.load(terra_user_id)
            if stored is None or not stored.state.open:
                return None
            outcome = change(stored.state.backfill, self._clock())
            if outcome.backfill == stored.state.backfill:
                return None  # nothing new (a redelivery, a repeated announcement)
            if self._store.save(replace(stored.state, backfill=outcome.backfill), stored.version, outcome.ended):
                return outcome.ended
        raise BackfillBusy(terra_user_id)

    def _require(self, terra_user_id: str) -> Stored:
        stored = self._store.load(terra_user_id)
        if stored is None:
            raise BackfillBusy(f"{terra_user_id}: the backfill is gone")
        return stored


def _answered(
    state: BackfillState, request: DataRequest, answer: TerraAnswer, now: int
) -> tuple[BackfillState, Outcome]:
    """The state after Terra's answer to the request at the head of `pending`."""
    backfill = state.backfill
    match answer:
        case Accepted(reference, large, allowance):
            outcome = backfill.answered(request, reference, large=large, now_ms=now)
            return _next(state, request, outcome, now, allowance), outcome
        case DataInline(body, allowance):
            digest = hashlib.sha256(body).hexdigest()
            reference = f"inline-{digest[:32]}"  # the answer is the request's one payload
            answered = backfill.answered(request, reference, large=False, now_ms=now)
            outcome = answered.backfill.chunk(reference, None, digest, now_ms=now)
            outcome = Outcome(outcome.backfill, answered.ended or outcome.ended)
            return _next(state, request, outcome, now, allowance), outcome
        case RateLimited("r1", _) | Refused(400 | None):
            return _failed(state, state.pending[:1], now)
        case Refused(_):
            return _failed(state, state.pending, now)  # Terra no longer knows the user: nothing left to ask for
        case RateLimited(_, retry_after_ms):
            wait = retry_after_ms if retry_after_ms is not None else _backoff(RATE_LIMITED_BACKOFF_MS, state.failures)
        case Unauthorized(_):
            wait = UNAUTHORIZED_WAIT_MS
        case Unavailable(retry_after_ms):
            wait = max(retry_after_ms or 0, _backoff(UNAVAILABLE_BACKOFF_MS, state.failures))
    return replace(state, retry_at_ms=now + wait, failures=state.failures + 1), Outcome(backfill)


def _failed(state: BackfillState, requests: tuple[DataRequest, ...], now: int) -> tuple[BackfillState, Outcome]:
    outcome = Outcome(state.backfill)
    for request in requests:
        failed = outcome.backfill.failed(request, now_ms=now)
        outcome = Outcome(failed.backfill, outcome.ended or failed.ended)
    made = state.made + len(requests)
    return replace(state, backfill=outcome.backfill, made=made, retry_at_ms=None, failures=0), outcome


def _next(
    state: BackfillState, request: DataRequest, outcome: Outcome, now: int, allowance: Allowance | None
) -> BackfillState:
    terra = state.terra
    if allowance is not None:
        # Observed now: this request's own days count against it again, which errs on the safe side.
        terra = TerraAllowance(allowance.remaining, now + allowance.reset_after_ms, now)
    return replace(
        state,
        backfill=outcome.backfill,
        made=state.made + 1,
        ledger=state.ledger.record(now, request.cost),
        terra=terra,
        retry_at_ms=None,
        failures=0,
    )


def _backoff(base_ms: int, failures: int) -> int:
    return min(MAX_BACKOFF_MS, base_ms << min(failures, 16))
