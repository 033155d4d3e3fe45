"""Apple Health, Samsung Health and Health Connect: connected on the device with Terra's mobile SDK.

The SDK's initConnection() needs a single-use token (valid 180 s) that only a backend may create, and it takes a
reference_id from the device. A modified app could therefore name another user's reference_id and attach its own
Apple Health to that user. This service binds the two: it records every token it issues (to whom, when), and a
Terra user of an SDK provider only counts as an app user's connection if that app user was issued a token around
the moment Terra created it. Anything else is kept out of the user's connections, recorded as unverified, logged
and counted. docs/security.md states the rule and its limits.
"""

from collections.abc import Callable
from datetime import timedelta

from terra_connect.sdk.ports import SdkTokenStore

# Providers Terra serves only through its mobile SDK (terra-api.md: APPLE, SAMSUNG, GOOGLEFIT / HEALTH_CONNECT).
SDK_PROVIDERS = frozenset({"APPLE", "SAMSUNG", "GOOGLEFIT", "HEALTH_CONNECT"})
TOKEN_LIFETIME_MS = 180_000  # Terra's generateAuthToken: single use, valid 180 s
# After the token expires: the SDK finishes the connection, Terra creates the user and reports it (its clock).
GRACE_MS = 120_000
# Before the token was issued: Terra's clock may run behind this service's.
CLOCK_SKEW_MS = 60_000
# Kept long enough to judge every delivery of the `auth` event Terra retries (for about 9 hours).
TOKEN_RECORD_RETENTION = timedelta(days=1)

# Told about each SDK connection kept out (terra_user_id, provider), so the composition root logs and counts it.
UnverifiedObserver = Callable[[str, str], None]


def _ignore_unverified(terra_user_id: str, provider: str) -> None:
    """Default observer: record nothing."""


class SdkBinding:
    """Decides whether an app user may own an SDK provider's Terra user: was it issued a token back then?"""

    def __init__(self, tokens: SdkTokenStore, on_unverified: UnverifiedObserver = _ignore_unverified) -> None:
        self._tokens = tokens
        self._on_unverified = on_unverified

    def judge(
        self, reference_id: str, terra_user_id: str, provider: str, connected_at: int, *, judged_before: bool = False
    ) -> bool:
        """The verdict, given once per app user and Terra user (the registry keeps it with the record).
        `connected_at`: when Terra created the Terra user (or, if Terra did not say, first reported it).
        `judged_before`: the record was written before verdicts were kept, so one it kept out left an unverified
        claim, and stays out."""
        if judged_before and self._tokens.was_unverified(reference_id, terra_user_id):
            return False
        issued = self._tokens.sdk_tokens_issued(reference_id)
        if any(at - CLOCK_SKEW_MS <= connected_at <= at + TOKEN_LIFETIME_MS + GRACE_MS for at in issued):
            return True
        self._tokens.record_unverified(reference_id, terra_user_id, provider, connected_at)
        self._on_unverified(terra_user_id, provider)
        return False
