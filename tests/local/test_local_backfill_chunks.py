"""A backfill over more than a month in local mode: Terra's large requests announced, sent in chunks sharing one
reference, counted until every expected chunk has arrived (its own stack: BackfillDays 33)."""

from collections.abc import Iterator

import pytest
from local.dev import DevStack, dev_stack

from tests.local.test_local_data import announced, stored_items, wait_for
from tests.support.terra_schemas import shapes_matching


@pytest.fixture(scope="module")
def stack() -> Iterator[DevStack]:
    with dev_stack(0, quiet=True, parameters={"BackfillDays": "33"}) as running:
        yield running


def test_a_chunked_backfill_completes_once_everyannounced_chunk_is_stored(stack: DevStack) -> None:
    assert stack.terra is not None
    owner = stack.identity.subject("tess")
    user = stack.terra.connect("OURA", owner)

    def ended() -> list[dict[str, object]]:
        return [d for t, d in announced(stack, owner) if t == "Wearable Backfill Completed"]

    assert wait_for(stack, lambda: bool(ended()), timeout=60)
    assert [d["status"] for d in ended()] == ["completed"]
    sent = [e for e in stack.terra.sent_events if e.get("user", {}).get("user_id") == user.user_id]
    sending = [e for e in sent if e["type"] == "large_request_sending"]
    assert len(sending) == 6  # one per dated type
    assert all(e["expected_payloads"] == 2 for e in sending)
    assert all(shapes_matching(e) == [e["type"]] for e in sent if e["type"].startswith("large_request"))
    days = {item["day"]["S"] for item in stored_items(stack, owner) if item["sk"]["S"].startswith("r#daily#")}
    sent_days = {r["metadata"]["start_time"][:10] for e in sent if e["type"] == "daily" for r in e["data"]}
    assert days == sent_days
    assert len(days) > 31
