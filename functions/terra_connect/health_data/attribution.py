"""Whose data a payload is: the app user the connection registry says owns its Terra user.

1. The registry's record of the Terra user decides: a tombstone (its app user was erased) refuses the data; an
   owner - also of a connection that has ended since, late data is still theirs - takes it.
2. A Terra user the registry does not know yet (its `auth` webhook may come after its first data) of a provider
   connected through Terra's widget: the payload's own `user.reference_id`, which Terra set from the widget session
   this service asked for. Lab reports have no Terra user: their `reference_id` is all there is.
3. Otherwise - an SDK provider (its reference_id is whatever the device said, sdk/binding.py), a Terra user the
   registry knows without an owner, or no reference_id at all - the data waits a few minutes for the registry to
   learn its owner, then is kept under the Terra user until it does. A payload with neither Terra user nor owner
   is kept raw only.
   A payload that came through Terra's SQS destination never goes by its reference_id (`trust_hint=False`): the
   queue admits Terra's role, which every Terra customer can ask to send, so its messages are not known to be
   this service's and only the registry attributes them.
4. An owner whose erasure began at or after the payload was signed refuses it (the write checks it again, in its
   transaction: ports.RecordIndex.commit).

Ownership is read when the payload is processed: a later change of owner applies to data processed after it;
what is stored never moves.
"""

from dataclasses import dataclass
from enum import StrEnum

from terra_connect.health_data import layout
from terra_connect.health_data.models import DataPayload
from terra_connect.health_data.ports import OwnerDirectory
from terra_connect.sdk.binding import SDK_PROVIDERS


class Verdict(StrEnum):
    OWNER = "owner"  # kept under the app user
    WAIT = "wait"  # no owner yet: try again later
    UNATTRIBUTED = "unattributed"  # no owner after waiting: kept under the Terra user
    REFUSED = "refused"  # its app user was erased: not kept
    NOBODY = "nobody"  # no Terra user, no owner: raw body only


@dataclass(frozen=True, slots=True)
class Attribution:
    verdict: Verdict
    owner: str | None = None
    terra_user_id: str | None = None

    @property
    def partition(self) -> str | None:
        """Where the records are kept; None when they are not."""
        if self.verdict is Verdict.OWNER and self.owner is not None:
            return layout.owner_partition(self.owner)
        if self.verdict is Verdict.UNATTRIBUTED and self.terra_user_id is not None:
            return layout.unattributed_partition(self.terra_user_id)
        return None


def attribute(
    payload: DataPayload, directory: OwnerDirectory, *, signed_ms: int, may_wait: bool, trust_hint: bool = True
) -> Attribution:
    """`may_wait`: whether the payload may still wait for an owner (a few minutes after it was first received);
    `trust_hint`: whether the payload's own reference_id may name its owner (only for a sender known to be Terra)."""
    user = payload.terra_user
    hint = payload.owner_hint if trust_hint else None
    if user is None:
        if hint is None:
            return Attribution(Verdict.NOBODY)
        return _owned(hint, None, directory, signed_ms)
    ownership = directory.owner_of(user.terra_user_id)
    if ownership.erased:
        return Attribution(Verdict.REFUSED, terra_user_id=user.terra_user_id)
    if ownership.owner is not None:
        return _owned(ownership.owner, user.terra_user_id, directory, signed_ms)
    if not ownership.known and hint is not None and not _sdk_provider(user.provider):
        return _owned(hint, user.terra_user_id, directory, signed_ms)
    return Attribution(Verdict.WAIT if may_wait else Verdict.UNATTRIBUTED, terra_user_id=user.terra_user_id)


def _owned(owner: str, terra_user_id: str | None, directory: OwnerDirectory, signed_ms: int) -> Attribution:
    erased_at = directory.erased_at(owner)
    verdict = Verdict.REFUSED if erased_at is not None and erased_at >= signed_ms else Verdict.OWNER
    return Attribution(verdict, owner, terra_user_id)


def _sdk_provider(provider: str | None) -> bool:
    return provider is not None and provider.upper() in SDK_PROVIDERS
