"""Terra data events for the data path's benchmark, in the shapes of Terra's schemas with the detail real ones carry:
an activity recorded at 1 Hz (heart rate, position, speed and distance samples, as `HeartRateDataSample`,
`PositionSample`, `SpeedSample` and `DistanceSample` have them) and a daily summary with a day of heart rate samples.

Sizes are reached by the recording's length, not by padding, so the bytes have the quote density of Terra's JSON
(keys and timestamps quoted on every sample): what decides how much a body grows when it travels JSON-escaped inside
the Lambda event. Bodies are compact JSON, the densest in quotes.
"""

import json
from datetime import UTC, date, datetime, timedelta
from typing import Any

from local.terra_data_simulator import record
from local.terra_simulator import SimulatedUser

# The distance between two 1 Hz position samples of a run, in degrees (about 3 m).
STEP_DEGREES = 0.00003


def terra_user(user_id: str, reference_id: str, provider: str = "GARMIN") -> dict[str, Any]:
    """A TerraUser as Terra's schema has it (the simulator's)."""
    return SimulatedUser(user_id, provider, reference_id).as_terra()


def data_event(data_type: str, records: list[dict[str, Any]], user: dict[str, Any]) -> dict[str, Any]:
    return {"type": data_type, "version": "2022-03-16", "status": None, "user": user, "data": records}


def body(event: dict[str, Any]) -> bytes:
    return json.dumps(event, separators=(",", ":")).encode()


def _stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%f+00:00")


def activity(user_id: str, day: date, seconds: int, summary_id: str) -> dict[str, Any]:
    """One activity of `seconds` recorded at 1 Hz: four samples a second, as a watch uploads them."""
    summary = record("activity", user_id, day)
    start = datetime(day.year, day.month, day.day, 7, tzinfo=UTC)
    moments = [(n, _stamp(start + timedelta(seconds=n))) for n in range(seconds)]
    summary["metadata"] |= {"summary_id": summary_id, "start_time": moments[0][1], "end_time": moments[-1][1]}
    summary["heart_rate_data"]["detailed"] = {
        "hr_samples": [
            {"timestamp": at, "bpm": 120 + (n * 7) % 60, "timer_duration_seconds": n, "context": 1} for n, at in moments
        ]
    }
    summary["position_data"] = {
        "start_pos_lat_lng_deg": [51.5007, -0.1246],
        "position_samples": [
            {
                "timestamp": at,
                "coords_lat_lng_deg": [round(51.5007 + n * STEP_DEGREES, 6), round(-0.1246 + n * STEP_DEGREES, 6)],
                "timer_duration_seconds": n,
            }
            for n, at in moments
        ],
    }
    summary["movement_data"] = {
        "speed_samples": [
            {"timestamp": at, "speed_meters_per_second": round(2.8 + (n % 13) / 10, 2), "timer_duration_seconds": n}
            for n, at in moments
        ]
    }
    summary["distance_data"]["detailed"] = {
        "distance_samples": [
            {"timestamp": at, "distance_meters": round(n * 3.1, 1), "timer_duration_seconds": n} for n, at in moments
        ]
    }
    return summary


def activity_seconds(target_bytes: int) -> int:
    """The recording length whose activity event is about `target_bytes` (the size grows linearly with it)."""
    user = terra_user("sizing", "sizing")

    def size(seconds: int) -> int:
        return len(body(data_event("activity", [activity("sizing", date(2026, 7, 1), seconds, "s")], user)))

    small, large = size(60), size(660)
    per_second = (large - small) / 600
    return max(1, round(60 + (target_bytes - small) / per_second))


def daily(user_id: str, day: date, every_minutes: int = 18) -> dict[str, Any]:
    """A day's summary with its heart rate sampled every `every_minutes` (18: about 5 KB as an event)."""
    summary = record("daily", user_id, day)
    start = datetime(day.year, day.month, day.day, tzinfo=UTC)
    summary["heart_rate_data"] = {
        "summary": {"avg_hr_bpm": 64.2, "max_hr_bpm": 151, "min_hr_bpm": 48, "resting_hr_bpm": 52},
        "detailed": {
            "hr_samples": [
                {"timestamp": _stamp(start + timedelta(minutes=m)), "bpm": 50 + (m * 11) % 70}
                for m in range(0, 24 * 60, every_minutes)
            ]
        },
    }
    return summary
