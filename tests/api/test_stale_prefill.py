"""A registry mistake never costs a user the widget: when Terra refuses pre-filled connected_uids, the request is
retried once without them, and the ids Terra named are marked gone."""

import json
from collections.abc import Callable
from typing import Any

import pytest
import responses

from terra_connect.kernel.deadline import Deadline
from tests.support.builders import (
    SUBJECT,
    WIDGET_URL,
    ApiAnswer,
    api_event,
    emitted_metrics,
    terra_session_answer,
    terra_user,
    webhook_event,
)

Deliver = Callable[[dict[str, Any]], ApiAnswer]
INVALID = {"status": "error", "message": "Some connected_uids are not live users"}


def connect(deliver: Deliver, user_id: str, reference_id: str = SUBJECT) -> None:
    event = {"type": "auth", "status": "success", "user": terra_user(user_id, reference_id=reference_id)}
    assert deliver(webhook_event(event)).status == 200


def sent_uids(terra: responses.RequestsMock) -> list[Any]:
    return [json.loads(call.request.body or b"{}").get("connected_uids") for call in terra.calls]


def test_ids_terra_refuses_are_dropped_marked_gone_and_the_user_gets_a_url(
    invoke: Callable[..., ApiAnswer],
    deliver: Deliver,
    terra: responses.RequestsMock,
    registry: Any,
    capsys: pytest.CaptureFixture[str],
) -> None:
    connect(deliver, "tu-1")
    connect(deliver, "tu-2")
    terra.post(WIDGET_URL, status=400, json={**INVALID, "invalid_user_ids": ["tu-2"]})
    terra.post(WIDGET_URL, status=201, json=terra_session_answer())

    answer = invoke(api_event())

    assert answer.status == 201
    assert sent_uids(terra) == [["tu-1", "tu-2"], ["tu-1"]]
    assert [c.terra_user_id for c in registry.connections(SUBJECT, Deadline.after(5))] == ["tu-1"]
    assert [(h.terra_user_id, h.reason) for h in registry.history(SUBJECT)] == [("tu-2", "gone_at_terra")]
    assert emitted_metrics(capsys.readouterr().out).get("StalePrefillsHealed") == 1

    invoke(api_event())
    assert sent_uids(terra)[-1] == ["tu-1"]


def test_a_400_that_names_no_ids_is_retried_without_the_prefill(
    invoke: Callable[..., ApiAnswer], deliver: Deliver, terra: responses.RequestsMock, registry: Any
) -> None:
    connect(deliver, "tu-1")
    terra.post(WIDGET_URL, status=400, json={"type": "about:blank", "title": "bad request", "detail": "bad uid"})
    terra.post(WIDGET_URL, status=201, json=terra_session_answer())

    assert invoke(api_event()).status == 201
    assert sent_uids(terra) == [["tu-1"], None]
    assert [c.terra_user_id for c in registry.connections(SUBJECT, Deadline.after(5))] == ["tu-1"]


def test_ids_the_prefill_did_not_send_are_never_marked(
    invoke: Callable[..., ApiAnswer], deliver: Deliver, terra: responses.RequestsMock, registry: Any
) -> None:
    connect(deliver, "tu-1")
    connect(deliver, "tu-other", reference_id="someone-else")
    terra.post(WIDGET_URL, status=400, json={**INVALID, "invalid_user_ids": ["tu-other"]})
    terra.post(WIDGET_URL, status=201, json=terra_session_answer())

    assert invoke(api_event()).status == 201
    assert sent_uids(terra) == [["tu-1"], None]
    assert [c.terra_user_id for c in registry.connections("someone-else", Deadline.after(5))] == ["tu-other"]


def test_it_is_retried_once_only(
    invoke: Callable[..., ApiAnswer], deliver: Deliver, terra: responses.RequestsMock
) -> None:
    connect(deliver, "tu-1")
    terra.post(WIDGET_URL, status=400, json={**INVALID, "invalid_user_ids": ["tu-1"]})

    answer = invoke(api_event())

    assert (answer.status, answer.code) == (502, "terra_rejected")
    assert len(terra.calls) == 2


def test_a_400_without_a_prefill_is_not_retried(
    invoke: Callable[..., ApiAnswer], terra: responses.RequestsMock
) -> None:
    terra.post(WIDGET_URL, status=400, json={"status": "error", "message": "invalid language"})

    answer = invoke(api_event())

    assert (answer.status, answer.code) == (502, "terra_rejected")
    assert len(terra.calls) == 1
