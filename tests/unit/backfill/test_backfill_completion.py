"""A backfill ends exactly once: completed when every request's data has arrived - each distinct chunk counted once,
wherever Terra puts the chunk's id, announcements early or late, chunks before Terra's answer - and otherwise
incomplete at its deadline, with each type's status."""

from dataclasses import dataclass, field

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from terra_connect.backfill.completion import Backfill, Outcome, chunk_id
from terra_connect.backfill.models import DataRequest
from terra_connect.backfill.plan import DATED_TYPES, BackfillPlan, NewConnection, plan_backfill
from terra_connect.health_data.events import BackfillStatus, TypeStatus

NOW_MS = 1_782_900_000_000
CONNECTION = NewConnection("alice", "tu-1", "GARMIN")


def new_plan(supported: set[str] | None = None) -> BackfillPlan:
    plan = plan_backfill(
        CONNECTION, backfill_days=30, timeout_hours=24, now_ms=NOW_MS, supported_types=supported, sdk_providers=()
    )
    assert plan is not None
    return plan


@dataclass
class History:
    plan: BackfillPlan
    events: list[tuple[object, ...]] = field(default_factory=list)
    settled: dict[DataRequest, bool] = field(default_factory=dict)  # request → its data all arrived (or it failed)
    failed: set[str] = field(default_factory=set)
    received: dict[str, int] = field(default_factory=dict)  # type → distinct chunks delivered

    @property
    def complete(self) -> bool:
        return all(self.settled.values())


@st.composite
def histories(draw: st.DrawFn) -> History:
    plan = new_plan(draw(st.sets(st.sampled_from(DATED_TYPES))))
    history = History(plan)
    chunk_in_reference = draw(st.booleans(), label="chunk id in terra-reference (else in the trace id)")
    for number, request in enumerate(plan.requests):
        name = request.data_type
        if draw(st.integers(0, 5), label="refused") == 0:
            history.events.append(("failed", request))
            history.settled[request] = True
            history.failed.add(name)
            continue
        reference = f"ref-{number}"
        large = draw(st.booleans(), label="large")
        announced = expected = 0
        history.events.append(("answered", request, reference, large))
        if large:
            expected = draw(st.integers(0, 4), label="expected")
            announced = int(draw(st.integers(0, 5), label="announced") > 0)
            history.events += [("processing", reference)] * draw(st.integers(0, 2))
            history.events += [("sending", reference, expected)] * (draw(st.integers(1, 2)) if announced else 0)
            chunks = range(expected)
        else:
            chunks = range(draw(st.integers(1, 3), label="batches"))  # Garmin may send a normal request in batches
        delivered = [c for c in chunks if draw(st.integers(0, 6), label="lost") > 0]
        for chunk in delivered:
            for attempt in range(draw(st.integers(1, 3), label="deliveries")):
                if chunk_in_reference:  # Terra's FAQ: `<reference>:chunk:<n>`; a fresh redelivery has a new trace id
                    history.events.append(("chunk", f"{reference}:chunk:{chunk}", f"trace-{number}-{chunk}-{attempt}"))
                else:  # agent guidance: the same terra-reference, trace ids `<id>:chunk:<n>` kept across retries
                    history.events.append(("chunk", reference, f"{reference}:chunk:{chunk}"))
        history.received[name] = history.received.get(name, 0) + len(delivered)
        history.settled[request] = bool(announced and len(delivered) == expected) if large else bool(delivered)
    history.events += [("chunk", "live-data-reference", f"live-{n}") for n in range(draw(st.integers(0, 2)))]
    return history


def play(backfill: Backfill, events: list[tuple[object, ...]], ended: list[Outcome]) -> Backfill:
    for event in events:
        kind, *args = event
        if kind == "answered":
            outcome = backfill.answered(args[0], args[1], large=args[2], now_ms=NOW_MS)  # type: ignore[arg-type]
        elif kind == "failed":
            outcome = backfill.failed(args[0], now_ms=NOW_MS)  # type: ignore[arg-type]
        elif kind == "processing":
            outcome = backfill.processing(args[0], now_ms=NOW_MS)  # type: ignore[arg-type]
        elif kind == "sending":
            outcome = backfill.sending(args[0], args[1], now_ms=NOW_MS)  # type: ignore[arg-type]
        else:
            outcome = backfill.chunk(args[0], args[1], "digest", now_ms=NOW_MS)  # type: ignore[arg-type]
        if outcome.ended is not None:
            ended.append(outcome)
        backfill = outcome.backfill
    return backfill


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(history=histories(), data=st.data())
def test_a_backfill_ends_once_completed_exactly_when_every_distinct_chunk_arrived(
    history: History, data: st.DataObject
) -> None:
    order = data.draw(st.permutations(history.events), label="arrival order")
    ended: list[Outcome] = []

    backfill = play(Backfill(history.plan), order, ended)
    expired = backfill.expire(history.plan.deadline_ms)

    if history.complete:
        assert len(ended) == 1
        assert expired.ended is None  # already reported
        status = BackfillStatus.INCOMPLETE if history.failed else BackfillStatus.COMPLETED
        report = ended[0].ended
    else:
        assert ended == []
        assert backfill.expire(history.plan.deadline_ms - 1).ended is None  # not before its deadline
        assert expired.ended is not None
        assert expired.backfill.expire(history.plan.deadline_ms + 1).ended is None  # and only once
        status, report = BackfillStatus.INCOMPLETE, expired.ended
    assert report is not None
    assert report.status is status
    for name, type_report in report.types.items():
        if name in history.plan.skipped:
            assert type_report.status is TypeStatus.SKIPPED
        elif name in history.failed:
            assert type_report.status is TypeStatus.FAILED
        else:
            done = all(history.settled[r] for r in history.plan.requests if r.data_type == name)
            assert type_report.status is (TypeStatus.COMPLETED if done else TypeStatus.INCOMPLETE)
            # Counted when it ended; batches of a normal request may still follow it (and are counted after).
            assert type_report.payloads_received <= history.received.get(name, 0)
            assert backfill.report()[name].payloads_received == history.received.get(name, 0)
    assert set(report.types) == {*history.plan.types, *history.plan.skipped}


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(history=histories(), data=st.data())
def test_the_progress_is_the_same_in_any_order(history: History, data: st.DataObject) -> None:
    one = play(Backfill(history.plan), data.draw(st.permutations(history.events)), [])
    other = play(Backfill(history.plan), data.draw(st.permutations(history.events)), [])

    assert one.report() == other.report()
    assert one.status == other.status


def test_a_chunk_is_named_by_the_headers_chunk_suffix_else_its_trace_id_else_its_content() -> None:
    assert chunk_id("ref-1:chunk:3", "trace-9", "d") == "r:ref-1:chunk:3"
    assert chunk_id("ref-1", "ref-1:chunk:3", "d") == "t:ref-1:chunk:3"
    assert chunk_id("ref-1", None, "d") == "b:d"
    assert chunk_id("ref-1", "no spaces allowed", "d") == "b:d"


def test_chunks_before_terras_answer_count_once_it_comes() -> None:
    plan = new_plan({"daily"})
    daily, athlete = plan.requests
    backfill = Backfill(plan)
    for reference, trace in (("r-d", "t-1"), ("r-a", "t-2")):
        early = backfill.chunk(reference, trace, "x", now_ms=1)
        assert early.ended is None
        backfill = early.backfill
    backfill = backfill.answered(daily, "r-d", large=False, now_ms=3).backfill

    ended = backfill.answered(athlete, "r-a", large=False, now_ms=4).ended

    assert ended is not None
    assert (ended.status, ended.time_ms) == (BackfillStatus.COMPLETED, 4)
    assert ended.types["daily"].reference == "r-d"


def test_a_requests_first_answer_stands_and_foreign_requests_are_ignored() -> None:
    plan = new_plan({"sleep"})
    sleep, athlete = plan.requests
    backfill = Backfill(plan).answered(sleep, "first", large=True, now_ms=1).backfill

    backfill = backfill.answered(sleep, "second", large=False, now_ms=2).backfill
    backfill = backfill.failed(sleep, now_ms=3).backfill
    backfill = backfill.answered(DataRequest("daily", None), "elsewhere", large=False, now_ms=4).backfill
    backfill = backfill.failed(athlete, now_ms=5).backfill
    backfill = backfill.sending("first", 0, now_ms=6).backfill

    assert backfill.answers == {sleep: "first", athlete: ""}
    assert backfill.status is BackfillStatus.INCOMPLETE  # every request settled, one refused
    assert backfill.report()["athlete"].status is TypeStatus.FAILED
    assert backfill.report()["sleep"].payloads_expected == 0


def test_announcements_and_chunks_without_a_usable_reference_change_nothing() -> None:
    backfill = Backfill(new_plan())

    for outcome in (
        backfill.chunk(None, "t", "d", now_ms=1),
        backfill.chunk("bad reference", "t", "d", now_ms=1),
        backfill.processing("", now_ms=1),
        backfill.sending(" ", 3, now_ms=1),
        backfill.answered(backfill.plan.requests[0], "", large=False, now_ms=1),
    ):
        assert outcome.backfill == backfill
        assert outcome.ended is None
