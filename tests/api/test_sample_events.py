"""Every file in events/ runs through its function's handler and gets the answer events/expected.json promises."""

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import responses
from local.expectations import Expectation, event_files, load_expectations
from tooling.template import undeclared_variables

from tests.support.builders import EVENTS, SIGNING_SECRET, WIDGET_URL, ApiAnswer, terra_session_answer

EXPECTATIONS = load_expectations()


def test_every_event_file_has_an_expectation() -> None:
    assert event_files() == {e.event for e in EXPECTATIONS}


@pytest.mark.parametrize("expectation", EXPECTATIONS, ids=[e.event for e in EXPECTATIONS])
def test_event_gets_its_expected_answer(
    invoke: Callable[..., ApiAnswer],
    deliver: Callable[[dict[str, Any]], ApiAnswer],
    reconcile: Callable[..., dict[str, Any]],
    publish: Callable[[dict[str, Any]], dict[str, Any]],
    terra: responses.RequestsMock,
    expectation: Expectation,
) -> None:
    terra.post(WIDGET_URL, status=201, json=terra_session_answer())
    terra.post(
        "https://api.tryterra.co/v2/auth/authenticateUser",
        json={"status": "success", "user_id": "u-1", "auth_url": "https://connect.garmin.com/oauth?x=1"},
    )
    terra.get("https://api.tryterra.co/v2/userInfo", json=[])
    terra.post(
        "https://api.tryterra.co/v2/auth/generateAuthToken", json={"status": "success", "token": "t", "expires_in": 180}
    )
    terra.get("https://api.tryterra.co/v2/subscriptions", json={"data": {"next": None, "max_page": 0, "results": []}})
    if expectation.function == "ReconcileFunction":
        result = reconcile(expectation.load(SIGNING_SECRET))
    elif expectation.function == "EventsFunction":
        result = publish(expectation.load(SIGNING_SECRET))
    else:
        run = deliver if expectation.function == "WebhookFunction" else invoke
        answer = run(expectation.load(SIGNING_SECRET))
        result = {"statusCode": answer.status, "body": answer.body}

    assert expectation.check(result, "https://") is None, result


def test_env_json_only_sets_variables_the_template_declares() -> None:
    assert undeclared_variables(EVENTS / "env.json") == {}


def test_an_undeclared_variable_is_caught(tmp_path: Path) -> None:
    env_file = tmp_path / "env.json"
    env_file.write_text(json.dumps({"ApiFunction": {"TERRA_SECRET_ARN": "x", "TERRA_TYPO_URL": "y"}}))

    assert undeclared_variables(env_file) == {"ApiFunction": {"TERRA_TYPO_URL"}}
