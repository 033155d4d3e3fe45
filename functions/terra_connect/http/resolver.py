"""The resolver every function serves HTTP with: strict body parsing and the one mapping from errors to problem+json.

The API function's resolver validates requests with Powertools (`enable_validation`): each route's body model and
path parameters (each capability's models.py), before the route runs. The webhook function's does not: its one
route reads the raw body the signature covers, and that function never imports pydantic.
"""

import binascii
import json
from typing import Any, NoReturn

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.exceptions import NotFoundError
from aws_lambda_powertools.event_handler.openapi.exceptions import (
    RequestUnsupportedContentType,
    RequestValidationError,
)
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEventV2

from terra_connect.http.media_types import declares_non_json, has_non_json_body
from terra_connect.http.problems import problem_response
from terra_connect.kernel.errors import (
    InvalidRequest,
    MalformedBody,
    NotFound,
    PayloadTooLarge,
    ReferenceIdNotAllowed,
    ServiceError,
    UnsupportedMediaType,
)
from terra_connect.kernel.identity import names_reference_id
from terra_connect.platform.observability import count_error, logger

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


def refusal(error: RequestValidationError | RequestUnsupportedContentType, *, json_body: bool) -> ServiceError:
    """What a request Powertools' validation refused is answered: the location and kind of each error, never the
    value (pydantic's messages can echo the input back)."""
    if isinstance(error, RequestUnsupportedContentType) or not json_body:
        return UnsupportedMediaType()  # Powertools parses form and multipart bodies too; this API reads JSON only
    errors = [{"loc": list(e["loc"]), "type": e["type"]} for e in error.errors()]
    if any(e["loc"][:1] == ["response"] for e in errors):
        # Powertools reports a route's answer breaking its own annotation this way: this service's bug.
        logger.error("An answer failed its own model", extra={"errors": errors})
        return ServiceError()
    if names_reference_id(str(e["loc"][-1]) for e in errors if e["type"] == "extra_forbidden"):
        return ReferenceIdNotAllowed()
    return InvalidRequest(errors=errors)


def names_reference_id_outside_body(event: APIGatewayProxyEventV2) -> bool:
    """A header or query parameter named like reference_id."""
    headers = event.raw_event.get("headers") or ()
    return names_reference_id(headers) or names_reference_id(event.query_string_parameters or ())


def create_resolver(*routers: Router, enable_validation: bool = False) -> APIGatewayHttpResolver:
    """A resolver with strict JSON parsing and problem+json for every error; with `enable_validation`, Powertools
    validates every route's inputs against its models first."""
    app = APIGatewayHttpResolver(enable_validation=enable_validation, json_body_deserializer=parse_json_body)
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

    if not enable_validation:
        return app

    @app.exception_handler([RequestValidationError, RequestUnsupportedContentType])
    def _invalid_request(error: RequestValidationError | RequestUnsupportedContentType) -> Response[str]:
        # Validation runs before the route's own checks: a reference_id in a header or the query is named as such
        # whatever else is wrong with the request.
        if names_reference_id_outside_body(app.current_event):
            return _problem_for(ReferenceIdNotAllowed())
        return _problem_for(refusal(error, json_body=not has_non_json_body(app.current_event)))

    @app.exception_handler(ValueError)
    def _unparseable_body(error: ValueError) -> Response[str]:
        # Powertools parses form and multipart bodies before any route sees them, and raises ValueError on a
        # broken one (a multipart content type without a boundary). Such a body is refused as any non-JSON is.
        if declares_non_json(app.current_event):
            return _problem_for(UnsupportedMediaType())
        answer: Response[str] = _unexpected(error)  # the decorated handler is untyped to mypy
        return answer

    return app
