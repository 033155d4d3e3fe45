"""The claim check: an authentic body is archived as received, and a small pointer to it travels through the queue.

Terra waits about 8 s for an answer and a queue message holds at most 256 KiB, so the webhook stores the exact
bytes in the data bucket (`raw/dt=<UTC receipt date>/<delivery key[:40]>.json`, written once) and sends a pointer
of a few hundred bytes; it answers 2xx only after both. The delivery key is sha256(trace id, "\\n", sha256(body))
(keys.delivery_key): a redelivery - same trace id, same bytes - lands on the same key, so a retry after a crash
between the two calls archives nothing new and sends the same pointer again; a lab report reprocessed under its old
trace id with new content is another delivery.

The pointer (`Pointer.to_message`, compact JSON, version 1) carries what ordering and accounting need without
reading the body: the delivery's times (ordering, signature, receipt, in milliseconds), its trace id and
`terra-reference`, and the archived object's key, version, size and SHA-256. `read_pointer` reads it strictly:
only this service writes it, so anything else is a fault, never guessed at.
"""

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from terra_connect.health_data import layout
from terra_connect.health_data.keys import delivery_key, payload_id, terra_token
from terra_connect.health_data.models import ObjectVersion
from terra_connect.health_data.ordering import DeliveryTime

POINTER_VERSION = 1
FETCHED_PREFIX = f"{layout.RAW_PREFIX}fetched/"
TERRA_QUEUE_PREFIX = f"{layout.RAW_PREFIX}terra-sqs/"
MAX_TEXT = 1024  # S3 keys and version ids stay far below it
_HEX64 = re.compile(r"[0-9a-f]{64}")
_EVENT_TYPE = re.compile(r"[A-Za-z0-9_.:-]{1,64}")
MAX_MS = 10**15  # far beyond any date a delivery can carry


class Source(StrEnum):
    WEBHOOK = "webhook"  # a signed push to the webhook route
    TERRA_QUEUE = "terra-sqs"  # a message from Terra's SQS destination
    REQUEST = "request"  # data Terra answered a data request with, inline


class MalformedPointer(ValueError):
    """A queue message that is not a pointer this service wrote: retrying cannot make it one."""


@dataclass(frozen=True, slots=True)
class Pointer:
    source: Source
    bucket: str
    raw: ObjectVersion
    sha256: str  # hex digest of the archived bytes
    size: int
    event_type: str | None  # when the webhook could read it cheaply; a hint for routing and metrics only
    delivery_key: str  # 64 hex: what the consumer deduplicates on
    trace_id: str | None
    time: DeliveryTime
    terra_reference: str | None
    received_ms: int

    @property
    def payload_id(self) -> str:
        return payload_id(self.delivery_key)

    def to_message(self) -> str:
        return json.dumps(
            {
                "v": POINTER_VERSION,
                "source": self.source.value,
                "bucket": self.bucket,
                "key": self.raw.key,
                "version_id": self.raw.version_id,
                "sha256": self.sha256,
                "size": self.size,
                "type": self.event_type,
                "delivery_key": self.delivery_key,
                "trace_id": self.trace_id,
                "ordering_ms": self.time.ordering_ms,
                "signed_ms": self.time.signed_ms,
                "terra_reference": self.terra_reference,
                "received_ms": self.received_ms,
            },
            separators=(",", ":"),
        )


@dataclass(frozen=True, slots=True)
class Claim:
    """Where and how one delivered body is archived; `pointer` once it is."""

    key: str
    metadata: Mapping[str, str]  # S3 user metadata: ids and times, never health data
    delivery_key: str
    sha256: str
    size: int
    source: Source
    event_type: str | None
    trace_id: str | None
    time: DeliveryTime
    terra_reference: str | None
    received_ms: int

    def pointer(self, bucket: str, archived: ObjectVersion) -> Pointer:
        return Pointer(
            self.source,
            bucket,
            archived,
            self.sha256,
            self.size,
            self.event_type,
            self.delivery_key,
            self.trace_id,
            self.time,
            self.terra_reference,
            self.received_ms,
        )


def claim(
    body: bytes,
    *,
    trace_id: str | None,
    time: DeliveryTime,
    received_ms: int,
    terra_reference: str | None = None,
    event_type: str | None = None,
    source: Source = Source.WEBHOOK,
) -> Claim:
    """The claim for `body`: a trace id or reference that is not one of Terra's tokens is read as absent, so it can
    neither shape a key nor reach S3's metadata."""
    trace = terra_token(trace_id)
    reference = terra_token(terra_reference)
    key = delivery_key(trace, body)
    object_key = (
        f"{TERRA_QUEUE_PREFIX}{key}.json" if source is Source.TERRA_QUEUE else layout.raw_object_key(key, received_ms)
    )
    return Claim(
        key=object_key,
        metadata=_metadata(trace, reference, time, received_ms),
        delivery_key=key,
        sha256=hashlib.sha256(body).hexdigest(),
        size=len(body),
        source=source,
        event_type=event_type if event_type and _EVENT_TYPE.fullmatch(event_type) else None,
        trace_id=trace,
        time=time,
        terra_reference=reference,
        received_ms=received_ms,
    )


def fetched_key(pointer: Pointer) -> str:
    """Where the body behind an `s3_payload` pointer is archived: one per delivery of the pointer."""
    return f"{FETCHED_PREFIX}{pointer.delivery_key[:40]}.json"


def fetched_metadata(pointer: Pointer) -> dict[str, str]:
    """A fetched body's metadata: the delivery that pointed at it (its trace id, times and reference)."""
    return {
        **_metadata(pointer.trace_id, pointer.terra_reference, pointer.time, pointer.received_ms),
        "pointer-key": pointer.raw.key,
    }


def fetched(pointer: Pointer, archived: ObjectVersion, body: bytes) -> Pointer:
    """The pointer to a fetched body: the same delivery (trace id, times, reference and delivery key, so the same
    payload id), another object."""
    return Pointer(
        pointer.source,
        pointer.bucket,
        archived,
        hashlib.sha256(body).hexdigest(),
        len(body),
        None,
        pointer.delivery_key,
        pointer.trace_id,
        pointer.time,
        pointer.terra_reference,
        pointer.received_ms,
    )


def read_pointer(message: str) -> Pointer:
    """A pointer from a queue message's body; MalformedPointer for anything this service did not write."""
    try:
        document = json.loads(message)
    except ValueError:
        raise MalformedPointer("not JSON") from None
    if not isinstance(document, dict) or document.get("v") != POINTER_VERSION:
        raise MalformedPointer("not a pointer of this version")
    try:
        source = Source(str(document.get("source")))
    except ValueError:
        raise MalformedPointer("unknown source") from None
    key = _text(document, "key")
    if not key.startswith(layout.RAW_PREFIX):
        raise MalformedPointer("not an archived body")
    event_type = document.get("type")
    if event_type is not None and not (isinstance(event_type, str) and _EVENT_TYPE.fullmatch(event_type)):
        raise MalformedPointer("type")
    return Pointer(
        source=source,
        bucket=_text(document, "bucket"),
        raw=ObjectVersion(key, _text(document, "version_id")),
        sha256=_hex64(document, "sha256"),
        size=_whole(document, "size"),
        event_type=event_type,
        delivery_key=_hex64(document, "delivery_key"),
        trace_id=_token(document, "trace_id"),
        time=DeliveryTime(_whole(document, "ordering_ms"), _whole(document, "signed_ms")),
        terra_reference=_token(document, "terra_reference"),
        received_ms=_whole(document, "received_ms"),
    )


def _metadata(trace_id: str | None, reference: str | None, time: DeliveryTime, received_ms: int) -> dict[str, str]:
    metadata = {
        "ordering-ms": str(time.ordering_ms),
        "signed-ms": str(time.signed_ms),
        "received-ms": str(received_ms),
    }
    if trace_id is not None:
        metadata["trace-id"] = trace_id
    if reference is not None:
        metadata["terra-reference"] = reference
    return metadata


def _text(document: Mapping[str, Any], name: str) -> str:
    value = document.get(name)
    if not isinstance(value, str) or not value or len(value) > MAX_TEXT or not value.isprintable():
        raise MalformedPointer(name)
    return value


def _hex64(document: Mapping[str, Any], name: str) -> str:
    value = document.get(name)
    if not isinstance(value, str) or not _HEX64.fullmatch(value):
        raise MalformedPointer(name)
    return value


def _whole(document: Mapping[str, Any], name: str) -> int:
    value = document.get(name)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < MAX_MS:
        raise MalformedPointer(name)
    return value


def _token(document: Mapping[str, Any], name: str) -> str | None:
    value = document.get(name)
    if value is None:
        return None
    token = terra_token(value)
    if token is None:
        raise MalformedPointer(name)
    return token
