"""The backfill queue (SQS): new connections to backfill, and the wake-ups a backfill schedules for itself.

A wait is a new message delayed by `DelaySeconds` (at most 900 s; a longer wait is several hops, each checking
again), never a message held back with ChangeMessageVisibility: a held message counts a receive each time it comes
back, and a backfill waiting out hours of Terra's limits would reach the queue's maxReceiveCount and be dead-lettered.
A new message per wait keeps every receive count at one unless a step really fails.
"""

from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from terra_connect.backfill.messages import connected_message, wake_message
from terra_connect.backfill.plan import NewConnection
from terra_connect.backfill.ports import MAX_WAKE_DELAY_MS

MAX_DELAY_SECONDS = MAX_WAKE_DELAY_MS // 1000


class QueueUnavailable(Exception):
    """The message could not be sent: the caller's own work is retried (its message stays on its queue)."""


class SqsBackfillQueue:
    """WakeScheduler for the backfill function; BackfillTrigger for the events function."""

    def __init__(self, client: Any, queue_url: str) -> None:
        self._client = client  # a botocore SQS client
        self._queue_url = queue_url

    def wake(self, terra_user_id: str, token: int, delay_ms: int) -> None:
        # Rounded up: the wake-up never comes before the time it was scheduled for.
        delay = min(max(-(-delay_ms // 1000), 0), MAX_DELAY_SECONDS)
        self._send(wake_message(terra_user_id, token), delay)

    def connected(self, connection: NewConnection) -> None:
        self._send(connected_message(connection), 0)

    def _send(self, body: str, delay_seconds: int) -> None:
        try:
            self._client.send_message(QueueUrl=self._queue_url, MessageBody=body, DelaySeconds=delay_seconds)
        except (BotoCoreError, ClientError) as exc:
            raise QueueUnavailable(type(exc).__name__) from exc
