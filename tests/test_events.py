"""Every file in events/ runs through the handler and gets the answer events/expected.json promises."""

import json
from collections.abc import Callable
from typing import Any

import pytest
import responses

from tests.conftest import terra_session_answer
from tests.support import EVENTS, SESSION_URL, WIDGET_URL, ApiAnswer, load_event
from tests.template import function_environment

MANIFEST: dict[str, dict[str, Any]] = json.loads((EVENTS / "expected.json").read_text())["events"]
NOT_EVENTS = {"env.json", "expected.json"}


def test_every_event_file_has_an_expectation() -> None:
    files = {path.name for path in EVENTS.glob("*.json")} - NOT_EVENTS

    assert files == set(MANIFEST)


@pytest.mark.parametrize("name", sorted(n for n, e in MANIFEST.items() if e["function"] == "ApiFunction"))
def test_event_gets_its_expected_answer(
    invoke: Callable[..., ApiAnswer], terra: responses.RequestsMock, name: str
) -> None:
    terra.post(WIDGET_URL, status=201, json=terra_session_answer())
    expected = MANIFEST[name]

    answer = invoke(load_event(name))

    assert answer.status == expected["status"], answer.body
    if answer.status == 201:
        assert answer.json["url"] == SESSION_URL
        assert len(terra.calls) == 1
    else:
        assert answer.code == expected["code"]
        assert len(terra.calls) == 0


def test_env_json_only_sets_variables_the_template_declares() -> None:
    env_file: dict[str, dict[str, str]] = json.loads((EVENTS / "env.json").read_text())

    for function, variables in env_file.items():
        undeclared = set(variables) - function_environment(function)
        assert not undeclared, f"{function}: sam local invoke would silently drop {sorted(undeclared)}"
