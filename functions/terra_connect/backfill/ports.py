"""What a backfill needs from the outside world: Terra's data requests, a store for its state, and a way to be woken.

Terra's answers to a data request (`GET /<type>?user_id=&start_date=&end_date=&to_webhook=true`) arrive here as
plain values, one per published outcome, so the service decides what each means and no adapter does.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from terra_connect.backfill.models import DataRequest
from terra_connect.backfill.plan import NewConnection
from terra_connect.backfill.state import BackfillState
from terra_connect.health_data.events import BackfillCompleted
from terra_connect.kernel.deadline import Deadline

# A queue delays a message at most this long (SQS's DelaySeconds: 900 s); a longer wait takes several wake-ups.
MAX_WAKE_DELAY_MS = 900_000


@dataclass(frozen=True, slots=True)
class Allowance:
    """What Terra said of this user's hourly budget on an accepted request (X-Terra-RateLimit-Remaining and
    -Reset-After), when it said it."""

    remaining: int
    reset_after_ms: int


@dataclass(frozen=True, slots=True)
class Accepted:
    """200 `DataSentToWebhook`: the data follows as webhooks under `reference`; `large` (Terra's answer has a
    message) when it comes in chunks announced by `large_request_sending`."""

    reference: str
    large: bool
    allowance: Allowance | None = None


@dataclass(frozen=True, slots=True)
class DataInline:
    """200 with the data itself (`{user, data, type}`): Terra answered in the body instead of sending webhooks."""

    body: bytes
    allowance: Allowance | None = None


@dataclass(frozen=True, slots=True)
class RateLimited:
    """429. `rule` is X-Terra-RateLimit-Rule (`r1`: too many days in one request, never accepted as it is; `r2`:
    the hour's budget is spent); `retry_after_ms` from Retry-After, when Terra sent one."""

    rule: str | None
    retry_after_ms: int | None


@dataclass(frozen=True, slots=True)
class Refused:
    """400 (a parameter Terra will not take), 404 (Terra no longer knows the user), or an answer that cannot be
    read: asking again the same way cannot help."""

    status: int | None


@dataclass(frozen=True, slots=True)
class Unauthorized:
    """401/403 even with the secret read again: the key is being rotated or the account misconfigured."""

    status: int


@dataclass(frozen=True, slots=True)
class Unavailable:
    """5xx, a timeout or a broken connection, after the client's own short retries."""

    retry_after_ms: int | None = None


TerraAnswer = Accepted | DataInline | RateLimited | Refused | Unauthorized | Unavailable


@dataclass(frozen=True, slots=True)
class ProviderSupport:
    """What Terra says of a provider: connected through the mobile SDK (its data is on the phone), and which
    dated data types it offers (None: Terra did not say)."""

    sdk: bool
    types: frozenset[str] | None


class TerraDataRequests(Protocol):
    def request(self, terra_user_id: str, request: DataRequest, deadline: Deadline) -> TerraAnswer:
        """Ask Terra for the request's data, to be sent as webhooks. Never raises for Terra's answers."""
        ...

    def provider_support(self, provider: str, deadline: Deadline) -> ProviderSupport:
        """Never raises: what Terra could not say is unknown."""
        ...


@dataclass(frozen=True, slots=True)
class Stored:
    state: BackfillState
    version: int  # what `save` compares with, so concurrent writers never lose each other's changes


class StoreUnavailable(Exception):
    """The store is down or throttling: the work is retried later (its message stays on the queue)."""


class BackfillStore(Protocol):
    def load(self, terra_user_id: str) -> Stored | None:
        """A strongly consistent read of the Terra user's backfill, open or closed."""
        ...

    def create(self, state: BackfillState) -> bool:
        """Store a new backfill, listed as open until its deadline; False (and nothing written) when the Terra
        user already has one."""
        ...

    def save(self, state: BackfillState, version: int, ended: BackfillCompleted | None = None) -> bool:
        """Replace the backfill if it is still at `version`; False (nothing written) if another writer was first.
        `ended`: how it ended, kept with it for the event (and it is no longer listed as open)."""
        ...

    def open_backfills(self, limit: int) -> Sequence[str]:
        """Terra user ids of open backfills, the earliest deadline first."""
        ...


class WakeScheduler(Protocol):
    def wake(self, terra_user_id: str, token: int, delay_ms: int) -> None:
        """Have the Terra user's backfill stepped again in `delay_ms` (at most MAX_WAKE_DELAY_MS), by a message
        carrying `token`; only the message whose token the backfill holds takes the step."""
        ...


class InlineData(Protocol):
    def hand_over(self, terra_user_id: str, data_type: str, body: bytes) -> None:
        """Keep data Terra answered inline exactly as a webhook delivering it would be kept."""
        ...


class BackfillTrigger(Protocol):
    def connected(self, connection: NewConnection) -> None:
        """Have a new connection backfilled (the events function calls it for each Wearable Connected)."""
        ...
