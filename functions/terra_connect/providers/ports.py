"""What listing the account's providers needs of Terra."""

from typing import Protocol

from terra_connect.kernel.deadline import Deadline
from terra_connect.terra.messages import Integrations


class TerraIntegrationsGateway(Protocol):
    def integrations(self, deadline: Deadline) -> Integrations:
        """The providers enabled for the Terra account: cloud ones, and those served through the mobile SDK."""
        ...
