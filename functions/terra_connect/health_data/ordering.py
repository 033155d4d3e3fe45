"""Which copy of a record is current: a total order on copies, so every arrival order keeps the same one.

Terra delivers at least once, retries for hours, and re-sends a day's cumulative record as it grows; on webhook
destinations a newer copy carries a higher `x-terra-ordering-timestamp`. A copy is ordered by
K = (ordering_ms, signed_ms, digest):

- `ordering_ms`: the time the delivery stands for, by the registry's own rule (signatures.fact_time: Terra's
  ordering timestamp when the signature makes it believable, else the signing second);
- `signed_ms`: the signature's time (a queue destination's send time, which is all it has);
- `digest`: sha256 of the record's canonical JSON, so that two copies of the same time still have one winner, and
  a copy re-serialised (other key order, other spacing) is the same copy.

K is a total order, and keeping the larger of the stored and the incoming copy is a max-register: whatever the
order, duplicates and replays included, the copy kept is the largest ever delivered.
"""

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from terra_connect.webhooks.signatures import fact_time


def canonical_json(value: Any) -> str:
    """One text per JSON value: keys sorted, no spaces, ASCII only (any string, even a lone surrogate Terra's JSON
    may escape, is written as an escape, so the text always encodes). Raises ValueError for NaN or infinities, which
    JSON cannot hold."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False)


def content_digest(canonical: str) -> str:
    """sha256 (hex) of a canonical JSON text."""
    return hashlib.sha256(canonical.encode("ascii")).hexdigest()


@dataclass(frozen=True, slots=True, order=True)
class DeliveryTime:
    """When a delivery happened, as far as ordering its copies goes (milliseconds since the epoch)."""

    ordering_ms: int
    signed_ms: int

    @classmethod
    def of_webhook(cls, headers: Mapping[str, str], signed_at: int) -> "DeliveryTime":
        """A webhook delivery whose signature's `t` is `signed_at` (seconds)."""
        return cls(fact_time(headers, signed_at), signed_at * 1000)

    @classmethod
    def of_queue_message(cls, sent_ms: int) -> "DeliveryTime":
        """A message from Terra's queue destination: unsigned and without ordering header, dated by its sending."""
        return cls(sent_ms, sent_ms)


@dataclass(frozen=True, slots=True, order=True)
class CopyOrder:
    """K = (ordering_ms, signed_ms, digest): the larger copy is the newer one."""

    ordering_ms: int
    signed_ms: int
    digest: str

    @classmethod
    def of(cls, time: DeliveryTime, digest: str) -> "CopyOrder":
        return cls(time.ordering_ms, time.signed_ms, digest)


class Action(StrEnum):
    WRITE = "write"  # store this copy: there is none yet, or it is newer with other content
    RAISE_ORDER = "raise_order"  # the same content delivered later: raise the stored copy's order, write nothing
    SKIP = "skip"  # the stored copy is as new or newer


@dataclass(frozen=True, slots=True)
class Decision:
    action: Action
    changed: bool  # the payload counts this record as changed (so its payload part lists it and it is announced)


def decide(stored: CopyOrder | None, stored_payload_id: str | None, incoming: CopyOrder, payload_id: str) -> Decision:
    """The write rule for one record: `stored` is the current copy's order and the payload that wrote it (None:
    no copy); `incoming` the copy `payload_id` carries."""
    if stored is None:
        return Decision(Action.WRITE, changed=True)
    if stored.digest != incoming.digest:
        newer = incoming > stored
        return Decision(Action.WRITE if newer else Action.SKIP, changed=newer)
    # The same content. Written by this same payload, it is an earlier attempt's write (a crash came between its
    # commit and its payload part, or Terra re-signed a retry later): it still counts, once - the payload part is
    # written only if absent. A retry signed later still raises the order, so the stored copy stays the largest.
    action = Action.RAISE_ORDER if incoming > stored else Action.SKIP
    return Decision(action, changed=stored_payload_id == payload_id)
