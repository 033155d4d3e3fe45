"""The request schemas and their validator, and the answers' dataclasses against their published schemas."""

import dataclasses
import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from terra_connect.api.problems import SCHEMAS as PROBLEM_SCHEMAS
from terra_connect.domain import models
from terra_connect.domain.contract import Document, check
from tests.support import ROOT, assert_matches_schema

# Each answer dataclass and the schema it is published under.
ANSWERS: list[tuple[type[Document], str]] = [
    (models.WidgetSessionResponse, "WidgetSessionResponse"),
    (models.AuthUrlResponse, "AuthUrlResponse"),
    (models.ConnectionView, "ConnectionView"),
    (models.AttemptView, "AttemptView"),
    (models.ConnectionsResponse, "ConnectionsResponse"),
    (models.SdkTokenResponse, "SdkTokenResponse"),
    (models.ProvidersResponse, "ProvidersResponse"),
]
AT = datetime(2026, 11, 24, 10, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    ("document", "errors"),
    [
        ({}, []),
        ({"providers": None, "language": None, "multi_auth": None}, []),
        ({"providers": ["garmin", "OURA"], "language": "pt-BR", "multi_auth": False}, []),
        ({"multi_auth": 1}, [(["body", "multi_auth"], "bool_type")]),
        ({"multi_auth": "true"}, [(["body", "multi_auth"], "bool_type")]),
        ({"language": 5}, [(["body", "language"], "string_type")]),
        ({"language": "en\n"}, [(["body", "language"], "string_pattern_mismatch")]),
        ({"providers": "GARMIN"}, [(["body", "providers"], "list_type")]),
        ({"providers": []}, [(["body", "providers"], "too_short")]),
        ({"providers": ["A"] * 51}, [(["body", "providers"], "too_long")]),
        (
            {"providers": ["GARMIN", "o.k", 7]},
            [(["body", "providers", 1], "string_pattern_mismatch"), (["body", "providers", 2], "string_type")],
        ),
        ({"success_redirect_url": ""}, [(["body", "success_redirect_url"], "string_too_short")]),
        ({"success_redirect_url": "x" * 2049}, [(["body", "success_redirect_url"], "string_too_long")]),
        (
            {"reference_id": "x", "extra": 1},
            [(["body", "reference_id"], "extra_forbidden"), (["body", "extra"], "extra_forbidden")],
        ),
    ],
)
def test_the_widget_request_schema_is_checked_strictly(document: dict[str, Any], errors: list[Any]) -> None:
    found = check(models.WIDGET_SESSION_REQUEST, document, ("body",))

    assert [(e["loc"], e["type"]) for e in found] == errors


def test_required_properties_integers_and_enums_are_checked() -> None:
    schema = {
        "type": "object",
        "required": ["n", "kind"],
        "properties": {"n": {"type": "integer"}, "kind": {"type": "string", "enum": ["a", "b"]}},
    }

    assert check(schema, {"n": True, "kind": "c"}) == [
        {"loc": ["n"], "type": "int_type"},
        {"loc": ["kind"], "type": "enum"},
    ]
    assert check(schema, {}) == [{"loc": ["n"], "type": "missing"}, {"loc": ["kind"], "type": "missing"}]
    assert check(schema, []) == [{"loc": [], "type": "dict_type"}]
    assert check({"type": "null"}, 0) == [{"loc": [], "type": "none_required"}]


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)
WIDGET_FIELDS = st.sampled_from([*sorted(models.WIDGET_SESSION_REQUEST["properties"]), "reference_id", "x"])


def _strict_end(schema: Any) -> Any:
    """The schema with each pattern's final `$` written `\\Z`: JSON Schema's end of string, in Python's re."""
    if isinstance(schema, dict):
        return {k: v[:-1] + "\\Z" if k == "pattern" and v.endswith("$") else _strict_end(v) for k, v in schema.items()}
    if isinstance(schema, list):
        return [_strict_end(item) for item in schema]
    return schema


@settings(max_examples=500, deadline=None)
@given(document=st.dictionaries(WIDGET_FIELDS, JSON_VALUES, max_size=5))
def test_the_validator_agrees_with_a_reference_implementation(document: dict[str, Any]) -> None:
    """Whatever the body, this validator and jsonschema's accept exactly the same ones."""
    for schema in (models.WIDGET_SESSION_REQUEST, models.AUTH_URL_REQUEST):
        reference = Draft202012Validator(_strict_end(schema))

        assert (not check(schema, document)) == reference.is_valid(document), document


def test_a_valid_widget_request_is_read_with_provider_codes_upper_case_each_once() -> None:
    request = models.WidgetSessionRequest.from_document({"providers": ["oura", "GARMIN", "Oura"], "language": "fr"})

    assert request.providers == ("OURA", "GARMIN")
    assert request.language == "fr"
    assert models.WidgetSessionRequest.from_document(None) == models.WidgetSessionRequest()


@pytest.mark.parametrize(("cls", "name"), ANSWERS, ids=[name for _, name in ANSWERS])
def test_every_answer_publishes_exactly_its_fields_in_order(cls: type[Document], name: str) -> None:
    schema = models.SCHEMAS[name]
    fields = [field.name for field in dataclasses.fields(cls)]  # type: ignore[arg-type]

    assert list(schema["properties"]) == fields
    assert set(schema.get("required", ())) <= set(fields)


def test_answers_serialise_to_their_published_schemas_with_utc_as_z() -> None:
    view = models.ConnectionView("tu-1", "GARMIN", "connected", ["a"], None, AT, AT + timedelta(microseconds=5))
    listing = models.ConnectionsResponse([view], models.AttemptView("error", "OURA", "cancelled", AT))
    session = models.WidgetSessionResponse("https://w.example/s", "s-1", 900, AT)

    document = json.loads(listing.to_json())
    assert document["connections"][0]["connected_at"] == "2026-11-24T10:30:00Z"
    assert document["connections"][0]["updated_at"] == "2026-11-24T10:30:00.000005Z"
    assert document["last_attempt"]["at"] == "2026-11-24T10:30:00Z"
    assert_matches_schema(document, "ConnectionsResponse")
    assert "warnings" not in json.loads(session.to_json(exclude_none=True))
    assert_matches_schema(json.loads(session.to_json(exclude_none=True)), "WidgetSessionResponse")
    offset = datetime(2026, 11, 24, 12, 30, tzinfo=timezone(timedelta(hours=2)))
    assert models.AttemptView("success", at=offset).as_dict()["at"] == "2026-11-24T12:30:00+02:00"


@pytest.mark.parametrize(
    ("cls", "schema"),
    [(models.WidgetSessionRequest, models.WIDGET_SESSION_REQUEST), (models.AuthUrlRequest, models.AUTH_URL_REQUEST)],
    ids=["WidgetSessionRequest", "AuthUrlRequest"],
)
def test_every_request_field_the_schema_accepts_is_read(cls: type, schema: dict[str, Any]) -> None:
    """from_document passes every accepted property on: one the dataclass lacked would fail the request."""
    assert [field.name for field in dataclasses.fields(cls)] == list(schema["properties"])


def test_the_published_document_holds_every_schema_the_code_declares() -> None:
    openapi = json.loads((ROOT / "docs" / "openapi.json").read_text())

    assert openapi["components"]["schemas"] == json.loads(json.dumps({**models.SCHEMAS, **PROBLEM_SCHEMAS}))
