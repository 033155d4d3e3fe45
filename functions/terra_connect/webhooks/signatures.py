"""Terra's webhook signatures: `t=<unix seconds>,v1=<hex>[,v1=...]`, HMAC-SHA256 over f"{t}.{raw body}"; and the
time a signed delivery stands for, which the signature bounds."""

import hashlib
import hmac
from collections.abc import Mapping

from terra_connect.kernel.errors import InvalidSignature

# Docs and SDKs name the header terra-signature; the platform now sends X-Terra-Signature (and the old one too).
SIGNATURE_HEADERS = ("terra-signature", "x-terra-signature")
TOLERANCE_SECONDS = 300
MAX_SIGNATURE_HEADER = 1024
_HEX_DIGITS = frozenset("0123456789abcdef")


def signature_header(headers: Mapping[str, str]) -> str | None:
    """Terra's header, read case-insensitively under either of its names."""
    lowered = {name.lower(): value for name, value in headers.items()}
    return next((lowered[name] for name in SIGNATURE_HEADERS if name in lowered), None)


def _parse(header: str) -> tuple[int, list[str]]:
    timestamp: int | None = None
    signatures: list[str] = []
    for part in header.split(","):
        key, _, value = part.strip().partition("=")
        # str.isdigit() also accepts "²" and other non-ASCII digits that int() refuses.
        if key == "t" and value.isascii() and value.isdigit() and len(value) <= 12:
            timestamp = int(value)
        elif key == "v1" and value and set(value.lower()) <= _HEX_DIGITS:
            signatures.append(value.lower())
    if timestamp is None or not signatures:
        raise InvalidSignature(log_context={"reason": "no t= or no v1= part"})
    return timestamp, signatures


def verify_signature(header: str | None, raw_body: bytes, secret: str, now: float) -> int:
    """The signing time, if the header holds a valid signature made within 300 s of now (either side)."""
    if not header or len(header) > MAX_SIGNATURE_HEADER:
        raise InvalidSignature(log_context={"reason": "no signature header"})
    timestamp, signatures = _parse(header)
    if abs(now - timestamp) > TOLERANCE_SECONDS:
        raise InvalidSignature(log_context={"reason": "timestamp outside the 300 s tolerance"})
    expected = hmac.new(secret.encode(), f"{timestamp}.".encode() + raw_body, hashlib.sha256).hexdigest()
    # Compare against every v1 (several may be sent during Terra's own secret rotation) without short-circuit.
    matches = [hmac.compare_digest(expected, candidate) for candidate in signatures]
    if not any(matches):
        raise InvalidSignature(log_context={"reason": "no v1 signature matches"})
    return timestamp


# Terra stamps each event (unix milliseconds) when it emits it and keeps the stamp on every retry; a newer copy
# carries a higher one. The signature does not cover it (only `t.body`), so only a value Terra could have sent
# with this signature is believed: emitted no later than the signing second, and no earlier than Terra still
# retries (10 attempts, 30 s doubling to an 8 h cap: about 8.5 hours, rounded up). Anything else - absent,
# unreadable, out of range - gives way to the signature's `t`. So a captured delivery replayed (within the 300 s
# tolerance) with a forged header can never look newer than its own signature already says.
ORDERING_HEADER = "x-terra-ordering-timestamp"
MAX_ORDERING_LAG_MS = 12 * 3600 * 1000
_MAX_ORDERING_DIGITS = 16


def fact_time(headers: Mapping[str, str], signed_at: int) -> int:
    """The time (milliseconds) a delivery signed at `signed_at` (seconds) stands for: Terra's ordering timestamp
    when it carries one it could have sent, else the start of the signing second."""
    signed = signed_at * 1000
    value = next((v for name, v in headers.items() if name.lower() == ORDERING_HEADER), None)
    # str.isdigit() also accepts non-ASCII digits that int() reads.
    if value is None or not (value.isascii() and value.isdigit() and len(value) <= _MAX_ORDERING_DIGITS):
        return signed
    ordering = int(value)
    return ordering if signed - MAX_ORDERING_LAG_MS <= ordering < signed + 1000 else signed
