"""Generated histories through the whole service, its state stored as JSON between every change:
- deliveries (duplicated, permuted, announced late, before Terra's answer) end a backfill exactly once, completed
  exactly when every distinct chunk of every accepted request arrived, else incomplete at the deadline;
- whatever the clock does and whichever messages arrive (late, early, twice, stale), every request is made once
  Terra accepts it, never before a 429 said, and no rolling hour holds more than 5,000 requested days."""

from dataclasses import dataclass, field

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from terra_connect.backfill.pacing import DAY_BUDGET_PER_HOUR, WINDOW_MS
from terra_connect.backfill.plan import DATED_TYPES, NewConnection
from terra_connect.backfill.ports import Accepted, ProviderSupport, RateLimited, Refused, TerraAnswer
from terra_connect.backfill.service import BackfillService, BackfillSettings, StepResult
from terra_connect.health_data.events import BackfillStatus, TypeStatus
from terra_connect.kernel.deadline import Deadline
from tests.support.memory_backfill import Clock, KeptInline, MemoryBackfillStore, RecordedWakes, ScriptedTerra

CONNECTION = NewConnection("alice", "tu-1", "GARMIN")
TIME = Deadline(60.0, clock=lambda: 0.0)
SHORT = Deadline(1.0, clock=lambda: 0.0)  # too little time to ask Terra anything


def service_for(
    terra: ScriptedTerra, store: MemoryBackfillStore, clock: Clock, days: int, wakes: RecordedWakes | None = None
) -> BackfillService:
    return BackfillService(
        terra=terra,
        store=store,
        scheduler=wakes or RecordedWakes(clock),
        inline=KeptInline(),
        settings=BackfillSettings(days, 24),
        clock=clock,
    )


@dataclass
class Deliveries:
    types: frozenset[str]
    scripts: dict[str, list[TerraAnswer]] = field(default_factory=dict)
    events: list[tuple[object, ...]] = field(default_factory=list)
    settled: dict[str, bool] = field(default_factory=dict)  # type → all its data arrived, or it was refused
    refused: set[str] = field(default_factory=set)


@st.composite
def deliveries(draw: st.DrawFn) -> Deliveries:
    history = Deliveries(frozenset(draw(st.sets(st.sampled_from(DATED_TYPES)))))
    in_reference = draw(st.booleans(), label="chunk id in terra-reference (else in the trace id)")
    for name in sorted(history.types | {"athlete"}):
        if draw(st.integers(0, 5), label="refused") == 0:
            history.scripts[name] = [Refused(400)]
            history.settled[name] = True
            history.refused.add(name)
            continue
        reference, large = f"ref-{name}", draw(st.booleans(), label="large")
        history.scripts[name] = [Accepted(reference, large=large)]
        expected = draw(st.integers(0, 3)) if large else 1
        announced = large and draw(st.booleans(), label="announced")
        if large:
            history.events += [("processing", reference)] * draw(st.integers(0, 1))
            history.events += [("sending", reference, expected)] * (draw(st.integers(1, 2)) if announced else 0)
        delivered = [chunk for chunk in range(expected) if draw(st.integers(0, 5), label="lost") > 0]
        for chunk in delivered:
            for attempt in range(draw(st.integers(1, 2), label="deliveries")):
                if in_reference:
                    history.events.append(("chunk", f"{reference}:chunk:{chunk}", f"t-{name}-{chunk}-{attempt}"))
                else:
                    history.events.append(("chunk", reference, f"{reference}:chunk:{chunk}"))
        history.settled[name] = len(delivered) == expected and (announced or not large)
    history.events.append(("step",))
    return history


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(history=deliveries(), data=st.data())
def test_a_backfill_ends_once_completed_exactly_when_every_distinct_chunk_arrived(
    history: Deliveries, data: st.DataObject
) -> None:
    clock, store = Clock(), MemoryBackfillStore()
    terra = ScriptedTerra(clock, ProviderSupport(sdk=False, types=history.types), dict(history.scripts))
    service = service_for(terra, store, clock, days=30)
    assert service.connected(CONNECTION, SHORT).result is StepResult.WAITING  # planned, nothing asked yet

    for event in data.draw(st.permutations(history.events), label="arrival order"):
        clock.now += 1
        kind, *args = event
        if kind == "step":
            assert service.step("tu-1", store.state("tu-1").wake, TIME).result is not StepResult.WAITING
        elif kind == "chunk":
            service.delivered("tu-1", str(args[0]), str(args[1]), "digest")
        elif kind == "processing":
            service.announced("tu-1", str(args[0]), None)
        else:
            service.announced("tu-1", str(args[0]), int(args[1]))  # type: ignore[call-overload]
    complete = all(history.settled.values())
    assert len(store.ended) == (1 if complete else 0)

    clock.now = store.state("tu-1").backfill.plan.deadline_ms
    swept = service.sweep()
    assert service.sweep() == []
    (ended,) = store.ended
    assert swept == ([] if complete else [ended])
    assert ended.status is (BackfillStatus.COMPLETED if complete and not history.refused else BackfillStatus.INCOMPLETE)
    for name, report in ended.types.items():
        if name not in history.types | {"athlete"}:
            assert report.status is TypeStatus.SKIPPED
        elif name in history.refused:
            assert report.status is TypeStatus.FAILED
        else:
            assert report.status is (TypeStatus.COMPLETED if history.settled[name] else TypeStatus.INCOMPLETE)


MESSAGES = ("latest", "latest", "latest", "stale", "connection", "sweep")


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    days=st.integers(1, 1825),
    types=st.sets(st.sampled_from(DATED_TYPES), min_size=1),
    limited=st.lists(st.sampled_from(DATED_TYPES), max_size=4),
    retry_after=st.lists(st.none() | st.integers(0, 7_200_000), min_size=1, max_size=4),
    history=st.lists(st.tuples(st.integers(0, 2_000_000), st.sampled_from(MESSAGES)), max_size=30),
)
def test_any_clock_and_any_messages_make_each_request_once_within_every_rolling_hour(
    days: int,
    types: set[str],
    limited: list[str],
    retry_after: list[int | None],
    history: list[tuple[int, str]],
) -> None:
    clock, store = Clock(), MemoryBackfillStore()
    scripts: dict[str, list[TerraAnswer]] = {}
    for number, name in enumerate(limited):
        scripts.setdefault(name, []).append(RateLimited("r2", retry_after[number % len(retry_after)]))
    terra = ScriptedTerra(clock, ProviderSupport(sdk=False, types=frozenset(types)), scripts)
    wakes = RecordedWakes(clock)
    service = service_for(terra, store, clock, days, wakes)
    service.connected(CONNECTION, TIME)

    def deliver(message: str) -> None:
        if message == "sweep":
            service.sweep()
        elif message == "connection":
            service.connected(CONNECTION, TIME)
        elif wakes.sent:
            token = wakes.sent[-1].token if message == "latest" else wakes.sent[0].token
            service.step("tu-1", token, TIME)

    for advance, message in history:
        clock.now += advance
        deliver(message)
    for _ in range(500):  # then the latest wake-up each time it is due, until every request is made
        if not store.state("tu-1").pending:
            break
        if wakes.sent:
            clock.now = max(clock.now, wakes.sent[-1].sent_ms + wakes.sent[-1].delay_ms)
        deliver("latest")
    assert not store.state("tu-1").pending

    asks = [(at, request, answer) for (at, _, request), answer in zip(terra.asked, terra.answers, strict=True)]
    accepted = [(at, request) for at, request, answer in asks if isinstance(answer, Accepted)]
    planned = store.state("tu-1").backfill.plan.requests
    assert sorted(request for _, request in accepted) == sorted(planned)
    for at, _ in accepted:
        assert sum(request.cost for t, request in accepted if at - WINDOW_MS < t <= at) <= DAY_BUDGET_PER_HOUR
    for number, (at, request, answer) in enumerate(asks):
        if isinstance(answer, RateLimited):  # asked again no sooner than Retry-After, or the backoff's minute
            wait = 60_000 if answer.retry_after_ms is None else answer.retry_after_ms
            again = next(later for later, same, _ in asks[number + 1 :] if same == request)
            assert again >= at + wait
