"""Page tokens of the read route: opaque to apps, strict to read, bound to the query that gave them.

There is no secret in them: a token holds only where the caller's listing stopped (the index's last key, less
the partition), and the partition always comes from the caller's verified identity, never from the token - a
token altered, forged or taken from someone else can at most move a caller within their own records.

It is read strictly all the same, so that a bad one is a clear `422 invalid_page_token` and never reaches
DynamoDB as a start key: base64url without padding (the canonical encoding only) of canonical JSON
`{"v": 1, "t": type, "s": start, "e": end, "k": sort key, "d": day key, "c": check}` (`"p": payload id` in place
of the dates for a payload's records); every field typed and bounded; `c` the start of sha256 over the rest, so
that any altered byte is refused rather than misread; both keys of the requested type, naming the same record,
and its day inside the requested range.
"""

import base64
import binascii
import hashlib
import json
import re
from dataclasses import dataclass
from typing import Any

from terra_connect.health_data.keys import day_of
from terra_connect.health_data.layout import RECORD_PREFIX
from terra_connect.health_data.models import RecordPosition
from terra_connect.health_data.ordering import canonical_json
from terra_connect.kernel.errors import InvalidPageToken

VERSION = 1
MAX_TOKEN_LENGTH = 2048
MAX_KEY_LENGTH = 700  # a sort or day key: type (40) + day + provider (64) + record key (256 bytes) and separators
_BASE64URL = re.compile(r"[A-Za-z0-9_-]+")
_CHECK_LENGTH = 16
_DAY_LENGTH = 10


@dataclass(frozen=True, slots=True)
class TokenScope:
    """The query a token belongs to: a type and either a range of days or one payload."""

    data_type: str
    start_day: str | None = None
    end_day: str | None = None
    payload_id: str | None = None

    def fields(self) -> dict[str, str]:
        if self.payload_id is not None:
            return {"t": self.data_type, "p": self.payload_id}
        return {"t": self.data_type, "s": self.start_day or "", "e": self.end_day or ""}


def encode_page_token(scope: TokenScope, position: RecordPosition) -> str:
    body: dict[str, Any] = {"v": VERSION, **scope.fields(), "k": position.sort_key, "d": position.day_key}
    document = {**body, "c": _check(body)}
    return base64.urlsafe_b64encode(canonical_json(document).encode("ascii")).rstrip(b"=").decode("ascii")


def decode_page_token(token: Any, scope: TokenScope) -> RecordPosition:
    """Where the page `token` continues from, if `scope`'s own query gave it; raises InvalidPageToken otherwise."""
    document = _document(token)
    body = {name: value for name, value in document.items() if name != "c"}
    expected = {"v": VERSION, **scope.fields()}
    if set(document) != {*expected, "k", "d", "c"} or document["c"] != _check(body):
        raise InvalidPageToken(log_context={"reason": "page token altered or of another version"})
    # Strictly: true is not 1, nor 1.0.
    if any(type(document[name]) is not type(value) or document[name] != value for name, value in expected.items()):
        raise InvalidPageToken(log_context={"reason": "page token of another query"})
    sort_key, day_key = document["k"], document["d"]
    if not _same_record(scope, sort_key, day_key):
        raise InvalidPageToken(log_context={"reason": "page token keys outside the query"})
    return RecordPosition(sort_key, day_key)


def _document(token: Any) -> dict[str, Any]:
    if not isinstance(token, str) or len(token) > MAX_TOKEN_LENGTH or not _BASE64URL.fullmatch(token):
        raise InvalidPageToken(log_context={"reason": "page token not base64url"})
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        text = raw.decode("ascii")
        document = json.loads(text)
        # Only the one text encode_page_token writes: no other padding bits, spacing, key order or repeated key.
        canonical = base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii") == token
        canonical = canonical and canonical_json(document) == text
    except (binascii.Error, ValueError, RecursionError):
        raise InvalidPageToken(log_context={"reason": "page token not encoded JSON"}) from None
    if not (canonical and isinstance(document, dict)):
        raise InvalidPageToken(log_context={"reason": "page token not canonical"})
    return document


def _same_record(scope: TokenScope, sort_key: Any, day_key: Any) -> bool:
    """Both keys of one record of the scope's type, and - for a range - its day within the range."""
    if not (isinstance(sort_key, str) and isinstance(day_key, str)):
        return False
    if len(sort_key) > MAX_KEY_LENGTH or len(day_key) > MAX_KEY_LENGTH:
        return False
    type_prefix = f"{scope.data_type}#"
    sort_prefix = f"{RECORD_PREFIX}{type_prefix}"
    if not (sort_key.startswith(sort_prefix) and day_key.startswith(type_prefix)):
        return False
    day = day_key[len(type_prefix) : len(type_prefix) + _DAY_LENGTH]
    rest = day_key[len(type_prefix) + _DAY_LENGTH :]
    record = sort_key[len(sort_prefix) :]
    if day_of(day) is None or rest != f"#{record}" or "#" not in record:
        return False
    if scope.payload_id is not None:
        return True
    return (scope.start_day or "") <= day <= (scope.end_day or "")


def _check(body: dict[str, Any]) -> str:
    return hashlib.sha256(canonical_json(body).encode("ascii")).hexdigest()[:_CHECK_LENGTH]
