"""Schemathesis hooks for `make fuzz` (loaded through SCHEMATHESIS_HOOKS).

The webhook route authenticates by signature, so unsigned fuzzing only ever reaches its 401. Here each webhook case
whose headers were generated as valid is signed the way Terra signs, over the exact bytes sent, so the generated
events - valid and invalid - reach the parser and the registry. Cases generated with invalid headers stay unsigned.
Each signed case also gets its own delivery id, as Terra gives each delivery one: generated ids repeat, and a
repeated id is acknowledged as a duplicate without reaching the parser.
"""

import json
import os
import uuid
from typing import Any

import schemathesis
from schemathesis.core import NotSet
from schemathesis.core.parameters import ParameterLocation

from local.signing import terra_signature

WEBHOOK_PATH = "/v1/terra/webhooks"
SECRET_VARIABLE = "FUZZ_WEBHOOK_SIGNING_SECRET"  # noqa: S105 - the variable's name


def signable(case: schemathesis.Case[Any]) -> bool:
    if case.operation.path != WEBHOOK_PATH or SECRET_VARIABLE not in os.environ:
        return False
    if case.media_type not in (None, "application/json"):
        return False
    return case.meta is None or not case.meta.is_negative_at(ParameterLocation.HEADER)


def wire_body(body: Any) -> bytes:
    """The bytes that go out: what was generated, serialised once, so the signature covers exactly them."""
    if isinstance(body, NotSet):
        return b""
    if isinstance(body, bytes):
        return body
    return json.dumps(body, ensure_ascii=False).encode("utf-8", "surrogatepass")


@schemathesis.hook
def before_call(context: schemathesis.HookContext, case: schemathesis.Case[Any], kwargs: dict[str, Any]) -> None:
    if not signable(case):
        return
    raw = wire_body(case.body)
    if raw:
        case.body = raw
    signature = terra_signature(os.environ[SECRET_VARIABLE], raw)
    case.headers["terra-signature"] = signature
    case.headers["x-terra-trace-id"] = str(uuid.uuid4())
