"""Lifecycle events onto the stack's EventBridge bus (PutEvents, the bus's name or ARN)."""

import json
from collections.abc import Sequence
from typing import Any

from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from terra_connect.kernel.errors import EventsUnavailable
from terra_connect.lifecycle_events.events import SOURCE
from terra_connect.platform.aws_clients import aws_client

CLIENT_CONFIG = Config(connect_timeout=1, read_timeout=3, retries={"mode": "standard", "max_attempts": 3})
MAX_ENTRIES = 10  # PutEvents takes at most 10 entries per call


class EventBridgePublisher:
    def __init__(self, bus: str, *, endpoint_url: str | None = None) -> None:
        self._bus = bus
        self._client = aws_client("events", config=CLIENT_CONFIG, endpoint_url=endpoint_url)

    def publish(self, entries: Sequence[tuple[str, dict[str, Any]]]) -> None:
        """Every entry, or EventsUnavailable (then some may have been published: subscribers dedupe on `id`)."""
        for start in range(0, len(entries), MAX_ENTRIES):
            request = [
                {"Source": SOURCE, "DetailType": detail_type, "Detail": json.dumps(detail), "EventBusName": self._bus}
                for detail_type, detail in entries[start : start + MAX_ENTRIES]
            ]
            try:
                answer = self._client.put_events(Entries=request)
            except (BotoCoreError, ClientError) as error:
                raise EventsUnavailable(log_context={"events_error": type(error).__name__}) from None
            if answer.get("FailedEntryCount"):
                codes = sorted({entry.get("ErrorCode", "?") for entry in answer["Entries"] if "ErrorCode" in entry})
                raise EventsUnavailable(log_context={"events_error": codes})
