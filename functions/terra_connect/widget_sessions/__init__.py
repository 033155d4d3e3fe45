"""Terra widget sessions bound to the signed-in caller: POST /v1/widget-sessions."""
