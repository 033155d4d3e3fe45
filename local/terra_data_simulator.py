"""The Terra simulator's health data: Terra's data requests answered as Terra documents them, and data delivered to
the webhook the way Terra delivers it (tryterra/openapi: the v2 data endpoints, `schemas/core/*Event.yaml`).

- `GET /v2/activity|body|daily|menstruation|nutrition|sleep|athlete` (`user_id`, `start_date`, `end_date`,
  `to_webhook`): 400/404 problem+json for a bad date or an unknown user; 429 `{"detail": "rate limit exceeded"}`
  with `X-Terra-RateLimit-Rule` r1 (over 1,825 days in one request) or r2 (over 6,000 requested days in a rolling
  hour per user, with `Retry-After`; the clock is injectable); else 200 `DataSentToWebhook {status, type,
  reference, trace_id, user}` and then, once answered, the data as signed webhooks carrying `terra-reference:
  <reference>`. A range over a month is a large request: the answer has a `message`, and the webhooks are
  `large_request_processing`, `large_request_sending {expected_payloads}` and that many chunks (one per 31 days),
  each chunk naming itself in `terra-reference: <reference>:chunk:<n>` (Terra's FAQ) or, with `chunk_ids =
  "trace"`, in its trace id (Terra's agent guidance). `to_webhook=false` answers the data inline.
- `GET /v2/integrations/detailed`: which provider offers which type.
- Ping mode (`ping = True`, or `POST /_simulator/delivery {"mode": "ping"}`): every data event is sent as
  `s3_payload {status, type, url, expires_in}` and its body served at `<base>/_payloads/<id>` until it expires, then
  answered with S3's `400 ExpiredToken`.
- Live data: `push()` or `POST /_simulator/data {"user_id", "type", "start_date", "end_date"}` sends what the
  provider would (the newest copy of a day carries a higher ordering timestamp, as Terra's do).

Records are generated in the shapes of Terra's schemas, one per day and type, the same for the same user and day.
"""

import hashlib
import json
import secrets
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from local.terra_simulator import Answer, TerraSimulator, _Request

DATED_TYPES = ("activity", "body", "daily", "menstruation", "nutrition", "sleep")
DATA_PATH = "/_simulator/data"
DELIVERY_PATH = "/_simulator/delivery"
PAYLOADS_PATH = "/_payloads/"
MAX_REQUEST_DAYS = 1825  # r1
HOURLY_DAYS = 6000  # r2, per user, rolling hour
LARGE_REQUEST_DAYS = 31  # over a month: delivered in chunks
CHUNK_DAYS = 31
PING_EXPIRES_IN = 300
_XML = {"Content-Type": "application/xml"}
_EXPIRED = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>ExpiredToken</Code>'
    b"<Message>The provided token has expired.</Message></Error>"
)


def _time(day: date, hour: int = 0) -> str:
    return f"{day.isoformat()}T{hour:02d}:00:00.000000+00:00"


def _number(terra_user_id: str, day: date, salt: str) -> int:
    return int(hashlib.sha256(f"{terra_user_id}|{day}|{salt}".encode()).hexdigest()[:8], 16)


def record(data_type: str, terra_user_id: str, day: date, *, revision: int = 0) -> dict[str, Any]:
    """One record of `data_type` for `day`, shaped as Terra's schema has it; a higher `revision` is a later, larger
    copy of the same day (daily and body are cumulative)."""
    start, end = _time(day), _time(day + timedelta(days=1))
    steps = 2000 + _number(terra_user_id, day, "steps") % 12000 + 250 * revision
    if data_type == "activity":
        summary_id = f"sim-{_number(terra_user_id, day, 'activity'):08x}"
        metadata = {
            "name": "Morning Run",
            "summary_id": summary_id,
            "start_time": _time(day, 7),
            "end_time": _time(day, 8),
            "type": 8,
            "upload_type": 1,
        }
        return {
            "metadata": metadata,
            "distance_data": {"summary": {"distance_meters": steps * 0.8, "steps": steps}},
            "heart_rate_data": {"summary": {"avg_hr_bpm": 140.0, "max_hr_bpm": 176}},
        }
    if data_type == "sleep":
        metadata = {
            "start_time": _time(day - timedelta(days=1), 23),
            "end_time": _time(day, 7),
            "summary_id": f"sim-sleep-{_number(terra_user_id, day, 'sleep'):08x}",
            "is_nap": False,
            "upload_type": 1,
        }
        return {"metadata": metadata, "sleep_durations_data": {"asleep": {"duration_asleep_state_seconds": 25200}}}
    contents: dict[str, dict[str, Any]] = {
        "daily": {"distance_data": {"steps": steps, "distance_meters": steps * 0.8}},
        "body": {"measurements_data": {"measurements": [{"measurement_time": start, "weight_kg": 72.4}]}},
        "nutrition": {"summary": {"macros": {"calories": steps % 3000}, "water_ml": 2300}},
        "menstruation": {"menstruation_data": {"period_start_date": start[:10], "day_in_cycle": 4}},
    }
    day_metadata: dict[str, Any] = {"start_time": start, "end_time": end}
    if data_type == "daily":
        day_metadata["upload_type"] = 0
    return {"metadata": day_metadata, **contents[data_type]}


def athlete() -> dict[str, Any]:
    return {
        "first_name": "Sam",
        "last_name": "Ulated",
        "sex": "unknown",
        "country": "GB",
        "city": None,
        "age": None,
        "bio": None,
        "state": None,
        "email": None,
        "date_of_birth": None,
    }


def _days(start: date, end: date) -> list[date]:
    return [start + timedelta(days=n) for n in range((end - start).days)] or [start]


def _parse_date(text: str | None) -> date | None:
    if text is None:
        return None
    try:
        if text.isdigit() and len(text) == 10:
            return datetime.fromtimestamp(int(text)).date()  # noqa: DTZ006 - Terra takes unix seconds as UTC days
        return date.fromisoformat(text)
    except ValueError:
        return None


@dataclass
class TerraData:
    """The data side of one TerraSimulator."""

    simulator: "TerraSimulator"
    ping: bool = False
    expires_in: int = PING_EXPIRES_IN
    chunk_ids: str = "reference"  # or "trace": where a chunk names itself
    clock: Callable[[], float] = time.time
    requests_made: list[tuple[str, str, str]] = field(default_factory=list)  # (type, user_id, reference)
    _payloads: dict[str, tuple[bytes, float]] = field(default_factory=dict)  # id -> (body, expires at)
    _ledger: dict[str, deque[tuple[float, int]]] = field(default_factory=dict)  # user -> (when, days)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def routes(self) -> dict[tuple[str, str], Callable[["TerraSimulator", "_Request"], "Answer"]]:
        from local.terra_simulator import API_BASE_PATH  # noqa: PLC0415 - that module imports this one

        routes: dict[tuple[str, str], Callable[[TerraSimulator, _Request], Answer]] = {
            ("GET", f"{API_BASE_PATH}/{name}"): self._data_request for name in (*DATED_TYPES, "athlete")
        }
        routes[("GET", f"{API_BASE_PATH}/integrations/detailed")] = self._detailed
        return routes

    # --- deliveries ---

    def deliver(self, event: dict[str, Any], *, reference: str | None = None, trace_id: str | None = None) -> int:
        """One data event to the webhook: inline, or in ping mode as an s3_payload whose body waits at a URL."""
        headers = {"terra-reference": reference or str(uuid.uuid4())}
        if trace_id is not None:
            headers["X-Terra-Trace-Id"] = trace_id
        if not self.ping:
            return self.simulator.send_event(event, headers=headers)
        payload_id = secrets.token_urlsafe(18)
        with self._lock:
            self._payloads[payload_id] = (json.dumps(event).encode(), self.clock() + self.expires_in)
        url = f"{self.simulator.base_url}{PAYLOADS_PATH}{payload_id}"
        pointer = {"type": "s3_payload", "status": "success", "url": url, "expires_in": self.expires_in}
        return self.simulator.send_event(pointer, headers=headers)

    def push(self, user_id: str, data_type: str, start: date, end: date, *, revision: int = 0) -> int:
        """Live data from the provider: one event with a record per day of [start, end)."""
        user = self.simulator.users[user_id]
        records = [record(data_type, user_id, day, revision=revision) for day in _days(start, end)]
        event = {"type": data_type, "version": "2022-03-16", "status": None, "user": user.as_terra(), "data": records}
        return self.deliver(event)

    def payload(self, payload_id: str) -> tuple[int, bytes, dict[str, str]]:
        """What `GET /_payloads/<id>` answers: the body, or S3's answers to an expired or unknown URL."""
        with self._lock:
            stored = self._payloads.get(payload_id)
        if stored is None:
            return 403, b"<Error><Code>AccessDenied</Code><Message>Access Denied</Message></Error>", _XML
        body, expires_at = stored
        if self.clock() > expires_at:
            return 400, _EXPIRED, _XML
        return 200, body, {"Content-Type": "application/json"}

    def control(self, path: str, spec: dict[str, Any]) -> None:
        """`POST /_simulator/delivery {"mode": "ping"|"push", "expires_in"?, "chunk_ids"?}` or `POST
        /_simulator/data {"user_id", "type", "start_date", "end_date"?}`; raises KeyError/ValueError when bad."""
        if path == DELIVERY_PATH:
            self.ping = {"ping": True, "push": False}[spec["mode"]]
            self.expires_in = int(spec.get("expires_in", self.expires_in))
            self.chunk_ids = {"reference": "reference", "trace": "trace"}[spec.get("chunk_ids", self.chunk_ids)]
            return
        start = date.fromisoformat(spec["start_date"])
        end = date.fromisoformat(spec["end_date"]) if spec.get("end_date") else start + timedelta(days=1)
        if spec["type"] not in DATED_TYPES or spec["user_id"] not in self.simulator.users or end < start:
            raise ValueError("not a user and type this simulator has")
        threading.Thread(target=self.push, args=(spec["user_id"], spec["type"], start, end), daemon=True).start()

    # --- the API ---

    def _data_request(self, simulator: "TerraSimulator", request: "_Request") -> "Answer":
        from local.terra_simulator import Answer, problem  # noqa: PLC0415

        data_type = request.path.rsplit("/", 1)[-1]
        user = simulator.users.get(request.query.get("user_id", ""))
        if user is None:
            return problem(404, "user not found", request.path)
        start, end = _parse_date(request.query.get("start_date")), _parse_date(request.query.get("end_date"))
        if data_type != "athlete" and (start is None or ("end_date" in request.query and end is None)):
            return problem(400, "start_date must be YYYY-MM-DD or a unix timestamp", request.path)
        end = end or date.fromtimestamp(self.clock())  # noqa: DTZ012
        if start is not None and end < start:
            return problem(400, "end_date is before start_date", request.path)
        days = 1 if start is None else max((end - start).days, 1)
        limited = self._rate_limited(user.user_id, days)
        if limited is not None:
            return limited
        event: dict[str, Any]
        if start is None:  # athlete: undated
            event = {
                "type": "athlete",
                "version": "2022-03-16",
                "status": None,
                "user": user.as_terra(),
                "athlete": athlete(),
            }
        else:
            records = [record(data_type, user.user_id, day) for day in _days(start, end)]
            event = {
                "type": data_type,
                "version": "2022-03-16",
                "status": None,
                "user": user.as_terra(),
                "data": records,
            }
        if request.query.get("to_webhook", "true").lower() == "false":
            return Answer(
                200, {"user": user.as_terra(), "data": event.get("data", [event.get("athlete")]), "type": data_type}
            )
        reference = str(uuid.uuid4())
        large = data_type != "athlete" and days > LARGE_REQUEST_DAYS
        answer = {
            "status": "success",
            "type": data_type,
            "reference": reference,
            "trace_id": reference,
            "user": user.as_terra(),
        }
        if large:
            answer["message"] = "Large request: the data will be delivered in chunks"
        with self._lock:
            self.requests_made.append((data_type, user.user_id, reference))
        request.after(lambda: self._send_requested(event, reference, large))
        remaining = HOURLY_DAYS - self._spent(user.user_id)
        headers = {
            "X-Terra-RateLimit-Limit": str(HOURLY_DAYS),
            "X-Terra-RateLimit-Remaining": str(remaining),
            "X-Terra-RateLimit-Reset-After": "3600",
        }
        return Answer(200, answer, headers)

    def _send_requested(self, event: dict[str, Any], reference: str, large: bool) -> None:
        if not large:
            self.deliver(event, reference=reference)
            return
        user, records = event["user"], event["data"]
        chunks = [records[n : n + CHUNK_DAYS] for n in range(0, len(records), CHUNK_DAYS)]
        self.simulator.send_event(
            {
                "type": "large_request_processing",
                "status": "processing",
                "user": user,
                "reference": reference,
                "message": "Large request is processing",
            },
            headers={"terra-reference": reference},
        )
        self.simulator.send_event(
            {
                "type": "large_request_sending",
                "status": None,
                "user": user,
                "reference": reference,
                "message": "Large request is being sent",
                "expected_payloads": len(chunks),
            },
            headers={"terra-reference": reference},
        )
        for number, chunk in enumerate(chunks):
            chunked = f"{reference}:chunk:{number}"
            if self.chunk_ids == "trace":
                self.deliver({**event, "data": chunk}, reference=reference, trace_id=chunked)
            else:
                self.deliver({**event, "data": chunk}, reference=chunked)

    def _spent(self, user_id: str) -> int:
        now = self.clock()
        with self._lock:
            ledger = self._ledger.setdefault(user_id, deque())
            while ledger and ledger[0][0] <= now - 3600:
                ledger.popleft()
            return sum(days for _, days in ledger)

    def _rate_limited(self, user_id: str, days: int) -> "Answer | None":
        from local.terra_simulator import Answer  # noqa: PLC0415

        limited = {"detail": "rate limit exceeded"}
        if days > MAX_REQUEST_DAYS:
            return Answer(429, limited, {"X-Terra-RateLimit-Rule": "r1"})
        spent = self._spent(user_id)
        if spent + days > HOURLY_DAYS:
            with self._lock:
                oldest = self._ledger[user_id][0][0]
            retry_after = max(int(oldest + 3600 - self.clock()), 1)
            return Answer(429, limited, {"X-Terra-RateLimit-Rule": "r2", "Retry-After": str(retry_after)})
        with self._lock:
            self._ledger[user_id].append((self.clock(), days))
        return None

    def _detailed(self, simulator: "TerraSimulator", request: "_Request") -> "Answer":
        from local.terra_simulator import PROVIDERS, SDK_PROVIDERS, Answer  # noqa: PLC0415

        # Menstruation only where a provider tracks cycles (as Terra's table shows for Garmin, Fitbit, Oura).
        cycles = {"GARMIN", "FITBIT", "OURA", *SDK_PROVIDERS}
        providers = [
            {
                "provider": code,
                "name": code.title(),
                "enabled": True,
                "setup": "",
                "icon": "",
                "types": {name: name != "menstruation" or code in cycles for name in DATED_TYPES},
            }
            for code in (*PROVIDERS, *SDK_PROVIDERS)
        ]
        return Answer(200, {"status": "success", "providers": providers})
