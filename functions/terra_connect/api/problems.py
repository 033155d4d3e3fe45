"""RFC 9457 problem details: the one shape every error answer takes.

`type` is "about:blank" (so `title` is the HTTP status phrase) and the stable, machine-readable
`code` says which problem it is; README lists every code.
"""

import json
from collections.abc import Mapping, Sequence
from http import HTTPStatus
from typing import Any

from aws_lambda_powertools.event_handler import Response

PROBLEM_JSON = "application/problem+json"
NO_STORE = {"Cache-Control": "no-store"}


def problem_response(
    status: int,
    code: str,
    detail: str,
    request_id: str | None,
    *,
    headers: Mapping[str, str] | None = None,
    errors: Sequence[Mapping[str, Any]] | None = None,
) -> Response[str]:
    body: dict[str, Any] = {
        "type": "about:blank",
        "title": HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
        "code": code,
        "request_id": request_id,
    }
    if errors:
        body["errors"] = list(errors)
    # Powertools serialises only application/json bodies, so problem+json is serialised here.
    return Response(
        status_code=status,
        content_type=PROBLEM_JSON,
        body=json.dumps(body, separators=(",", ":")),
        headers={**NO_STORE, **(headers or {})},
    )
