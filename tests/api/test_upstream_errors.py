"""Upstream failures reach the app as problem+json without Terra's words (the full table: support/fault_matrix.py)."""

from collections.abc import Callable

import responses

from tests.support.builders import WIDGET_URL, ApiAnswer, api_event


def test_an_upstream_failure_is_a_complete_problem_document(
    invoke: Callable[..., ApiAnswer], terra: responses.RequestsMock
) -> None:
    terra.post(WIDGET_URL, status=400, json={"status": "error", "message": "internal Terra detail"})

    answer = invoke(api_event())

    assert answer.headers["Content-Type"] == "application/problem+json"
    assert answer.headers["Cache-Control"] == "no-store"
    assert answer.json == {
        "type": "about:blank",
        "title": "Bad Gateway",
        "status": 502,
        "detail": "Terra rejected the request.",
        "code": "terra_rejected",
        "request_id": api_event()["requestContext"]["requestId"],
    }


def test_too_little_remaining_time_is_504_without_calling_terra(
    invoke: Callable[..., ApiAnswer], terra: responses.RequestsMock
) -> None:
    answer = invoke(api_event(), remaining_ms=600)

    assert (answer.status, answer.code) == (504, "terra_timeout")
    assert len(terra.calls) == 0
