"""Terra's SQS destination: a message Terra sent to the stack's own queue, taken in as the webhook takes a delivery.

Terra's docs say the destination sends `healthcheck` and `s3_payload` messages, the body being the event's JSON
(`url`, `expires_in`, sometimes `payload_reference`, `user_id`, `reference_id`). Nothing signs them, and the queue
policy admits Terra's role, which sends for every Terra customer: a message is not known to be this service's, so
its data is attributed by the connection registry only, never by the reference_id it names (attribution.py). So:
- a healthcheck is acknowledged and nothing is kept;
- anything else (an `s3_payload`, or an event Terra may one day send inline) is archived as received under
  `raw/terra-sqs/<sha256(body)>.json` (written once) and goes on as a delivery with that key (claim_check.claim): a
  redelivered message, or the same bytes sent twice, is the same delivery. There is no trace id, ordering header or
  `terra-reference`, so the message's SentTimestamp dates it (ordering.DeliveryTime.of_queue_message) and its URL's
  deadline counts from then.
"""

import json
from typing import Any

from terra_connect.health_data.claim_check import Pointer, Source, claim
from terra_connect.health_data.ordering import DeliveryTime
from terra_connect.health_data.ports import RawArchive

HEALTHCHECK = "healthcheck"


def event_type(body: bytes) -> str | None:
    """The message's `type`, when it is a JSON object with a string one."""
    try:
        document: Any = json.loads(body)
    except ValueError:
        return None
    kind = document.get("type") if isinstance(document, dict) else None
    return kind if isinstance(kind, str) else None


class TerraQueueIntake:
    def __init__(self, archive: RawArchive, bucket: str) -> None:
        self._archive = archive
        self._bucket = bucket

    def keep(self, body: bytes, *, sent_ms: int) -> Pointer | None:
        """The pointer to the archived message, or None for a healthcheck (nothing to keep). Raises
        DataStoreUnavailable or DataStoreMisconfigured when the body cannot be archived."""
        kind = event_type(body)
        if kind == HEALTHCHECK:
            return None
        checked = claim(
            body,
            trace_id=None,
            time=DeliveryTime.of_queue_message(sent_ms),
            received_ms=sent_ms,
            event_type=kind,
            source=Source.TERRA_QUEUE,
        )
        archived = self._archive.put(checked.key, body, metadata=checked.metadata)
        return checked.pointer(self._bucket, archived)
