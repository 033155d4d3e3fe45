"""Repairing the registry from Terra's own view: webhooks alone can be missed, late or never sent.

Terra's guidance is not to rely on webhooks alone: a destination registered late, a signing secret put in after
the deploy, or a delivery Terra gave up on after its retries leaves the registry wrong for good. Two repairs:

- `SyncService` (sync/service.py): one app user, when the app comes back from the widget (POST
  /v1/connections/sync), from Terra's `userInfo?reference_id=`.
- `Reconciler` (here): the whole registry, on a schedule, from Terra's paged user list, resuming where it stopped
  when its time runs out.

Terra's answers become observations (records.seen_alive) and confirmed absences become endings, merged like any
other fact. A Terra user missing from a listing is only ended after Terra, asked about it by id, no longer knows
it: listings can lag, and pages shift under a walk.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from terra_connect.connections.records import stamp
from terra_connect.connections.registry import ConnectionRegistry
from terra_connect.connections.vocabulary import TerraUser
from terra_connect.kernel.deadline import Deadline
from terra_connect.kernel.errors import RegistryRejected, ServiceError, UpstreamUnavailable
from terra_connect.sync.ports import ReconciliationCursor, ReconciliationStore, TerraUsersGateway
from terra_connect.sync.service import confirm

WALK_PAGE_SIZE = 500
SCAN_BATCH = 100
# The least time worth starting a step with (a Terra call and the writes it leads to), and the most one takes.
MIN_STEP_SECONDS = 5.0
MAX_STEP_SECONDS = 20.0


@dataclass
class ReconciliationReport:
    checked: int = 0  # Terra users compared with the registry
    repaired: int = 0  # records that changed
    failed: int = 0  # Terra users that could not be stored
    migrated: int = 0  # items of an earlier registry layout converted
    finished: bool = False  # the run completed (else it resumes at the next invocation)
    stopped_by: str | None = None  # the error code that stopped the run early, if any


class Reconciler:
    def __init__(
        self,
        registry: ConnectionRegistry,
        store: ReconciliationStore,
        terra: TerraUsersGateway,
        *,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        sleep: Callable[[float], None],
        page_size: int = WALK_PAGE_SIZE,
        scan_batch: int = SCAN_BATCH,
    ) -> None:
        self._registry = registry
        self._store = store
        self._terra = terra
        self._now = now
        self._sleep = sleep
        self._page_size = page_size
        self._scan_batch = scan_batch

    def run(self, deadline: Deadline) -> ReconciliationReport:
        """Walk Terra's user list, then confirm the registry's live users the walk did not show; resumable."""
        cursor = self._store.reconciliation_cursor()
        if cursor is None or cursor.finished_at is not None:
            cursor = ReconciliationCursor(started_at=stamp(self._now()), phase="walk")
        report = ReconciliationReport()
        seen: set[str] = set()
        while deadline.remaining() >= MIN_STEP_SECONDS:
            try:
                cursor = (
                    self._walk(cursor, report, seen, deadline)
                    if cursor.phase == "walk"
                    else self._confirm(cursor, report, seen, deadline)
                )
            except UpstreamUnavailable as unavailable:
                if unavailable.retry_after + MIN_STEP_SECONDS > deadline.remaining():
                    report.stopped_by = unavailable.code
                    break
                self._sleep(unavailable.retry_after)  # Terra's Retry-After, within this invocation's time
                continue
            except ServiceError as error:
                report.stopped_by = error.code
                break
            self._store.save_reconciliation_cursor(cursor)
            if cursor.finished_at is not None:
                report.finished = True
                break
        return report

    def _step_deadline(self, deadline: Deadline) -> Deadline:
        return Deadline.after(min(MAX_STEP_SECONDS, deadline.remaining() - MIN_STEP_SECONDS / 2), deadline.clock)

    def _walk(
        self, cursor: ReconciliationCursor, report: ReconciliationReport, seen: set[str], deadline: Deadline
    ) -> ReconciliationCursor:
        page = self._terra.users_page(cursor.page, self._page_size, self._step_deadline(deadline))
        report.checked += len(page.users) + page.unusable
        report.failed += page.unusable
        report.repaired += self._observe(page.users, report)
        seen.update(user.terra_user_id for user in page.users)
        if page.next_page is None:
            return replace(cursor, phase="confirm", page=0, scan=None)
        return replace(cursor, page=page.next_page)

    def _confirm(
        self, cursor: ReconciliationCursor, report: ReconciliationReport, seen: set[str], deadline: Deadline
    ) -> ReconciliationCursor:
        page = self._store.scan(cursor.scan, self._scan_batch)
        for token, change in page.legacy:
            report.repaired += self._registry.apply(change)
            self._store.drop_legacy(token)
            report.migrated += 1
        # Live in the registry, not shown by this invocation's walk, and nothing newer than the run's start.
        candidates = [
            stored.record.terra_user_id
            for stored in page.users
            if stored.standing.is_live
            and stored.record.terra_user_id not in seen
            and (stored.record.updated_at or 0) < cursor.started_at
        ]
        if candidates:
            step = self._step_deadline(deadline)
            found = self._terra.users_by_ids(candidates, step)
            report.checked += len(candidates)
            report.repaired += self._observe(found, report)
            still_known = {user.terra_user_id for user in found}
            for terra_user_id in candidates:
                if terra_user_id not in still_known:
                    report.repaired += confirm(self._registry, self._terra, terra_user_id, stamp(self._now()), step)
        if page.cursor is None:
            return replace(cursor, scan=None, finished_at=stamp(self._now()))
        return replace(cursor, scan=page.cursor)

    def _observe(self, users: Sequence[TerraUser], report: ReconciliationReport) -> int:
        now = stamp(self._now())
        try:
            return self._registry.observe(users, now)
        except RegistryRejected:
            # One absurd user must not stop the run: store the others one by one, count the refused.
            changed = 0
            for user in users:
                try:
                    changed += self._registry.observe([user], now)
                except RegistryRejected:
                    report.failed += 1
            return changed
