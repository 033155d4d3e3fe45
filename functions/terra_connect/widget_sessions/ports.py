"""What creating a widget session needs of Terra."""

from typing import Protocol

from terra_connect.kernel.deadline import Deadline
from terra_connect.terra.messages import TerraWidgetSession, WidgetSessionParams


class WidgetSessionGateway(Protocol):
    def create_widget_session(self, params: WidgetSessionParams, deadline: Deadline) -> TerraWidgetSession:
        """Raises StaleConnectedUsers when Terra refuses the connected_uids pre-fill."""
        ...
