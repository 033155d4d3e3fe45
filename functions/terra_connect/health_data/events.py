"""The data events on the stack's bus: what was stored and where, and how a backfill ended - never any record.

EventBridge takes events up to 256 KB and every subscriber may forward them anywhere, so a detail names the
stored payload (bucket, key, version, and the `payload_id` that `GET /v1/data/{type}` accepts) and what it
covers, never the health data itself. Each detail's `id` is stable for the write it announces: subscribers
deduplicate on it.
"""

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from terra_connect.lifecycle_events.events import SCHEMA_VERSION, event_id

DATA_RECEIVED = "Wearable Data Received"
BACKFILL_COMPLETED = "Wearable Backfill Completed"


@dataclass(frozen=True, slots=True)
class DataReceived:
    """One stored payload that changed at least one record."""

    payload_id: str  # 32 hex; also the detail's id
    reference_id: str | None  # the app user; None while the data waits for an owner under its Terra user
    terra_user_id: str | None  # None for lab reports
    provider: str | None
    data_type: str
    start_date: str  # the days the records are listed under, first and last (YYYY-MM-DD)
    end_date: str
    start_time: str | None  # the earliest and latest times Terra wrote in the records
    end_time: str | None
    records: int  # records in the payload
    records_changed: int  # of which stored as new or newer copies
    bucket: str  # where the payload Terra sent is kept
    key: str
    version_id: str
    terra_reference: str | None  # the data request it answers, when Terra named one
    backfill: bool  # part of the backfill of a new connection
    time_ms: int  # when it was stored

    @property
    def detail_type(self) -> str:
        return DATA_RECEIVED

    def to_detail(self) -> dict[str, Any]:
        return {
            "version": SCHEMA_VERSION,
            "id": self.payload_id,
            "reference_id": self.reference_id,
            "terra_user_id": self.terra_user_id,
            "provider": self.provider,
            "type": self.data_type,
            "start_date": self.start_date,
            "end_date": self.end_date,
            "start_time": self.start_time,
            "end_time": self.end_time,
            "records": self.records,
            "records_changed": self.records_changed,
            "bucket": self.bucket,
            "key": self.key,
            "version_id": self.version_id,
            "payload_id": self.payload_id,
            "terra_reference": self.terra_reference,
            "backfill": self.backfill,
            "time": _iso(self.time_ms),
        }


class BackfillStatus(StrEnum):
    COMPLETED = "completed"  # every requested type's data arrived
    INCOMPLETE = "incomplete"  # the deadline passed first, or a type's request failed


class TypeStatus(StrEnum):
    COMPLETED = "completed"  # Terra sent every payload it announced for the type
    INCOMPLETE = "incomplete"  # requested, not all of it arrived (or not yet requested) by the deadline
    FAILED = "failed"  # Terra refused the request for good
    SKIPPED = "skipped"  # not requested: the provider does not offer the type


@dataclass(frozen=True, slots=True)
class TypeReport:
    status: TypeStatus
    reference: str | None  # Terra's reference of the request (the first, when the range took several)
    payloads_expected: int | None  # announced by large_request_sending; None for a single payload
    payloads_received: int

    def to_detail(self) -> dict[str, Any]:
        return {
            "status": self.status.value,
            "reference": self.reference,
            "payloads_expected": self.payloads_expected,
            "payloads_received": self.payloads_received,
        }


@dataclass(frozen=True, slots=True)
class BackfillCompleted:
    """How the backfill of a new connection ended (once per backfill)."""

    reference_id: str
    terra_user_id: str
    provider: str
    status: BackfillStatus
    start_date: str
    end_date: str
    types: Mapping[str, TypeReport] = field(hash=False)
    started_ms: int
    time_ms: int

    @property
    def detail_type(self) -> str:
        return BACKFILL_COMPLETED

    @property
    def id(self) -> str:
        # One backfill per Terra user and start; it ends once.
        return event_id("backfill", self.terra_user_id, self.started_ms)

    def to_detail(self) -> dict[str, Any]:
        return {
            "version": SCHEMA_VERSION,
            "id": self.id,
            "reference_id": self.reference_id,
            "terra_user_id": self.terra_user_id,
            "provider": self.provider,
            "status": self.status.value,
            "start_date": self.start_date,
            "end_date": self.end_date,
            "types": {name: report.to_detail() for name, report in sorted(self.types.items())},
            "started_at": _iso(self.started_ms),
            "time": _iso(self.time_ms),
        }


def _iso(milliseconds: int) -> str:
    return datetime.fromtimestamp(milliseconds / 1000, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
