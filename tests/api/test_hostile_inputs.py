"""Every hostile request gets its defined 4xx problem+json, and neither Terra nor Secrets Manager is called."""

from collections.abc import Callable

import pytest
import responses

from tests.support.builders import ApiAnswer, AwsCalls
from tests.support.hostile_inputs import HOSTILE_INPUTS, HostileInput


def test_the_matrix_covers_at_least_40_cases_in_every_category() -> None:
    categories = {case.category for case in HOSTILE_INPUTS}

    assert len(HOSTILE_INPUTS) >= 40
    assert categories == {"identity", "json", "providers", "language", "redirect", "http", "connections", "mobile sdk"}


@pytest.mark.parametrize("case", HOSTILE_INPUTS, ids=[case.id for case in HOSTILE_INPUTS])
def test_hostile_input_is_refused_before_any_upstream_call(
    invoke: Callable[..., ApiAnswer], terra: responses.RequestsMock, aws_calls: AwsCalls, case: HostileInput
) -> None:
    answer = invoke(case.build())

    assert (answer.status, answer.code) == (case.status, case.code), answer.body
    assert answer.json["request_id"]
    assert answer.headers["Cache-Control"] == "no-store"
    assert len(terra.calls) == 0
    assert aws_calls.operations == []
