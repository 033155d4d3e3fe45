"""make fuzz signs generated webhook bodies so they reach the parser: the signature must be the one the function
accepts, over the exact bytes sent, and only for cases whose headers were meant to be valid."""

import json
import time
from typing import Any

import pytest
import schemathesis
from hypothesis import given, settings
from schemathesis import GenerationMode
from schemathesis.core import NOT_SET
from schemathesis.core.parameters import ParameterLocation
from tooling.openapi import OPENAPI_FILE

from local import fuzz_hooks
from terra_connect.kernel.errors import InvalidSignature
from terra_connect.webhooks.signatures import verify_signature

SCHEMA = schemathesis.openapi.from_path(OPENAPI_FILE)
SECRET = "fuzz-secret"


@pytest.fixture(autouse=True)
def _secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(fuzz_hooks.SECRET_VARIABLE, SECRET)


def sent_body(case: schemathesis.Case[Any]) -> bytes:
    kwargs = case.as_transport_kwargs(base_url="http://127.0.0.1:1")
    return kwargs.get("data") or b""


def test_a_webhook_case_is_signed_over_the_bytes_that_go_out_and_gets_its_own_delivery_id() -> None:
    event: dict[str, Any] = {
        "type": "auth",
        "status": "success",
        "user": {"user_id": "u-1", "provider": "GARMIN"},
        "é": "\u2603",
    }
    cases = [SCHEMA["/v1/terra/webhooks"]["POST"].Case(body=dict(event), media_type="application/json") for _ in "ab"]

    for case in cases:
        fuzz_hooks.before_call(None, case, {})

    raw = sent_body(cases[0])
    assert json.loads(raw) == event
    verify_signature(cases[0].headers["terra-signature"], raw, SECRET, now=time.time())
    assert cases[0].headers["x-terra-trace-id"] != cases[1].headers["x-terra-trace-id"]
    with pytest.raises(InvalidSignature):
        verify_signature(cases[0].headers["terra-signature"], raw + b" ", SECRET, now=time.time())


def test_a_case_without_a_body_is_signed_over_nothing() -> None:
    case = SCHEMA["/v1/terra/webhooks"]["POST"].Case(body=NOT_SET)

    fuzz_hooks.before_call(None, case, {})

    verify_signature(case.headers["terra-signature"], b"", SECRET, now=time.time())


def test_other_routes_and_cases_generated_with_invalid_headers_are_left_alone() -> None:
    other = SCHEMA["/v1/connections"]["GET"].Case()
    fuzz_hooks.before_call(None, other, {})
    assert "terra-signature" not in (other.headers or {})

    negative = SCHEMA["/v1/terra/webhooks"]["POST"].as_strategy(generation_mode=GenerationMode.NEGATIVE)
    seen = 0

    @settings(max_examples=60, deadline=None, database=None)
    @given(negative)
    def check(case: schemathesis.Case[Any]) -> None:
        nonlocal seen
        if case.meta is not None and case.meta.is_negative_at(ParameterLocation.HEADER):
            before = dict(case.headers or {})
            fuzz_hooks.before_call(None, case, {})
            assert dict(case.headers or {}) == before
            seen += 1

    check()
    assert seen > 0
