"""backfill.ports.InlineData: data Terra answered a request with, in the body, kept exactly as a webhook delivering
it would be - archived in the raw archive and its pointer queued for the ingest function.

Its `terra-reference` is the one the backfill counts the answer under (`inline-<sha256[:32]>`, service.py), and the
pointer has no trace id, so the ingest function's count of it is the same chunk: counted once."""

import hashlib
import time
from collections.abc import Callable

from terra_connect.health_data.claim_check import Source, claim
from terra_connect.health_data.ordering import DeliveryTime
from terra_connect.health_data.ports import DeliveryQueue, RawArchive


def now_ms() -> int:
    return time.time_ns() // 1_000_000


class InlineHandOver:
    def __init__(
        self, archive: RawArchive, bucket: str, queue: DeliveryQueue, *, clock: Callable[[], int] = now_ms
    ) -> None:
        self._archive = archive
        self._bucket = bucket
        self._queue = queue
        self._clock = clock

    def hand_over(self, terra_user_id: str, data_type: str, body: bytes) -> None:
        received = self._clock()
        checked = claim(
            body,
            trace_id=None,
            time=DeliveryTime.of_queue_message(received),
            received_ms=received,
            terra_reference=f"inline-{hashlib.sha256(body).hexdigest()[:32]}",
            event_type=data_type,
            source=Source.REQUEST,
        )
        archived = self._archive.put(checked.key, body, metadata=checked.metadata)
        self._queue.send(checked.pointer(self._bucket, archived))
