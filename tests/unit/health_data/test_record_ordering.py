"""Copies of a record are ordered by (ordering timestamp, signature time, digest): whatever order they arrive in,
duplicates and replays included, the copy kept is the largest ever delivered - and each payload's write is counted
once."""

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from terra_connect.health_data.ordering import (
    Action,
    CopyOrder,
    Decision,
    DeliveryTime,
    canonical_json,
    content_digest,
    decide,
)
from terra_connect.webhooks.signatures import fact_time

SIGNED_AT = 1_782_900_000  # seconds

copies = st.builds(
    CopyOrder,
    st.integers(min_value=0, max_value=5),
    st.integers(min_value=0, max_value=3),
    st.sampled_from(["a" * 64, "b" * 64, "c" * 64]),
)
payload_ids = st.sampled_from(["p1", "p2", "p3"])


Stored = tuple[CopyOrder, str] | None


def apply(stored: Stored, copy: CopyOrder, payload_id: str) -> tuple[Stored, Decision]:
    """One record's write protocol, as the store runs it."""
    decision = decide(stored[0] if stored else None, stored[1] if stored else None, copy, payload_id)
    if decision.action is Action.WRITE:
        return (copy, payload_id), decision
    if decision.action is Action.RAISE_ORDER:
        assert stored is not None
        return (copy, stored[1]), decision
    return stored, decision


@settings(max_examples=500, deadline=None)
@given(delivered=st.lists(st.tuples(copies, payload_ids), min_size=1, max_size=12), data=st.data())
def test_any_order_of_copies_with_duplicates_keeps_the_largest(
    delivered: list[tuple[CopyOrder, str]], data: st.DataObject
) -> None:
    repeats = data.draw(st.lists(st.sampled_from(delivered), max_size=6), label="redelivered")
    arrival = data.draw(st.permutations(delivered + repeats), label="arrival order")

    stored: tuple[CopyOrder, str] | None = None
    for copy, payload_id in arrival:
        stored, _ = apply(stored, copy, payload_id)

    assert stored is not None
    assert stored[0] == max(copy for copy, _ in delivered)


def same_payload_same_content(delivered: list[tuple[CopyOrder, str]]) -> list[tuple[CopyOrder, str]]:
    """A payload is one body: all its copies of the record have one content (they differ only in when Terra
    signed a retry)."""
    digest = {payload_id: copy.digest for copy, payload_id in reversed(delivered)}
    return [
        (CopyOrder(copy.ordering_ms, copy.signed_ms, digest[payload_id]), payload_id) for copy, payload_id in delivered
    ]


@settings(max_examples=500, deadline=None)
@given(delivered=st.lists(st.tuples(copies, payload_ids), min_size=1, max_size=12), data=st.data())
def test_every_payload_whose_copy_was_written_counts_it_changed_on_every_attempt(
    delivered: list[tuple[CopyOrder, str]], data: st.DataObject
) -> None:
    deliveries = same_payload_same_content(delivered)
    arrival = data.draw(st.permutations(deliveries), label="arrival order")
    stored: Stored = None
    writers: set[str] = set()
    for copy, payload_id in arrival:
        stored, decision = apply(stored, copy, payload_id)
        if decision.action is Action.WRITE:
            writers.add(payload_id)
        # A payload counts the record changed exactly when its content is the one stored by its own write.
        assert decision.changed == (stored is not None and stored[1] == payload_id and payload_id in writers)
        if decision.changed:  # its retry, after a crash before its payload part, counts it again
            assert apply(stored, copy, payload_id)[1].changed

    assert stored is not None
    assert stored[0] == max(copy for copy, _ in deliveries)


def test_the_decisions_of_the_write_rule() -> None:
    old, new = CopyOrder(1, 1, "b" * 64), CopyOrder(2, 2, "a" * 64)
    same_content_later = CopyOrder(3, 3, "b" * 64)

    assert decide(None, None, new, "p2") == Decision(Action.WRITE, changed=True)
    assert decide(old, "p1", new, "p2") == Decision(Action.WRITE, changed=True)
    assert decide(new, "p2", old, "p1") == Decision(Action.SKIP, changed=False)
    assert decide(old, "p1", old, "p9") == Decision(Action.SKIP, changed=False)  # the same copy, another payload
    assert decide(old, "p1", same_content_later, "p3") == Decision(Action.RAISE_ORDER, changed=False)
    assert decide(old, "p1", old, "p1") == Decision(Action.SKIP, changed=True)  # an earlier attempt wrote it
    assert decide(old, "p1", same_content_later, "p1") == Decision(Action.RAISE_ORDER, changed=True)  # re-signed


def test_on_equal_times_the_digest_decides() -> None:
    assert CopyOrder(5, 5, "b" * 64) > CopyOrder(5, 5, "a" * 64)
    assert CopyOrder(5, 4, "f" * 64) < CopyOrder(5, 5, "0" * 64)
    assert CopyOrder(6, 0, "0" * 64) > CopyOrder(5, 9, "f" * 64)


@pytest.mark.parametrize(
    ("header", "ordering_ms"),
    [
        (None, SIGNED_AT * 1000),
        (str(SIGNED_AT * 1000 - 5_000), SIGNED_AT * 1000 - 5_000),  # emitted 5 s before it was signed
        (str(SIGNED_AT * 1000 + 5_000), SIGNED_AT * 1000),  # after its own signature: not believed
        ("1e12", SIGNED_AT * 1000),
    ],
)
def test_a_webhook_copy_is_dated_by_the_registrys_own_rule(header: str | None, ordering_ms: int) -> None:
    headers = {"X-Terra-Ordering-Timestamp": header} if header else {}

    time = DeliveryTime.of_webhook(headers, SIGNED_AT)

    assert time == DeliveryTime(ordering_ms, SIGNED_AT * 1000)
    assert time.ordering_ms == fact_time(headers, SIGNED_AT)


def test_a_newer_ordering_timestamp_outranks_a_later_signature() -> None:
    emitted_later = DeliveryTime.of_webhook({"x-terra-ordering-timestamp": str(SIGNED_AT * 1000 - 1_000)}, SIGNED_AT)
    retried_later = DeliveryTime.of_webhook(
        {"x-terra-ordering-timestamp": str(SIGNED_AT * 1000 - 60_000)}, SIGNED_AT + 90
    )

    assert CopyOrder.of(emitted_later, "0" * 64) > CopyOrder.of(retried_later, "f" * 64)
    assert DeliveryTime.of_queue_message(1_000) == DeliveryTime(1_000, 1_000)


def test_canonical_json_is_one_text_per_value() -> None:
    one = json.loads('{"b": [1, 2.5, "é"], "a": {"y": null, "x": true}}')
    other = json.loads('{ "a" : {"x": true, "y": null}, "b": [1, 2.5, "\\u00e9"] }')

    assert canonical_json(one) == canonical_json(other) == '{"a":{"x":true,"y":null},"b":[1,2.5,"\\u00e9"]}'
    assert content_digest(canonical_json(one)) == content_digest(canonical_json(other))
    assert canonical_json("\ud800") == '"\\ud800"'
    with pytest.raises(ValueError, match="JSON"):
        canonical_json(float("nan"))
