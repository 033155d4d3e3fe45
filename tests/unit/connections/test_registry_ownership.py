"""One owner per Terra user, whatever Terra's events say and in whatever order they come: the cases that used to
drift, each pinned down (tests/unit/connections/test_registry_convergence.py generates the rest)."""

from typing import Any

import pytest

from terra_connect.connections.vocabulary import TerraUser
from terra_connect.kernel.deadline import Deadline
from terra_connect.webhooks.processor import WebhookProcessor
from tests.support.memory_registry import InMemoryRegistryStore, registry_over

T = 1_795_000_000


def user(user_id: str, reference_id: str | None = "alice", provider: str = "GARMIN") -> dict[str, Any]:
    return {"user_id": user_id, "provider": provider, "reference_id": reference_id, "scopes": "activity:read"}


def auth(user_id: str, reference_id: str | None = "alice", provider: str = "GARMIN") -> dict[str, Any]:
    return {"type": "auth", "status": "success", "user": user(user_id, reference_id, provider), "message": "ok"}


def deauth(user_id: str, reference_id: str | None = None) -> dict[str, Any]:
    return {"type": "deauth", "user": user(user_id, reference_id), "status": "success", "message": "gone"}


def reauth(old: dict[str, Any] | None, new: dict[str, Any]) -> dict[str, Any]:
    return {"type": "user_reauth", "old_user": old, "new_user": new, "status": "warning", "message": "reauth"}


class Registry:
    def __init__(self) -> None:
        self.store = InMemoryRegistryStore()
        self.registry = registry_over(self.store)
        self.processor = WebhookProcessor(self.registry)

    def deliver(self, *events: tuple[int, dict[str, Any]]) -> None:
        for offset, event in events:
            self.processor.process(event, None, T + offset)

    def listed(self, reference_id: str) -> list[str]:
        return [c.terra_user_id for c in self.registry.connections(reference_id, Deadline.after(5))]

    def history(self, reference_id: str) -> dict[str, tuple[str, str]]:
        return {h.terra_user_id: (h.status.value, h.reason) for h in self.registry.history(reference_id)}


@pytest.fixture
def registry() -> Registry:
    return Registry()


def test_an_auth_naming_another_app_user_moves_the_terra_user_and_says_why(registry: Registry) -> None:
    registry.deliver((0, auth("tu-1", "alice")), (10, auth("tu-1", "bob")))

    assert registry.listed("alice") == []
    assert registry.listed("bob") == ["tu-1"]
    assert registry.history("alice") == {"tu-1": ("moved", "claimed_by_another_user")}
    assert registry.registry.owns_live("bob", "tu-1")
    assert not registry.registry.owns_live("alice", "tu-1")


def test_an_older_claim_delivered_late_does_not_move_it_back(registry: Registry) -> None:
    registry.deliver((10, auth("tu-1", "bob")), (0, auth("tu-1", "alice")))

    assert (registry.listed("alice"), registry.listed("bob")) == ([], ["tu-1"])


def test_user_reauth_without_old_user_replaces_the_owners_older_connection_of_that_provider(
    registry: Registry,
) -> None:
    registry.deliver(
        (0, auth("tu-old", "alice", "GARMIN")),
        (1, auth("tu-oura", "alice", "OURA")),
        (5, reauth(None, user("tu-new", "alice", "GARMIN"))),
    )

    assert registry.listed("alice") == ["tu-new", "tu-oura"]
    assert registry.history("alice") == {"tu-old": ("replaced", "user_reauth_unnamed")}


def test_an_unnamed_reauth_delivered_first_still_replaces_the_older_connection(registry: Registry) -> None:
    registry.deliver((5, reauth(None, user("tu-new"))), (0, auth("tu-old")))

    assert registry.listed("alice") == ["tu-new"]


def test_user_reauth_whose_old_user_belongs_to_another_app_user_ends_it_there(registry: Registry) -> None:
    registry.deliver((0, auth("tu-old", "alice")), (5, reauth(user("tu-old", None), user("tu-new", "bob"))))

    assert registry.listed("alice") == []
    assert registry.history("alice") == {"tu-old": ("replaced", "user_reauth")}
    assert registry.listed("bob") == ["tu-new"]


def test_a_deauth_without_reference_id_that_arrives_before_its_auth_is_not_lost(registry: Registry) -> None:
    registry.deliver((5, deauth("tu-1")), (0, auth("tu-1")))

    assert registry.listed("alice") == []
    assert registry.history("alice") == {"tu-1": ("disconnected", "deauth")}


def test_a_shuffled_reauth_chain_that_names_the_app_user_once_ends_on_its_last_link(registry: Registry) -> None:
    a, b, c = user("tu-a"), user("tu-b", None), user("tu-c", None)
    registry.deliver(
        (2, reauth({**b, "reference_id": None}, c)),
        (9, {"type": "connection_error", "user": c, "status": "warning", "message": "x"}),
        (1, reauth({**a, "reference_id": None}, b)),
        (0, auth("tu-a", "alice")),
    )

    assert registry.listed("alice") == ["tu-c"]
    assert registry.history("alice") == {"tu-a": ("replaced", "user_reauth"), "tu-b": ("replaced", "user_reauth")}
    assert registry.registry.connections("alice", Deadline.after(5))[0].status.value == "needs_reauth"


def test_a_terra_user_no_event_ties_to_an_app_user_is_nobodys(registry: Registry) -> None:
    registry.deliver((0, auth("tu-1", None)))

    assert registry.listed("alice") == []
    assert registry.store.stored["tu-1"].record.owner is None


@pytest.mark.parametrize(
    ("event", "provider"),
    [
        ({"type": "auth", "status": "error", "provider": "OURA", "reason": "denied", "reference_id": "alice"}, "OURA"),
        (
            {"type": "auth", "status": "error", "user": user("tu-x", "alice", "POLAR"), "reason": "denied"},
            "POLAR",
        ),
        ({"type": "auth_cancelled", "status": "error", "reason": "cancelled", "reference_id": "alice"}, None),
    ],
    ids=["2025-provider", "2025-user-provider", "2026-auth-cancelled"],
)
def test_a_failed_attempt_keeps_the_provider_its_shape_carries(
    registry: Registry, event: dict[str, Any], provider: str | None
) -> None:
    registry.deliver((0, event))

    attempt = registry.registry.last_attempt("alice")
    assert attempt is not None
    assert (attempt.status, attempt.provider, attempt.reason) == ("error", provider, event["reason"])
    assert registry.listed("alice") == []


def test_a_late_attempt_does_not_overwrite_a_newer_one(registry: Registry) -> None:
    cancelled = {"type": "auth_cancelled", "status": "error", "reason": "cancelled", "reference_id": "alice"}
    registry.deliver((10, auth("tu-1")), (0, cancelled))

    attempt = registry.registry.last_attempt("alice")
    assert attempt is not None
    assert attempt.status == "success"


def test_a_concurrent_write_is_read_again_not_lost(registry: Registry) -> None:
    registry.deliver((0, auth("tu-1")))

    def concurrent_deauth(store: InMemoryRegistryStore) -> None:
        WebhookProcessor(registry_over(store)).process(deauth("tu-1", "alice"), None, T + 3)

    registry.store.before_save = concurrent_deauth
    registry.deliver((2, {"type": "connection_error", "user": user("tu-1"), "status": "warning", "message": "x"}))

    assert registry.listed("alice") == []
    assert registry.history("alice") == {"tu-1": ("disconnected", "deauth")}


def test_terra_still_showing_a_connection_an_unnamed_reauth_was_taken_to_replace_brings_it_back(
    registry: Registry,
) -> None:
    registry.deliver(
        (0, auth("tu-first-account")),
        (1, auth("tu-second-account")),
        (5, reauth(None, user("tu-new"))),
    )
    assert registry.listed("alice") == ["tu-new"]

    still_there = TerraUser("tu-second-account", "GARMIN", "alice")
    registry.registry.observe([still_there], (T + 60) * 1000)

    assert registry.listed("alice") == ["tu-new", "tu-second-account"]
