"""Whose data a payload is: the registry's owner first; the payload's reference_id only for a Terra user the
registry does not know yet, of a widget provider; an SDK provider's claim never; an erased owner's data refused."""

import json
from typing import Any

import pytest

from terra_connect.health_data import layout
from terra_connect.health_data.attribution import Attribution, Verdict, attribute
from terra_connect.health_data.models import DataPayload, Ownership
from terra_connect.health_data.payloads import parse_payload
from tests.support.memory_data_store import MemoryOwners

SIGNED = 1_780_000_000_000


def payload(provider: str = "GARMIN", reference_id: str | None = "claimed", user: bool = True) -> DataPayload:
    document: dict[str, Any] = {
        "type": "daily",
        "data": [{"metadata": {"start_time": "2026-07-01T00:00:00+02:00", "end_time": "2026-07-02T00:00:00+02:00"}}],
    }
    if user:
        document["user"] = {"user_id": "tu-1", "provider": provider, "reference_id": reference_id}
    parsed = parse_payload(json.dumps(document).encode(), received_ms=SIGNED)
    assert isinstance(parsed, DataPayload)
    return parsed


def lab_report(reference_id: str | None) -> DataPayload:
    document = {"type": "lab_report.completed", "event_id": "e", "data": {"session_id": "s-1"}}
    if reference_id:
        document["data"] = {"session_id": "s-1", "reference_id": reference_id}
    parsed = parse_payload(json.dumps(document).encode(), received_ms=SIGNED)
    assert isinstance(parsed, DataPayload)
    return parsed


def owners(ownership: Ownership | None = None, erased_at: dict[str, int] | None = None) -> MemoryOwners:
    return MemoryOwners({"tu-1": ownership} if ownership else {}, erased_at)


def test_the_registrys_owner_beats_the_payloads_reference_id() -> None:
    verdict = attribute(payload(), owners(Ownership("alice", known=True)), signed_ms=SIGNED, may_wait=True)

    assert verdict == Attribution(Verdict.OWNER, "alice", "tu-1")
    assert verdict.partition == layout.owner_partition("alice")


def test_data_ahead_of_its_auth_webhook_goes_to_the_reference_id_terras_widget_set() -> None:
    verdict = attribute(payload(), owners(), signed_ms=SIGNED, may_wait=True)

    assert verdict == Attribution(Verdict.OWNER, "claimed", "tu-1")


def test_a_payload_from_a_sender_not_known_to_be_terra_is_attributed_by_the_registry_only() -> None:
    # Terra's SQS destination admits Terra's role, which any Terra customer can ask to send: its reference_id is
    # anyone's claim.
    unknown = owners()
    assert attribute(payload(), unknown, signed_ms=SIGNED, may_wait=True, trust_hint=False).verdict is Verdict.WAIT
    assert attribute(payload(), unknown, signed_ms=SIGNED, may_wait=False, trust_hint=False) == Attribution(
        Verdict.UNATTRIBUTED, terra_user_id="tu-1"
    )
    assert attribute(lab_report("victim"), unknown, signed_ms=SIGNED, may_wait=True, trust_hint=False) == Attribution(
        Verdict.NOBODY
    )
    known = owners(Ownership("alice", known=True))
    assert attribute(payload(), known, signed_ms=SIGNED, may_wait=True, trust_hint=False) == Attribution(
        Verdict.OWNER, "alice", "tu-1"
    )


@pytest.mark.parametrize("provider", ["APPLE", "SAMSUNG", "GOOGLEFIT", "HEALTH_CONNECT"])
def test_an_sdk_providers_reference_id_is_never_taken_on_its_word(provider: str) -> None:
    directory = owners()

    assert attribute(payload(provider), directory, signed_ms=SIGNED, may_wait=True).verdict is Verdict.WAIT
    late = attribute(payload(provider), directory, signed_ms=SIGNED, may_wait=False)
    assert late == Attribution(Verdict.UNATTRIBUTED, None, "tu-1")
    assert late.partition == layout.unattributed_partition("tu-1")


def test_a_terra_user_the_registry_keeps_from_everyone_does_not_fall_back_to_the_payload() -> None:
    directory = owners(Ownership(None, known=True))

    assert attribute(payload(), directory, signed_ms=SIGNED, may_wait=True).verdict is Verdict.WAIT
    assert attribute(payload(), directory, signed_ms=SIGNED, may_wait=False).verdict is Verdict.UNATTRIBUTED


def test_no_owner_anywhere_waits_then_stays_with_the_terra_user() -> None:
    assert attribute(payload(reference_id=None), owners(), signed_ms=SIGNED, may_wait=True).verdict is Verdict.WAIT
    assert attribute(payload(reference_id=None), owners(), signed_ms=SIGNED, may_wait=False).partition == (
        layout.unattributed_partition("tu-1")
    )


def test_a_tombstoned_terra_users_data_is_refused() -> None:
    verdict = attribute(payload(), owners(Ownership(None, known=True, erased=True)), signed_ms=SIGNED, may_wait=True)

    assert verdict.verdict is Verdict.REFUSED
    assert verdict.partition is None


@pytest.mark.parametrize(
    ("erased_at", "verdict"), [(SIGNED, Verdict.REFUSED), (SIGNED + 1, Verdict.REFUSED), (SIGNED - 1, Verdict.OWNER)]
)
def test_data_signed_before_its_owners_erasure_began_is_refused(erased_at: int, verdict: Verdict) -> None:
    registry_owner = owners(Ownership("alice", known=True), {"alice": erased_at})
    payload_owner = owners(erased_at={"claimed": erased_at})

    assert attribute(payload(), registry_owner, signed_ms=SIGNED, may_wait=True).verdict is verdict
    assert attribute(payload(), payload_owner, signed_ms=SIGNED, may_wait=True).verdict is verdict


def test_a_lab_report_belongs_to_the_reference_id_it_names_or_to_no_one() -> None:
    assert attribute(lab_report("alice"), owners(), signed_ms=SIGNED, may_wait=True) == Attribution(
        Verdict.OWNER, "alice", None
    )
    nobody = attribute(lab_report(None), owners(), signed_ms=SIGNED, may_wait=True)
    assert nobody.verdict is Verdict.NOBODY
    assert nobody.partition is None


def test_a_change_of_owner_applies_to_data_processed_after_it() -> None:
    before = attribute(payload(), owners(Ownership("alice", known=True)), signed_ms=SIGNED, may_wait=True)
    after = attribute(payload(), owners(Ownership("bob", known=True)), signed_ms=SIGNED, may_wait=True)

    assert (before.owner, after.owner) == ("alice", "bob")
