"""Every route the API function serves (all behind the JWT authorizer): one list for its handler and for the
OpenAPI document, so neither can leave a route out. Importing it builds nothing (tooling/openapi.py reads it)."""

from terra_connect.connections import routes as connections
from terra_connect.health_data import routes as health_data
from terra_connect.providers import routes as providers
from terra_connect.sdk import routes as sdk
from terra_connect.widget_sessions import routes as widget_sessions

API_ROUTERS = (widget_sessions.router, connections.router, sdk.router, providers.router, health_data.router)
