"""What the domain needs from the outside world, as small protocols the adapters implement."""

from dataclasses import dataclass, field
from typing import Protocol

from terra_connect.domain.deadline import Deadline
from terra_connect.domain.models import AuthUrlParams, TerraAuthUrl, TerraWidgetSession, WidgetSessionParams


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


class WidgetSessionGateway(Protocol):
    def create_widget_session(self, params: WidgetSessionParams, deadline: Deadline) -> TerraWidgetSession: ...


class TerraConnectionsGateway(Protocol):
    def authenticate_user(self, params: AuthUrlParams, deadline: Deadline) -> TerraAuthUrl: ...

    def deauthenticate_user(self, terra_user_id: str, deadline: Deadline) -> bool: ...
