"""Terra's API credentials, and where the client and the webhook receiver get them (platform/secrets.py)."""

from dataclasses import dataclass, field
from typing import Protocol


@dataclass(frozen=True, slots=True)
class TerraCredentials:
    """Terra's API credentials. Never printed: repr hides every value."""

    dev_id: str = field(repr=False)
    api_key: str = field(repr=False)
    webhook_signing_secret: str | None = field(default=None, repr=False)


class CredentialsSource(Protocol):
    def get(self, *, refresh: bool = False) -> TerraCredentials:
        """The current credentials; `refresh` bypasses any cache (they may have been rotated)."""
        ...
