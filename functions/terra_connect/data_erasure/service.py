"""Purge what is stored of an erased app user: every item of their partitions in the data table, and first every
version of every object those items name.

The erasure (erasure/service.py) queues the request before it finishes; from its start the erasure marker refuses
every write of data the app user signed before it (health_data/attribution.py, and the ConditionCheck of each index
write), so what a purge must delete can only shrink - but for writes already past that check. Data signed after the
start is accepted (the app user connected again, as a new Terra user): the purge leaves the records and payload
parts of it in their partition, and deletes only the copies they replaced (PurgeRequest.keeps).

- an ingest that wrote its object and then lost its ConditionCheck deletes its own version; one that crashed in
  between is retried and sees the marker;
- so pass 1 runs at once and pass 2 is queued `SECOND_PASS_DELAY_SECONDS` later (SQS's longest delay), after which
  no write that passed the check can still be in flight; only then is `Wearable Data Erased` published.

Per page: the objects first, then the items that name them, so a crash never leaves an object nobody can find. When
the time left runs short the request is queued again from the partition it reached (the cursor); items are deleted
as they are read, so a partition is always read from its start (within a run, from past the last item read: what
was kept is not read again). Every step may be repeated: a redelivered request
deletes nothing twice and publishes nothing twice while the end is remembered (a day: a pass 2 redriven from the
dead-letter queue after that publishes again, with the same erasure id).
"""

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from terra_connect.data_erasure.models import DataErased, ItemKey, PurgeCounts, PurgeRequest, StoredItem
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
        after: ItemKey | None = None  # the last item read: those before it are deleted, or kept
        while position < len(partitions):
            if deadline.remaining() < SECONDS_PER_PAGE:
                self._requests.request(request.at(position, counts))
                return PurgeResult(PurgeOutcome.CONTINUED, counts, request.run)
            page = self._index.page(partitions[position], self._page_size, after)
            counts += self._delete(page.items, request)
            after = page.items[-1].key if page.more and page.items else None
            if after is None:
                position += 1
        if request.run == 1:
            self._requests.request(request.second_pass(counts), delay_seconds=SECOND_PASS_DELAY_SECONDS)
            return PurgeResult(PurgeOutcome.SECOND_RUN_QUEUED, counts, 1)
        erased = DataErased(request.erasure_id, request.reference_id, request.requested_by, counts, self._clock())
        outcome = PurgeOutcome.ERASED if self._index.finish(erased) else PurgeOutcome.ALREADY_ERASED
        return PurgeResult(outcome, counts, 2)

    def _delete(self, page: tuple[StoredItem, ...], request: PurgeRequest) -> PurgeCounts:
        items = tuple(item for item in page if not request.keeps(item))
        # An item kept names its current copy, and may still name copies it replaced (from before the start).
        doomed = {version for item in page for version in (item.superseded if request.keeps(item) else item.objects)}
        named = sorted({version.key for version in doomed})
        kept = {version for item in page if request.keeps(item) for version in item.objects} - doomed
        found = set(self._objects.versions(named)) - kept
        # Objects first: an item is deleted only once nothing it names is left. The versions the items name are
        # deleted even when the listing missed them (deleting a version already gone is no failure).
        self._objects.delete(sorted(found | doomed))
        keys = [key for item in items for key in (item.key, *item.linked)]
        self._index.delete(keys)
        return PurgeCounts(
            records=sum(item.is_record for item in items),
            objects=len(found),
            items=len(items),
        )
