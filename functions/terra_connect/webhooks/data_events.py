"""The webhook's claim check: an authentic data event is archived as received and a pointer to it queued, before the
answer (health_data/claim_check.py says what both hold).

Terra waits about 8 s and retries anything but a 2xx, so the webhook does only what makes the delivery safe: one
conditional put of the exact bytes into the data bucket (`If-None-Match`: a redelivery finds its first copy) and one
small message. Which queue: `s3_payload` / `s3_upload` (a URL that expires within minutes) go to the fetch queue, so
they are never stuck behind a backlog of data; every other type - data, large-request announcements, lab reports,
types Terra adds later, bodies too large or not readable as JSON - goes to the ingest queue. If either call fails the
webhook answers 503 and Terra redelivers the same trace id, which lands on the same key.
"""

import time
from collections.abc import Callable, Mapping

from terra_connect.health_data.claim_check import Pointer, claim
from terra_connect.health_data.ordering import DeliveryTime
from terra_connect.health_data.ports import DeliveryQueue, RawArchive

# Terra's two names for the event whose body is behind a presigned URL (its schema and examples vs its webhooks list).
PAYLOAD_URL_TYPES = frozenset({"s3_payload", "s3_upload"})
TRACE_HEADER = "x-terra-trace-id"
REFERENCE_HEADER = "terra-reference"


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def header(headers: Mapping[str, str], name: str) -> str | None:
    return next((value for key, value in headers.items() if key.lower() == name), None)


class ClaimCheck:
    def __init__(
        self,
        archive: RawArchive,
        bucket: str,
        *,
        ingest: DeliveryQueue,
        fetch: DeliveryQueue,
        clock: Callable[[], int] = now_ms,
    ) -> None:
        self._archive = archive
        self._bucket = bucket
        self._ingest = ingest
        self._fetch = fetch
        self._clock = clock

    def keep(self, headers: Mapping[str, str], body: bytes, signed_at: int, event_type: str | None) -> Pointer:
        """Archive `body` (signed at `signed_at`, seconds) and queue its pointer; raises DataStoreUnavailable or
        DataStoreMisconfigured when either cannot be done (nothing is queued without its body archived)."""
        checked = claim(
            body,
            trace_id=header(headers, TRACE_HEADER),
            time=DeliveryTime.of_webhook(headers, signed_at),
            received_ms=self._clock(),
            terra_reference=header(headers, REFERENCE_HEADER),
            event_type=event_type,
        )
        archived = self._archive.put(checked.key, body, metadata=checked.metadata)
        pointer = checked.pointer(self._bucket, archived)
        (self._fetch if event_type in PAYLOAD_URL_TYPES else self._ingest).send(pointer)
        return pointer
