"""Every route the API function serves (all behind the JWT authorizer): one list for its handler and for the
OpenAPI document, so neither can leave a route out."""

from terra_connect.api.routes import widget_sessions
from terra_connect.connections import routes as connections
from terra_connect.sdk import routes as mobile_sdk

API_ROUTERS = (widget_sessions.router, connections.router, mobile_sdk.router)
