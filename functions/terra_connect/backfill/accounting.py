"""The ingest function's view of backfills (health_data.ports.BackfillAccounting): it counts what arrives for them and
passes on Terra's announcements of large requests; it never asks Terra for anything nor schedules a step."""

from terra_connect.backfill.ports import BackfillStore
from terra_connect.backfill.service import BackfillService
from terra_connect.health_data.models import LargeRequestProcessing, LargeRequestSending


class BackfillLedger:
    def __init__(self, service: BackfillService, store: BackfillStore) -> None:
        self._service = service
        self._store = store

    def delivered(self, terra_user_id: str, terra_reference: str, *, trace_id: str | None, body_digest: str) -> bool:
        stored = self._store.load(terra_user_id)
        if stored is None or not stored.state.open:
            return False
        self._service.delivered(terra_user_id, terra_reference, trace_id, body_digest)
        return True

    def announced(self, terra_user_id: str, announcement: LargeRequestProcessing | LargeRequestSending) -> None:
        expected = announcement.expected_payloads if isinstance(announcement, LargeRequestSending) else None
        self._service.announced(terra_user_id, announcement.reference, expected)


class NoBackfills:
    """Backfills are off (BackfillDays 0): nothing is counted."""

    def delivered(self, terra_user_id: str, terra_reference: str, *, trace_id: str | None, body_digest: str) -> bool:
        return False

    def announced(self, terra_user_id: str, announcement: LargeRequestProcessing | LargeRequestSending) -> None:
        return None
