"""Facts are ordered by Terra's own clock: the `x-terra-ordering-timestamp` header (unix milliseconds, stamped when
Terra emitted the event and kept across its retries) when a delivery carries one Terra could have sent, else the
signature's `t`. Two events signed in the same second end in the outcome of the later one, whatever order they
arrive in (docs/registry.md)."""

from typing import Any

import pytest

from terra_connect.kernel.deadline import Deadline
from terra_connect.webhooks.processor import WebhookProcessor
from tests.support.memory_registry import InMemoryRegistryStore, registry_over

T = 1_795_000_000


def user(user_id: str, reference_id: str | None = "alice", scopes: str = "activity:read") -> dict[str, Any]:
    return {"user_id": user_id, "provider": "GARMIN", "reference_id": reference_id, "scopes": scopes, "active": True}


def auth(user_id: str, reference_id: str = "alice", scopes: str = "activity:read") -> dict[str, Any]:
    return {"type": "auth", "status": "success", "user": user(user_id, reference_id, scopes), "message": "ok"}


def connection_error(user_id: str) -> dict[str, Any]:
    return {"type": "connection_error", "user": user(user_id), "status": "warning", "message": "expired"}


def permission_change(user_id: str, added: str) -> dict[str, Any]:
    event = {"type": "permission_change", "user": user(user_id), "status": "warning", "message": "m"}
    return {**event, "scopes_added": added, "scopes_removed": None}


def reauth(old: str, new: str) -> dict[str, Any]:
    return {"type": "user_reauth", "old_user": user(old), "new_user": user(new), "status": "warning", "message": "m"}


def cancelled() -> dict[str, Any]:
    return {"type": "auth_cancelled", "status": "error", "reason": "cancelled", "reference_id": "alice"}


class Registry:
    def __init__(self) -> None:
        self.store = InMemoryRegistryStore()
        self.registry = registry_over(self.store)
        self.processor = WebhookProcessor(self.registry)

    def deliver(self, event: dict[str, Any], signed_at: int, ordered_at: int | None = None) -> None:
        self.processor.process(event, None, signed_at, ordered_at)

    def seen(self) -> dict[str, Any]:
        """What the app users see: each one's connections (status, scopes) and latest attempt."""
        view: dict[str, Any] = {}
        for owner in ("alice", "bob"):
            for c in self.registry.connections(owner, Deadline.after(5)):
                view[c.terra_user_id] = (owner, c.status.value, c.scopes)
            attempt = self.registry.last_attempt(owner)
            view[f"{owner} attempt"] = attempt.status if attempt else None
        return view


SETUP: dict[str, list[dict[str, Any]]] = {
    "auth-then-connection-error": [],
    "connection-error-then-auth": [auth("tu-1")],
    "claimed-by-bob-then-by-alice": [],
    "claimed-by-alice-then-by-bob": [],
    "permission-change-then-full-scopes": [auth("tu-1")],
    "reauth-then-connection-error": [auth("tu-1")],
    "connection-error-then-reauth": [auth("tu-1"), auth("tu-2")],
    "cancelled-then-connected": [],
    "connected-then-cancelled": [],
}
# (earlier, later, what the app users end up seeing): the later event's outcome.
SAME_SECOND: dict[str, tuple[dict[str, Any], dict[str, Any], dict[str, Any]]] = {
    "auth-then-connection-error": (auth("tu-1"), connection_error("tu-1"), {"tu-1": ("alice", "needs_reauth")}),
    "connection-error-then-auth": (connection_error("tu-1"), auth("tu-1"), {"tu-1": ("alice", "connected")}),
    "claimed-by-bob-then-by-alice": (auth("tu-1", "bob"), auth("tu-1", "alice"), {"tu-1": ("alice", "connected")}),
    "claimed-by-alice-then-by-bob": (auth("tu-1", "alice"), auth("tu-1", "bob"), {"tu-1": ("bob", "connected")}),
    "permission-change-then-full-scopes": (
        permission_change("tu-1", "sleep:read"),
        auth("tu-1", scopes="body:read"),
        {"tu-1": ("alice", "connected", ("body:read",))},
    ),
    "reauth-then-connection-error": (
        reauth("tu-1", "tu-2"),
        connection_error("tu-2"),
        {"tu-2": ("alice", "needs_reauth")},
    ),
    "connection-error-then-reauth": (
        connection_error("tu-2"),
        reauth("tu-1", "tu-2"),
        {"tu-2": ("alice", "connected")},
    ),
    "cancelled-then-connected": (
        cancelled(),
        auth("tu-1"),
        {"tu-1": ("alice", "connected"), "alice attempt": "success"},
    ),
    "connected-then-cancelled": (auth("tu-1"), cancelled(), {"tu-1": ("alice", "connected"), "alice attempt": "error"}),
}


def matches(seen: dict[str, Any], expected: dict[str, Any]) -> bool:
    return all(
        seen.get(key, ())[: len(value)] == value if isinstance(value, tuple) else seen.get(key) == value
        for key, value in expected.items()
    )


@pytest.mark.parametrize("case", SAME_SECOND.keys())
@pytest.mark.parametrize("arrival", ["in order", "reversed"])
def test_two_events_signed_in_the_same_second_end_in_the_later_ones_outcome(case: str, arrival: str) -> None:
    earlier, later, expected = SAME_SECOND[case]
    registry = Registry()
    for index, event in enumerate(SETUP[case]):
        registry.deliver(event, T - 60 + index)
    deliveries = [(earlier, (T * 1000) + 120), (later, (T * 1000) + 870)]

    for event, ordered_at in deliveries if arrival == "in order" else reversed(deliveries):
        registry.deliver(event, T, ordered_at)

    seen = registry.seen()
    assert matches(seen, expected), seen


def test_a_retry_signed_again_later_keeps_its_place() -> None:
    """Terra keeps the ordering timestamp across retries: a connection_error retried after the auth that followed
    it is still older than that auth."""
    registry = Registry()
    registry.deliver(auth("tu-1"), T, T * 1000)
    registry.deliver(connection_error("tu-1"), T + 30, (T + 30) * 1000)  # Terra emitted it; our function failed
    registry.deliver(auth("tu-1"), T + 35, (T + 35) * 1000)  # the user reconnected
    registry.deliver(connection_error("tu-1"), T + 90, (T + 30) * 1000)  # Terra's retry, signed 60 s later

    assert registry.seen()["tu-1"] == ("alice", "connected", ("activity:read",))


def test_a_fact_without_the_header_ranks_at_the_start_of_its_signing_second() -> None:
    """Mixing: a delivery without the header is stamped with the signature's `t` in milliseconds, as if it had been
    emitted at the start of that second, so a same-second delivery that carries the header counts as later."""
    for first, second, status in [
        (auth("tu-1"), connection_error("tu-1"), "needs_reauth"),
        (connection_error("tu-1"), auth("tu-1"), "connected"),
    ]:
        for arrival in ("in order", "reversed"):
            registry = Registry()
            registry.deliver(auth("tu-1"), T - 60)
            deliveries = [(first, None), (second, T * 1000 + 1)]
            for event, ordered_at in deliveries if arrival == "in order" else reversed(deliveries):
                registry.deliver(event, T, ordered_at)

            assert registry.seen()["tu-1"][1] == status
