"""The API's JSON contract: request bodies checked against JSON Schema, answers serialised from dataclasses.

The schemas are the contract: the routes validate requests with them and the OpenAPI document publishes them
(offline/openapi.py), so the two cannot disagree. `check` implements the part of JSON Schema they use (`type`,
`properties`, `required`, `additionalProperties: false`, `pattern`, `minLength`/`maxLength`, `items`,
`minItems`/`maxItems`, `enum`, `anyOf` for nullable values), strictly: a number is not a boolean or a string, a
string is not a number. Errors name the location and the kind of each problem (pydantic's names for them, which
this API has always answered), never the value.
"""

import dataclasses
import json
import re
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from functools import cache
from typing import Any

Schema = Mapping[str, Any]
Location = tuple[str | int, ...]
ValidationErrors = list[dict[str, Any]]

_TYPE_ERRORS = {
    "object": "dict_type",
    "string": "string_type",
    "boolean": "bool_type",
    "integer": "int_type",
    "array": "list_type",
    "null": "none_required",
}


@cache
def _compiled(pattern: str) -> re.Pattern[str]:
    # JSON Schema's `$` ends the string; Python's also matches before a final newline, so it is made strict.
    if pattern.endswith("$") and not pattern.endswith("\\$"):
        pattern = pattern[:-1] + r"\Z"
    return re.compile(pattern)


def _has_type(value: Any, expected: str) -> bool:
    match expected:
        case "object":
            return isinstance(value, dict)
        case "string":
            return isinstance(value, str)
        case "boolean":
            return isinstance(value, bool)
        case "integer":
            return isinstance(value, int) and not isinstance(value, bool)
        case "array":
            return isinstance(value, list)
        case "null":
            return value is None
    raise ValueError(f"unsupported schema type {expected!r}")


def _error(loc: Location, kind: str) -> dict[str, Any]:
    return {"loc": list(loc), "type": kind}


def check(schema: Schema, value: Any, loc: Location = ()) -> ValidationErrors:
    """Every way `value` breaks `schema`, as `{"loc": [...], "type": "..."}`; empty when it is valid."""
    if "anyOf" in schema:
        return _check_any_of(schema["anyOf"], value, loc)
    expected = schema.get("type")
    if expected is not None and not _has_type(value, expected):
        return [_error(loc, _TYPE_ERRORS[expected])]
    if "enum" in schema and value not in schema["enum"]:
        return [_error(loc, "enum")]
    checker = _CHECKERS.get(type(value))
    return checker(schema, value, loc) if checker else []


def _check_any_of(branches: Sequence[Schema], value: Any, loc: Location) -> ValidationErrors:
    results = [check(branch, value, loc) for branch in branches]
    if any(not errors for errors in results):
        return []
    # Report against the branch that is not `null` (a nullable string given 5 is "string_type").
    typed = [errors for branch, errors in zip(branches, results, strict=True) if branch.get("type") != "null"]
    return typed[0] if typed else results[0]


def _check_string(schema: Schema, value: str, loc: Location) -> ValidationErrors:
    if len(value) < schema.get("minLength", 0):
        return [_error(loc, "string_too_short")]
    if "maxLength" in schema and len(value) > schema["maxLength"]:
        return [_error(loc, "string_too_long")]
    if "pattern" in schema and not _compiled(schema["pattern"]).search(value):
        return [_error(loc, "string_pattern_mismatch")]
    return []


def _check_array(schema: Schema, value: list[Any], loc: Location) -> ValidationErrors:
    if len(value) < schema.get("minItems", 0):
        return [_error(loc, "too_short")]
    if "maxItems" in schema and len(value) > schema["maxItems"]:
        return [_error(loc, "too_long")]
    items = schema.get("items")
    if items is None:
        return []
    return [error for index, item in enumerate(value) for error in check(items, item, (*loc, index))]


def _check_object(schema: Schema, value: dict[str, Any], loc: Location) -> ValidationErrors:
    properties: Mapping[str, Schema] = schema.get("properties", {})
    errors: ValidationErrors = []
    for name in schema.get("required", ()):
        if name not in value:
            errors.append(_error((*loc, name), "missing"))
    for name, item in value.items():
        if name in properties:
            errors.extend(check(properties[name], item, (*loc, name)))
        elif schema.get("additionalProperties", True) is False:
            errors.append(_error((*loc, name), "extra_forbidden"))
    return errors


_CHECKERS: dict[type, Callable[[Schema, Any, Location], ValidationErrors]] = {
    str: _check_string,
    list: _check_array,
    dict: _check_object,
}


def _json_value(value: Any) -> Any:
    if isinstance(value, datetime):
        # ISO-8601, UTC written as Z.
        text = value.isoformat()
        return text[:-6] + "Z" if text.endswith("+00:00") else text
    if isinstance(value, Document):
        return value.as_dict()
    if isinstance(value, list | tuple):
        return [_json_value(item) for item in value]
    return value


class Document:
    """A dataclass answered as JSON: its fields in declaration order, datetimes in ISO-8601."""

    def as_dict(self, *, exclude_none: bool = False) -> dict[str, Any]:
        fields = dataclasses.fields(self)  # type: ignore[arg-type]  # every Document is a dataclass
        document = {field.name: _json_value(getattr(self, field.name)) for field in fields}
        return {k: v for k, v in document.items() if v is not None} if exclude_none else document

    def to_json(self, *, exclude_none: bool = False) -> str:
        return json.dumps(self.as_dict(exclude_none=exclude_none), separators=(",", ":"))
