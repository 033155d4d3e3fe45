"""The API's models: requests read strictly, answers serialised to the schemas docs/openapi.json publishes."""

import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

from terra_connect.connections import models as connections
from terra_connect.providers import models as providers
from terra_connect.sdk import models as sdk
from terra_connect.widget_sessions import models as widget_sessions
from tests.support.builders import assert_matches_schema

AT = datetime(2026, 11, 24, 10, 30, tzinfo=UTC)


def errors_of(model: type[BaseModel], document: dict[str, Any]) -> list[tuple[list[str | int], str]]:
    try:
        model.model_validate(document)
    except ValidationError as refused:
        return [(list(error["loc"]), error["type"]) for error in refused.errors()]
    return []


@pytest.mark.parametrize(
    ("document", "errors"),
    [
        ({}, []),
        ({"providers": None, "language": None, "multi_auth": None}, []),
        ({"providers": ["garmin", "OURA"], "language": "pt-BR", "multi_auth": False}, []),
        ({"multi_auth": 1}, [(["multi_auth"], "bool_type")]),
        ({"multi_auth": "true"}, [(["multi_auth"], "bool_type")]),
        ({"language": 5}, [(["language"], "string_type")]),
        ({"language": "en\n"}, [(["language"], "string_pattern_mismatch")]),
        ({"providers": "GARMIN"}, [(["providers"], "list_type")]),
        ({"providers": []}, [(["providers"], "too_short")]),
        ({"providers": ["A1"] * 51}, [(["providers"], "too_long")]),
        (
            {"providers": ["GARMIN", "o.k", 7]},
            [(["providers", 1], "string_pattern_mismatch"), (["providers", 2], "string_type")],
        ),
        ({"success_redirect_url": ""}, [(["success_redirect_url"], "string_too_short")]),
        ({"success_redirect_url": "x" * 2049}, [(["success_redirect_url"], "string_too_long")]),
        (
            {"reference_id": "x", "extra": 1},
            [(["reference_id"], "extra_forbidden"), (["extra"], "extra_forbidden")],
        ),
    ],
)
def test_the_widget_request_is_read_strictly(document: dict[str, Any], errors: list[Any]) -> None:
    assert errors_of(widget_sessions.WidgetSessionRequest, document) == errors


def test_the_auth_url_request_takes_only_its_three_options() -> None:
    assert errors_of(connections.AuthUrlRequest, {"language": "fr", "success_redirect_url": "myapp://x"}) == []
    assert errors_of(connections.AuthUrlRequest, {"providers": ["GARMIN"]}) == [(["providers"], "extra_forbidden")]
    assert errors_of(connections.AuthUrlRequest, {"language": "EN"}) == [(["language"], "string_pattern_mismatch")]


def test_provider_codes_are_read_upper_case_each_once_in_order() -> None:
    request = widget_sessions.WidgetSessionRequest.model_validate(
        {"providers": ["oura", "GARMIN", "Oura"], "language": "fr"}
    )

    assert request.providers == ["OURA", "GARMIN"]
    assert request.language == "fr"


def test_every_model_is_built_at_import_so_no_request_builds_one() -> None:
    """The API function's init (full vCPU, in a SnapStart snapshot) builds them, not its first invocation."""
    models = [
        value
        for module in (widget_sessions, connections, sdk, providers)
        for value in vars(module).values()
        if isinstance(value, type) and issubclass(value, BaseModel) and value.__module__ == module.__name__
    ]

    assert len(models) == 9
    assert all(model.__pydantic_complete__ for model in models)


def test_answers_serialise_to_their_published_schemas_with_utc_as_z() -> None:
    view = connections.ConnectionView(
        terra_user_id="tu-1",
        provider="GARMIN",
        status="connected",
        scopes=["a"],
        active=None,
        connected_at=AT,
        updated_at=AT + timedelta(microseconds=5),
    )
    attempt = connections.AttemptView(status="error", provider="OURA", reason="cancelled", at=AT)
    listing = connections.ConnectionsResponse(connections=[view], last_attempt=attempt)
    session = widget_sessions.WidgetSessionResponse(
        url="https://w.example/s", session_id="s-1", expires_in=900, expires_at=AT
    )

    document = json.loads(listing.model_dump_json())
    assert document["connections"][0]["connected_at"] == "2026-11-24T10:30:00Z"
    assert document["connections"][0]["updated_at"] == "2026-11-24T10:30:00.000005Z"
    assert document["last_attempt"]["at"] == "2026-11-24T10:30:00Z"
    assert document["connections"][0]["active"] is None  # every field of a listing is there, null when empty
    assert_matches_schema(document, "ConnectionsResponse")
    sparse = json.loads(session.model_dump_json(exclude_none=True))
    assert "warnings" not in sparse
    assert_matches_schema(sparse, "WidgetSessionResponse")
    offset = datetime(2026, 11, 24, 12, 30, tzinfo=timezone(timedelta(hours=2)))
    assert json.loads(connections.AttemptView(status="success", at=offset).model_dump_json())["at"] == (
        "2026-11-24T12:30:00+02:00"
    )
