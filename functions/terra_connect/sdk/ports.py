"""What issuing mobile SDK tokens needs of Terra."""

from typing import Protocol

from terra_connect.kernel.deadline import Deadline
from terra_connect.terra.messages import TerraSdkToken


class TerraSdkGateway(Protocol):
    def generate_auth_token(self, reference_id: str, deadline: Deadline) -> TerraSdkToken:
        """A single-use token for Terra's mobile SDK initConnection(), for the reference_id's device."""
        ...
