"""Terra's webhook signature, made the way Terra makes it: `t=<unix seconds>,v1=<hex HMAC-SHA256 of "t." + body>`."""

import hashlib
import hmac
import time


def terra_signature(secret: str, raw: bytes, timestamp: int | None = None) -> str:
    """The `terra-signature` value for `raw`, signed at `timestamp` (now when not given)."""
    at = int(time.time()) if timestamp is None else timestamp
    digest = hmac.new(secret.encode(), f"{at}.".encode() + raw, hashlib.sha256).hexdigest()
    return f"t={at},v1={digest}"
