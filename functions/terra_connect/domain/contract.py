"""The base of every request, response and problem model."""

from pydantic import BaseModel, ConfigDict


class Contract(BaseModel):
    """Every request and response model. Schemas are built on first use, not at import: a cold container builds
    only the models of the route it serves (pydantic's `defer_build`)."""

    model_config = ConfigDict(defer_build=True)
