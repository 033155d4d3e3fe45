"""Where the data lives: the keys of the index items and of the S3 objects, built in one place.

DataTable, one partition per owner: `u#<reference_id>`, or `t#<terra_user_id>` while no owner is known.
- `r#<type>#<provider>#<record_key>`: a record's current copy; its local index `by-day` sorts on `day_key`,
  `<type>#<day>#<provider>#<record_key>`, so a type's records of a range of days are one query.
- `p#<payload_id>#<part:04d>`: which records a payload changed.

DataBucket: `raw/dt=<UTC receipt date>/<delivery key[:40]>.json` (the bytes Terra sent), and
`records/type=<type>/day=<day>/<owner16>.<provider8>.<key24>.<ordering13>.<digest12>.<payload12>.json` (one copy
of one record: only the attempts of one payload ever write under a key, so a retry can delete what an attempt
that crashed left there without touching anyone else's; no personal identifier in any key; Athena's partition
projection reads `type` and `day` from it). Types and days are validated before they get here (keys.py).
"""

import hashlib
from datetime import UTC, datetime

from terra_connect.health_data.keys import RecordIdentity
from terra_connect.health_data.ordering import CopyOrder

RECORD_PREFIX = "r#"
PAYLOAD_PART_PREFIX = "p#"
RAW_PREFIX = "raw/"
RECORDS_PREFIX = "records/"
# Sorts after "#" and before every other character a day key may continue with: the end of a day's keys.
_AFTER_DAY = "$"


def owner_partition(reference_id: str) -> str:
    return f"u#{reference_id}"


def unattributed_partition(terra_user_id: str) -> str:
    return f"t#{terra_user_id}"


def sort_key(identity: RecordIdentity) -> str:
    return f"{RECORD_PREFIX}{identity.data_type}#{identity.provider}#{identity.record_key}"


def day_key(identity: RecordIdentity, day: str) -> str:
    return f"{identity.data_type}#{day}#{identity.provider}#{identity.record_key}"


def day_key_bounds(data_type: str, start_day: str, end_day: str) -> tuple[str, str]:
    """Inclusive bounds (for BETWEEN) of every day key of `data_type` from `start_day` to `end_day`, both included."""
    return f"{data_type}#{start_day}#", f"{data_type}#{end_day}{_AFTER_DAY}"


def payload_part_key(payload_id: str, number: int) -> str:
    return f"{PAYLOAD_PART_PREFIX}{payload_id}#{number:04d}"


def raw_object_key(delivery_key: str, received_ms: int) -> str:
    day = datetime.fromtimestamp(received_ms / 1000, UTC).date().isoformat()
    return f"{RAW_PREFIX}dt={day}/{delivery_key[:40]}.json"


def record_object_key(partition: str, identity: RecordIdentity, day: str, order: CopyOrder, payload_id: str) -> str:
    parts = (
        _sha256(partition)[:16],
        _sha256(identity.provider)[:8],
        _sha256(identity.record_key)[:24],
        f"{order.ordering_ms:013d}",
        order.digest[:12],
        payload_id[:12],
    )
    return f"{RECORDS_PREFIX}type={identity.data_type}/day={day}/{'.'.join(parts)}.json"


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def identity_of(record_sort_key: str) -> RecordIdentity:
    """The identity a record's sort key names (the inverse of sort_key)."""
    data_type, provider, record_key = record_sort_key.removeprefix(RECORD_PREFIX).split("#", 2)
    return RecordIdentity(data_type, provider, record_key)
