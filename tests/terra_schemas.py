"""Terra's connection-lifecycle event shapes, as JSON Schemas written from Terra's published facts (its 2026
JSON Schemas in tryterra/openapi `schemas/core/*Event.yaml` and `TerraUser.yaml`, and the 2025 docs for the older
failed-`auth` shape). The simulator's events and the tests' generated events are checked against these, so
neither can drift into a Terra of this project's own making.
"""

from typing import Any

from jsonschema import Draft202012Validator

_NULLABLE_STRING = {"type": ["string", "null"]}

TERRA_USER: dict[str, Any] = {
    "type": "object",
    "required": ["user_id", "provider"],
    "properties": {
        "user_id": {"type": "string", "minLength": 1},
        "provider": {"type": "string", "minLength": 1},
        "created_at": _NULLABLE_STRING,
        "last_webhook_update": _NULLABLE_STRING,
        "scopes": _NULLABLE_STRING,  # comma-separated: "activity:read,sleep:read"
        "reference_id": _NULLABLE_STRING,
        "active": {"type": ["boolean", "null"]},
    },
}


def _event(event_type: str, status: str | None, required: list[str], **properties: Any) -> dict[str, Any]:
    shape: dict[str, Any] = {
        "type": "object",
        "required": ["type", *required],
        "properties": {"type": {"const": event_type}, **properties},
    }
    if status is not None:
        shape["properties"]["status"] = {"const": status}
    return shape


_WARNING_WITH_USER = {"user": TERRA_USER, "message": {"type": "string"}}

SCHEMAS: dict[str, dict[str, Any]] = {
    "auth (success)": _event(
        "auth",
        "success",
        ["status", "user"],
        user=TERRA_USER,
        message=_NULLABLE_STRING,
        flow_id=_NULLABLE_STRING,
        widget_session_id=_NULLABLE_STRING,
    ),
    "auth (error, 2025)": _event(
        "auth",
        "error",
        ["status", "reason", "reference_id"],
        user=TERRA_USER,
        provider={"type": "string"},
        reason=_NULLABLE_STRING,
        reference_id=_NULLABLE_STRING,
    ),
    "auth_cancelled": _event(
        "auth_cancelled",
        "error",
        ["status"],
        flow_id=_NULLABLE_STRING,
        reason=_NULLABLE_STRING,
        reference_id=_NULLABLE_STRING,
    ),
    "deauth": _event("deauth", "success", ["user", "status", "message"], **_WARNING_WITH_USER),
    "access_revoked": _event("access_revoked", "warning", ["user", "status", "message"], **_WARNING_WITH_USER),
    "connection_error": _event("connection_error", "warning", ["user", "status", "message"], **_WARNING_WITH_USER),
    "permission_change": _event(
        "permission_change",
        "warning",
        ["user", "status", "message", "version", "scopes_added", "scopes_removed"],
        **_WARNING_WITH_USER,
        version={"type": "string"},
        scopes_added={"type": "string"},
        scopes_removed={"type": "string"},
    ),
    "user_reauth": _event(
        "user_reauth",
        "warning",
        ["new_user", "status", "message"],
        new_user=TERRA_USER,
        old_user={"anyOf": [TERRA_USER, {"type": "null"}]},  # "when available"
        message={"type": "string"},
        version={"type": "string"},
    ),
}

_VALIDATORS = {name: Draft202012Validator(schema) for name, schema in SCHEMAS.items()}
for _validator in _VALIDATORS.values():
    Draft202012Validator.check_schema(_validator.schema)


def shapes_matching(event: Any) -> list[str]:
    """The names of Terra's event shapes `event` satisfies (one, for any event Terra could send)."""
    return [name for name, validator in _VALIDATORS.items() if validator.is_valid(event)]
