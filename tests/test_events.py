"""Every file in events/ runs through the handler and gets the answer events/expected.json promises."""

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import responses
from offline.template import undeclared_variables

from tests.conftest import terra_session_answer
from tests.support import EVENTS, SESSION_URL, WIDGET_URL, ApiAnswer, load_event

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
    assert undeclared_variables(EVENTS / "env.json") == {}


def test_an_undeclared_variable_is_caught(tmp_path: Path) -> None:
    env_file = tmp_path / "env.json"
    env_file.write_text(json.dumps({"ApiFunction": {"TERRA_SECRET_ARN": "x", "TERRA_TYPO_URL": "y"}}))

    assert undeclared_variables(env_file) == {"ApiFunction": {"TERRA_TYPO_URL"}}
