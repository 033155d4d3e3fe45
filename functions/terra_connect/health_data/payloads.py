"""Reading one authentic delivery's body into what it asks of the store (models.ParsedPayload).

Every shape Terra publishes for data is read (its 2026 JSON Schemas `schemas/core/*Event.yaml`, the v2 spec's
`webhooks:` section, and the shapes its docs describe where those differ):

- data events `{type, version, user: TerraUser, data: [record, ...]}` for every type, types added later included;
  `athlete` carries one profile in `athlete` (schema) or in `data` (the webhook's description);
- lab reports: the spec's envelope `lab_report.completed` / `lab_report.failed` `{event_id, occurred_at, data:
  {session_id, reference_id, ...}}` and the flat `{type: "lab_report", session_id, reference_id, ...}` first
  shipped; no Terra user, the owner hint is `data.reference_id` (or the top-level one);
- `s3_payload` (schema, examples) and `s3_upload` (the webhook's name and EventType): a URL to fetch;
- `large_request_processing {reference}` and `large_request_sending {reference, expected_payloads}`.

Reading never raises: a body that is not JSON, or a value of the wrong kind where Terra's schema requires one,
gives `Unreadable` (the raw body is kept all the same); a single record its type's rules cannot key is counted in
`unkeyed` and the others are kept. A payload that names one record twice keeps the copy the store's own order would
(the larger digest), so storing the payload or its records one by one ends the same.
"""

import json
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from terra_connect.connections.vocabulary import TerraUser
from terra_connect.health_data.keys import (
    ATHLETE,
    KNOWN_DATA_TYPES,
    LAB_REPORT,
    NO_PROVIDER,
    RecordIdentity,
    base_reference,
    data_type_of,
    key_record,
    provider_code,
    terra_token,
)
from terra_connect.health_data.models import (
    DataPayload,
    LargeRequestProcessing,
    LargeRequestSending,
    Notice,
    ParsedPayload,
    PayloadPointer,
    Record,
    Unreadable,
    UnreadableReason,
)
from terra_connect.health_data.ordering import canonical_json, content_digest
from terra_connect.kernel.errors import RegistryRejected
from terra_connect.terra import users

POINTER_TYPES = frozenset({"s3_payload", "s3_upload"})
LARGE_REQUEST_PROCESSING = "large_request_processing"
LARGE_REQUEST_SENDING = "large_request_sending"
# Authentic events that carry no data: Terra's EventType enum and its lifecycle events (which the webhook handles
# itself; seen here only through another destination).
NOTICE_TYPES = frozenset(
    {
        "healthcheck",
        "processing",
        "rate_limit_hit",
        "google_no_datasource",
        "auth",
        "auth_cancelled",
        "deauth",
        "user_reauth",
        "access_revoked",
        "connection_error",
        "permission_change",
    }
)
DEFAULT_EXPIRES_IN = 300  # Terra's example; its docs say "roughly 10 minutes"
MAX_EXPIRES_IN = 7 * 24 * 3600  # the longest any S3 presigned URL lives
MAX_URL_LENGTH = 8192
MAX_EXPECTED_PAYLOADS = 1_000_000


def parse_payload(body: bytes | str, *, received_ms: int) -> ParsedPayload:
    """What the body Terra delivered asks for; `received_ms` dates the records whose own times name no day."""
    try:
        text = body.decode("utf-8") if isinstance(body, bytes) else body
        document = json.loads(text, parse_constant=_refuse_constant)
    except (ValueError, RecursionError):
        return Unreadable(UnreadableReason.NOT_JSON)
    return read_event(document, received_ms=received_ms)


def read_event(document: Any, *, received_ms: int) -> ParsedPayload:
    """The same, for a body already parsed as JSON."""
    if not isinstance(document, dict):
        return Unreadable(UnreadableReason.NOT_AN_OBJECT)
    event_type = document.get("type")
    if not isinstance(event_type, str) or not event_type:
        return Unreadable(UnreadableReason.NO_TYPE)
    reader = _CONTROL_READERS.get(event_type)
    if reader is not None:
        return reader(document, event_type)
    return _data_event(document, event_type, received_ms)


def _data_event(document: Mapping[str, Any], event_type: str, received_ms: int) -> ParsedPayload:
    data_type = data_type_of(event_type)
    if data_type is None:
        return Unreadable(UnreadableReason.BAD_TYPE)
    try:
        return _data(document, event_type, data_type, received_ms)
    except _BadShape:
        return Unreadable(UnreadableReason.BAD_SHAPE, event_type)
    except (ValueError, RecursionError):  # a record nested too deep to write out again
        return Unreadable(UnreadableReason.NOT_JSON, event_type)


class _BadShape(Exception):
    pass


def _data(document: Mapping[str, Any], event_type: str, data_type: str, received_ms: int) -> DataPayload:
    if data_type == LAB_REPORT:
        user, hint, provider = None, _lab_report_owner(document), NO_PROVIDER
    else:
        user = _terra_user(document.get("user"))
        hint = user.reference_id if user else None
        provider = provider_code(user.provider if user else None)
    kept: dict[RecordIdentity, Record] = {}
    unkeyed = 0
    for record in _records(document, data_type):
        if not isinstance(record, dict):
            unkeyed += 1
            continue
        content = canonical_json(record)
        digest = content_digest(content)
        keyed = key_record(data_type, record, digest=digest, received_ms=received_ms)
        if keyed is None:
            unkeyed += 1
            continue
        identity = RecordIdentity(data_type, provider, keyed.record_key)
        found = Record(identity, keyed.day, keyed.start_time, keyed.end_time, content, digest)
        if identity not in kept or kept[identity].digest < digest:
            kept[identity] = found
    return DataPayload(event_type, data_type, user, hint, tuple(kept.values()), unkeyed)


def _records(document: Mapping[str, Any], data_type: str) -> Iterator[Any]:
    data = document.get("data")
    if data_type == LAB_REPORT:
        # The whole envelope is the record: its type (completed or failed), event_id and occurred_at belong to it.
        yield document
    elif data_type == ATHLETE:
        profile = document.get("athlete")
        if not isinstance(profile, dict | list):
            profile = data
        if isinstance(profile, list):
            yield from profile
        elif isinstance(profile, dict):
            yield profile
        else:
            raise _BadShape
    elif isinstance(data, list):
        yield from data
    elif data_type in KNOWN_DATA_TYPES:
        raise _BadShape
    else:
        # A type added later, in a shape nobody published yet: the body is the record.
        yield document


def _pointer(document: Mapping[str, Any], event_type: str) -> ParsedPayload:
    url = document.get("url")
    if not isinstance(url, str) or not url or len(url) > MAX_URL_LENGTH:
        return Unreadable(UnreadableReason.BAD_SHAPE, event_type)
    expires_in = document.get("expires_in")
    if isinstance(expires_in, bool) or not isinstance(expires_in, int) or not 0 < expires_in <= MAX_EXPIRES_IN:
        expires_in = DEFAULT_EXPIRES_IN
    return PayloadPointer(event_type, url, expires_in, terra_token(document.get("payload_reference")))


def _large_request(document: Mapping[str, Any], event_type: str) -> ParsedPayload:
    reference = base_reference(document.get("reference"))
    user = _terra_user(document.get("user"))
    hint = user.reference_id if user else None
    if reference is None:
        return Unreadable(UnreadableReason.BAD_SHAPE, event_type)
    if event_type == LARGE_REQUEST_PROCESSING:
        return LargeRequestProcessing(reference, user, hint)
    expected = document.get("expected_payloads")
    if isinstance(expected, bool) or not isinstance(expected, int) or not 0 <= expected <= MAX_EXPECTED_PAYLOADS:
        return Unreadable(UnreadableReason.BAD_SHAPE, event_type)
    return LargeRequestSending(reference, expected, user, hint)


def _notice(document: Mapping[str, Any], event_type: str) -> ParsedPayload:
    user = _terra_user(document.get("user"))
    return Notice(event_type, user, user.reference_id if user else None)


_CONTROL_READERS: dict[str, Callable[[Mapping[str, Any], str], ParsedPayload]] = {
    **dict.fromkeys(POINTER_TYPES, _pointer),
    LARGE_REQUEST_PROCESSING: _large_request,
    LARGE_REQUEST_SENDING: _large_request,
    **dict.fromkeys(NOTICE_TYPES, _notice),
}


def _terra_user(document: Any) -> TerraUser | None:
    """The payload's TerraUser. A reference_id or provider beyond what the registry stores is read as absent
    rather than losing the data; a user_id beyond it leaves no usable user."""
    if not isinstance(document, dict):
        return None
    usable = dict(document)
    if _reference_id(usable.get("reference_id")) is None:
        usable["reference_id"] = None
    try:
        users.provider(usable.get("provider"))
    except RegistryRejected:
        usable["provider"] = None
    try:
        return users.terra_user(usable)
    except RegistryRejected:
        return None


def _lab_report_owner(document: Mapping[str, Any]) -> str | None:
    data = document.get("data")
    inner = _reference_id(data.get("reference_id")) if isinstance(data, dict) else None
    return inner or _reference_id(document.get("reference_id"))


def _reference_id(value: Any) -> str | None:
    try:
        return users.reference_id(value)
    except RegistryRejected:
        return None


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")
