"""The API resolver: strict body parsing and the one mapping from errors to problem+json.

Request bodies and path parameters are validated by the routes against the JSON Schemas of
terra_connect.domain.models (see dependencies.signed_in_caller), not by Powertools' pydantic-based validation:
pydantic's import and schema building were a fifth of every cold start.
"""

import binascii
import json
from typing import Any, NoReturn

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.exceptions import NotFoundError

from terra_connect.api.observability import count_error, logger
from terra_connect.api.problems import problem_response
from terra_connect.domain.errors import (
    InvalidRequest,
    MalformedBody,
    NotFound,
    PayloadTooLarge,
    ServiceError,
)

MAX_BODY_BYTES = 16 * 1024


def _reject_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    document = dict(pairs)
    if len(document) != len(pairs):
        # Parsers disagree on which duplicate wins; refusing them removes the ambiguity.
        raise MalformedBody("The JSON body repeats a key.")
    return document


def _reject_constant(name: str) -> NoReturn:
    raise MalformedBody(f"{name} is not valid JSON.")


def parse_json_body(text: str) -> Any:
    """Strict JSON: size-capped, no duplicate keys, no NaN/Infinity. `null` is no body (the options are optional)."""
    if len(text) > MAX_BODY_BYTES or len(text.encode("utf-8", "surrogatepass")) > MAX_BODY_BYTES:
        raise PayloadTooLarge(f"The request body is larger than {MAX_BODY_BYTES} bytes.")
    try:
        document = json.loads(text, object_pairs_hook=_reject_duplicate_keys, parse_constant=_reject_constant)
    except (ValueError, RecursionError):
        raise MalformedBody from None
    if document is not None and not isinstance(document, dict):
        raise InvalidRequest("The request body must be a JSON object.")
    return document


def create_resolver(*routers: Router) -> APIGatewayHttpResolver:
    """A resolver with strict JSON parsing and problem+json for every error."""
    app = APIGatewayHttpResolver(json_body_deserializer=parse_json_body)
    for router in routers:
        app.include_router(router)

    def _request_id() -> str | None:
        return app.current_event.request_context.request_id

    def _problem_for(error: ServiceError) -> Response[str]:
        log = {"code": error.code, "status": error.status, **error.log_context}
        errors = error.errors if isinstance(error, InvalidRequest) else None
        if error.status >= 500:
            logger.error("Request failed", extra=log)
            count_error(
                error.code,
                server_side=True,
                function=app.lambda_context,
                terra_status=error.log_context.get("terra_status"),
            )
        else:
            logger.info("Request refused", extra={**log, "errors": errors} if errors else log)
            count_error(error.code, server_side=False)
        return problem_response(
            error.status, error.code, error.detail, _request_id(), headers=error.headers, errors=errors
        )

    @app.exception_handler(ServiceError)
    def _service_error(error: ServiceError) -> Response[str]:
        return _problem_for(error)

    @app.exception_handler([UnicodeDecodeError, binascii.Error])
    def _undecodable_body(_: Exception) -> Response[str]:
        # Raised while Powertools decodes a base64 or non-UTF-8 body, before any model sees it.
        return _problem_for(MalformedBody())

    @app.not_found
    def _not_found(_: NotFoundError) -> Response[str]:
        return _problem_for(NotFound())

    @app.exception_handler(Exception)
    def _unexpected(error: Exception) -> Response[str]:
        logger.exception("Unexpected error", extra={"error_type": type(error).__name__})
        return _problem_for(ServiceError())

    return app
