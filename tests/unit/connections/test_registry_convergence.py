"""The registry converges: any delivery order of the same events, with duplicates and replays, ends in the same
state as the in-order sequence - and, where the events hold every fact it needs, in Terra's own truth."""

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support.terra_world import Delivery, Step, World, replay, steps

histories = st.lists(steps, min_size=6, max_size=30)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(history=histories, data=st.data())
def test_every_delivery_order_with_duplicates_ends_in_the_in_order_state(
    history: list[Step], data: st.DataObject
) -> None:
    deliveries = World(exact=False).play(history).deliveries
    shuffled = data.draw(st.permutations(deliveries), label="delivery order")
    # Terra redelivers: some with the same trace id (deduplicated), some as fresh deliveries of the same event, and
    # retries signed again later that keep their ordering timestamp (the same fact, however late).
    repeats = data.draw(st.lists(st.sampled_from(deliveries), max_size=4), label="redelivered") if deliveries else []
    replays = [Delivery(d.payload, d.sent_at, f"replay-{i}", d.ordered_at) for i, d in enumerate(repeats)]
    retries = [d.retried(90 * (i + 1), f"retry-{i}") for i, d in enumerate(repeats) if d.ordered_at is not None]

    in_order = replay(deliveries).snapshot()
    assert replay(shuffled + repeats + replays + retries).snapshot() == in_order
    assert replay(list(reversed(deliveries)), dedupe=False).snapshot() == in_order


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(history=histories, data=st.data())
def test_where_the_events_tell_everything_the_registry_lists_terras_truth(
    history: list[Step], data: st.DataObject
) -> None:
    world = World(exact=True).play(history)
    shuffled = data.draw(st.permutations(world.deliveries), label="delivery order")

    for store in (replay(world.deliveries), replay(shuffled)):
        snapshot = store.snapshot()
        listed = {
            owner: sorted((c.terra_user_id, c.provider, c.status.value, c.scopes) for c in connections)
            for owner, connections in snapshot["listed"].items()  # type: ignore[attr-defined]
            if connections
        }
        assert listed == world.truth()
