"""Purge what is stored of an erased app user: every item of their partitions in the data table, and first every
version of every object those items name.

The erasure (erasure/service.py) queues the request before it finishes; from its start the erasure marker refuses
every new write naming the app user (health_data/attribution.py, and the ConditionCheck of each index write), so
what a purge reads can only shrink - but for writes already past that check:

- an ingest that wrote its object and then lost its ConditionCheck deletes its own version; one that crashed in
  between is retried and sees the marker;
- so pass 1 runs at once and pass 2 is queued `SECOND_PASS_DELAY_SECONDS` later (SQS's longest delay), after which
  no write that passed the check can still be in flight; only then is `Wearable Data Erased` published.

Per page: the objects first, then the items that name them, so a crash never leaves an object nobody can find. When
the time left runs short the request is queued again from the partition it reached (the cursor); items are deleted
as they are read, so a partition is always read from its start. Every step may be repeated: a redelivered request
deletes nothing twice and publishes nothing twice while the end is remembered (a day: a pass 2 redriven from the
dead-letter queue after that publishes again, with the same erasure id).
"""

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from terra_connect.data_erasure.models import DataErased, PurgeCounts, PurgeRequest, StoredItem
from terra_connect.data_erasure.ports import PurgeIndex, PurgeObjects, PurgeRequests
from terra_connect.kernel.deadline import Deadline

PAGE_SIZE = 100
SECOND_PASS_DELAY_SECONDS = 900
# A page costs a query, a listing per object key, one DeleteObjects and four BatchWriteItems: seconds at worst.
SECONDS_PER_PAGE = 30.0


class PurgeOutcome(StrEnum):
    CONTINUED = "continued"  # the time ran short: queued again from where it stopped
    SECOND_RUN_QUEUED = "second_run_queued"  # pass 2 queued
    ERASED = "erased"  # pass 2 done, the end recorded (its event is published from the table's stream)
    ALREADY_ERASED = "already_erased"  # a redelivered pass 2: it had ended before


@dataclass(frozen=True, slots=True)
class PurgeResult:
    outcome: PurgeOutcome
    counts: PurgeCounts  # everything the purge deleted so far, every pass and continuation included
    run: int


class PurgeService:
    def __init__(
        self,
        index: PurgeIndex,
        objects: PurgeObjects,
        requests: PurgeRequests,
        *,
        clock: Callable[[], int],
        page_size: int = PAGE_SIZE,
    ) -> None:
        """`clock`: milliseconds, for the event's time."""
        self._index = index
        self._objects = objects
        self._requests = requests
        self._clock = clock
        self._page_size = page_size

    def purge(self, request: PurgeRequest, deadline: Deadline) -> PurgeResult:
        partitions = request.partitions()
        counts = request.counts
        position = request.partition
        while position < len(partitions):
            if deadline.remaining() < SECONDS_PER_PAGE:
                self._requests.request(request.at(position, counts))
                return PurgeResult(PurgeOutcome.CONTINUED, counts, request.run)
            page = self._index.page(partitions[position], self._page_size)
            counts += self._delete(page.items)
            if not page.more:
                position += 1
        if request.run == 1:
            self._requests.request(request.second_pass(counts), delay_seconds=SECOND_PASS_DELAY_SECONDS)
            return PurgeResult(PurgeOutcome.SECOND_RUN_QUEUED, counts, 1)
        erased = DataErased(request.erasure_id, request.reference_id, request.requested_by, counts, self._clock())
        outcome = PurgeOutcome.ERASED if self._index.finish(erased) else PurgeOutcome.ALREADY_ERASED
        return PurgeResult(outcome, counts, 2)

    def _delete(self, items: tuple[StoredItem, ...]) -> PurgeCounts:
        named = sorted({version.key for item in items for version in item.objects})
        found = set(self._objects.versions(named))
        # Objects first: an item is deleted only once nothing it names is left. The versions the items name are
        # deleted even when the listing missed them (deleting a version already gone is no failure).
        self._objects.delete(sorted(found | {version for item in items for version in item.objects}))
        keys = [key for item in items for key in (item.key, *item.linked)]
        self._index.delete(keys)
        return PurgeCounts(
            records=sum(item.is_record for item in items),
            objects=len(found),
            items=len(items),
        )
