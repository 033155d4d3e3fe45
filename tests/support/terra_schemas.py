"""Terra's event shapes - connection lifecycle and data - as JSON Schemas written from Terra's published facts (its
2026 JSON Schemas in tryterra/openapi `schemas/core/*Event.yaml`, `TerraUser.yaml` and the records they name, the
v2 spec's `webhooks:` section, and the docs for the older failed-`auth` and flat lab-report shapes). The
simulator's events and the tests' generated events are checked against these, so neither can drift into a Terra
of this project's own making.
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


# Data events: `{type, version, user, data: [record]}` (WebhookEvent adds `status`, string or null).
_NUMBER = {"type": "number"}
_NULLABLE_NUMBER = {"type": ["number", "null"]}
_UPLOAD_TYPE = {"enum": [0, 1, 2, 3, 4, 5, 6]}  # UploadType: unknown, automatic, manual, update, delete, ...


def _metadata(required: list[str], **properties: Any) -> dict[str, Any]:
    return {
        "type": "object",
        "required": required,
        "properties": {"start_time": {"type": "string"}, "end_time": {"type": "string"}, **properties},
    }


def _record(metadata: dict[str, Any], required: tuple[str, ...] = ("metadata",), **properties: Any) -> dict[str, Any]:
    return {"type": "object", "required": list(required), "properties": {"metadata": metadata, **properties}}


_DAY_METADATA = _metadata(["end_time", "start_time"])
RECORDS: dict[str, dict[str, Any]] = {
    "activity": _record(
        _metadata(
            ["end_time", "start_time", "summary_id", "type", "upload_type"],
            summary_id={"type": "string"},
            type=_NUMBER,
            upload_type=_UPLOAD_TYPE,
            name=_NULLABLE_STRING,
        )
    ),
    "sleep": _record(
        _metadata(
            ["end_time", "start_time", "upload_type"],
            summary_id=_NULLABLE_STRING,  # a string or null, not required
            is_nap={"type": ["boolean", "null"]},
            upload_type=_UPLOAD_TYPE,
        )
    ),
    "daily": _record(_metadata(["end_time", "start_time", "upload_type"], upload_type=_UPLOAD_TYPE)),
    "body": _record(_DAY_METADATA),
    "nutrition": _record(_DAY_METADATA),
    "menstruation": _record(_DAY_METADATA),
    "health_observation": _record(
        {
            "type": "object",
            "required": ["start_time", "summary_id"],
            "properties": {
                "start_time": {"type": "string"},
                "end_time": _NULLABLE_STRING,
                "summary_id": {"type": "string"},
            },
        },
        ("metadata", "observation_data"),
        observation_data={"type": "object", "properties": {"observation_type": {"type": "string"}}},
    ),
    "hormone": {
        "type": "object",
        "required": ["timestamp"],
        "properties": {
            "timestamp": {"type": "string"},
            **dict.fromkeys(("lh_mIU_per_ml", "e3g_ng_per_ml", "pdg_ug_per_ml", "hcg_mIU_per_ml"), _NULLABLE_NUMBER),
        },
    },
    "planned_workout": {
        "type": "object",
        "properties": {
            **dict.fromkeys(
                ("planned_workout_id", "workout_id", "planned_date", "provider_workout_id", "created_at"),
                _NULLABLE_STRING,
            ),
            "is_external": {"type": ["boolean", "null"]},
            "details": {
                "anyOf": [
                    {
                        "type": "object",
                        "properties": {
                            "metadata": {
                                "anyOf": [
                                    {
                                        "type": "object",
                                        "properties": {"id": _NULLABLE_STRING, "planned_date": _NULLABLE_STRING},
                                    },
                                    {"type": "null"},
                                ]
                            }
                        },
                    },
                    {"type": "null"},
                ]
            },
        },
    },
}
ATHLETE = {"type": "object", "properties": dict.fromkeys(("first_name", "last_name", "email"), _NULLABLE_STRING)}


def _data_event(event_type: str, required: str, **properties: Any) -> dict[str, Any]:
    shape = _event(
        event_type, None, [required, "user", "version"], version={"type": "string"}, user=TERRA_USER, **properties
    )
    shape["properties"]["status"] = _NULLABLE_STRING  # WebhookEvent's
    return shape


_LAB_REPORT_ENVELOPE = {
    "event_id": {"type": "string"},
    "occurred_at": {"type": "string"},
    "upload_id": {"type": "string"},
}
_SESSION = {"session_id": {"type": "string"}, "reference_id": {"type": "string"}}

DATA_SCHEMAS: dict[str, dict[str, Any]] = {
    **{name: _data_event(name, "data", data={"type": "array", "items": record}) for name, record in RECORDS.items()},
    "athlete": _data_event("athlete", "athlete", athlete=ATHLETE),
    "lab_report.completed": _event(
        "lab_report.completed",
        None,
        ["event_id", "occurred_at", "data"],
        **_LAB_REPORT_ENVELOPE,
        data={
            "type": "object",
            "required": ["session_id", "results_count", "results"],
            "properties": {
                **_SESSION,
                "report_date": {"type": "string"},
                "results_count": {"type": "integer"},
                "results": {"type": "array", "items": {"type": "object"}},
            },
        },
    ),
    "lab_report.failed": _event(
        "lab_report.failed",
        None,
        ["event_id", "occurred_at", "data"],
        **_LAB_REPORT_ENVELOPE,
        data={
            "type": "object",
            "required": ["session_id", "error"],
            "properties": {
                **_SESSION,
                "error": {
                    "type": "object",
                    "required": ["code", "message", "retriable"],
                    "properties": {
                        "code": {"type": "string"},
                        "message": {"type": "string"},
                        "retriable": {"type": "boolean"},
                    },
                },
            },
        },
    ),
    # The flat shape lab reports first shipped in: the session's fields at the top level.
    "lab_report (flat)": _event("lab_report", None, ["session_id"], **_SESSION, report_date={"type": "string"}),
}
CONTROL_SCHEMAS: dict[str, dict[str, Any]] = {
    "large_request_processing": _event(
        "large_request_processing",
        "processing",
        ["status", "message", "user", "reference"],
        message={"type": "string"},
        user=TERRA_USER,
        reference={"type": "string"},
    ),
    "large_request_sending": _event(
        "large_request_sending",
        None,
        ["user", "reference", "message", "expected_payloads"],
        message={"type": "string"},
        user=TERRA_USER,
        reference={"type": "string"},
        expected_payloads={"type": "integer"},
    ),
    # Terra's schema and examples name it s3_payload; its webhook list and EventType enum, s3_upload.
    **{
        name: _event(
            name, "success", ["status", "url", "expires_in"], url={"type": "string"}, expires_in={"type": "integer"}
        )
        for name in ("s3_payload", "s3_upload")
    },
}
SCHEMAS |= DATA_SCHEMAS | CONTROL_SCHEMAS

_VALIDATORS = {name: Draft202012Validator(schema) for name, schema in SCHEMAS.items()}
for _validator in _VALIDATORS.values():
    Draft202012Validator.check_schema(_validator.schema)


def shapes_matching(event: Any) -> list[str]:
    """The names of Terra's event shapes `event` satisfies (one, for any event Terra could send)."""
    return [name for name, validator in _VALIDATORS.items() if validator.is_valid(event)]
