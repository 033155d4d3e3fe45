"""What issuing mobile SDK tokens needs of Terra, and what binding SDK connections to them needs stored."""

from typing import Protocol

from terra_connect.kernel.deadline import Deadline
from terra_connect.terra.messages import TerraSdkToken


class TerraSdkGateway(Protocol):
    def generate_auth_token(self, reference_id: str, deadline: Deadline) -> TerraSdkToken:
        """A single-use token for Terra's mobile SDK initConnection(), for the reference_id's device."""
        ...


class SdkTokenStore(Protocol):
    """The tokens issued to each app user, and the SDK connections claimed for one that no token backs."""

    def record_sdk_token(self, reference_id: str, issued_at: int, keep_until: int) -> None:
        """Remember that a mobile SDK token was issued to the reference_id (stamps), until `keep_until`."""
        ...

    def sdk_tokens_issued(self, reference_id: str) -> list[int]:
        """When tokens still remembered were issued to the reference_id."""
        ...

    def record_unverified(self, reference_id: str, terra_user_id: str, provider: str, at: int) -> None:
        """An SDK connection claimed for the reference_id that no token issued to it backs: kept for the history
        retention, for the operator to see (not when an erasure of the app user started after `at`)."""
        ...

    def was_unverified(self, reference_id: str, terra_user_id: str) -> bool:
        """Whether an SDK connection of the Terra user was recorded as unverified for the reference_id."""
        ...
