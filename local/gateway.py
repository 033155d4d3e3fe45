"""A local stand-in for API Gateway (HTTP API, payload 2.0) in front of the real Lambda handlers.

What it reproduces, because app teams develop against it:
- the routes template.yaml declares, and nothing else: any other method or path gets `404 {"message":"Not Found"}`;
- the JWT authorizer: the token's RS256 signature against the issuer's JWKS, `iss`, `aud` or `client_id`, `exp`,
  `nbf` and `iat`, on every route but those with `Auth: NONE`, then the template's authorization scopes (with the
  stack's own pool, an access token's `aws.cognito.signin.user.admin`: an ID token has no scope). A request it
  refuses gets API Gateway's `401 {"message":"Unauthorized"}` (a valid token without a required scope: `403
  {"message":"Forbidden"}`) and never reaches a function; one it lets through carries the claims as API Gateway
  passes them (every value a string), and its scopes when the route requires some;
- Lambda's concurrency: a function instance handles one event at a time, with its own per-invocation context
  (request id, remaining time counted down from the template's Timeout); a concurrent request waits its turn.
  Where Lambda runs each function in its own container, here they share one Python process - and Powertools keeps
  the current event, log keys and metrics in process-wide state - so instances that share a process take turns;
- API Gateway's own answers: a body over 10 MB is 413, a function that fails is 500
  `{"message":"Internal Server Error"}`, a malformed request is a 4xx and never a hanging connection.

HTTP itself is werkzeug's (the server moto already brings), not hand-written.
"""

import base64
import json
import re
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import requests
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from tooling.template import load_template
from werkzeug.datastructures import Headers
from werkzeug.exceptions import ClientDisconnected, RequestEntityTooLarge
from werkzeug.wrappers import Request, Response

Handler = Callable[[dict[str, Any], Any], Any]
WsgiEnviron = dict[str, Any]
MAX_PAYLOAD_BYTES = 10 * 1024 * 1024  # API Gateway's quota for an HTTP API request
ACCOUNT_ID = "000000000000"
API_ID = "local"
# API Gateway's own answers, as it words them.
NOT_FOUND = (404, {"message": "Not Found"})
UNAUTHORIZED = (401, {"message": "Unauthorized"})
FORBIDDEN = (403, {"message": "Forbidden"})
TOO_LARGE = (413, {"message": "Request Entity Too Large"})
BAD_REQUEST = (400, {"message": "Bad Request"})
INTERNAL_ERROR = (500, {"message": "Internal Server Error"})


@dataclass(frozen=True)
class Route:
    method: str
    template: str  # /v1/connections/{terra_user_id}
    function: str  # the template's logical id
    authorized: bool  # False for `Auth: {Authorizer: NONE}`

    @property
    def route_key(self) -> str:
        return f"{self.method} {self.template}"

    def match(self, method: str, path: str) -> dict[str, str] | None:
        if method != self.method:
            return None
        pattern = re.sub(r"\\\{([A-Za-z_][A-Za-z0-9_]*)\\\}", r"(?P<\1>[^/]+)", re.escape(self.template))
        found = re.fullmatch(pattern, path)
        return found.groupdict() if found else None


def template_routes(template: Mapping[str, Any] | None = None) -> list[Route]:
    """Every HttpApi route of every function in template.yaml."""
    resources = (template or load_template())["Resources"]
    return [
        Route(
            method=event["Properties"]["Method"].upper(),
            template=event["Properties"]["Path"],
            function=name,
            authorized=event["Properties"].get("Auth", {}).get("Authorizer") != "NONE",
        )
        for name, resource in resources.items()
        if resource["Type"] == "AWS::Serverless::Function"
        for event in resource["Properties"].get("Events", {}).values()
        if event["Type"] == "HttpApi"
    ]


class _Request(Request):
    max_content_length = MAX_PAYLOAD_BYTES  # a chunked body announces no length: werkzeug counts as it reads


class _Response(Response):
    default_mimetype = None  # the function's headers, as it set them: no Content-Type invented for a 204


class Unauthorized(Exception):
    """The token is missing or fails a check the JWT authorizer makes; the message is for the log only."""


class Forbidden(Exception):
    """A valid token that carries none of the scopes the route requires (an ID token carries none)."""


@dataclass
class JwtAuthorizer:
    """API Gateway's JWT authorizer: RS256 tokens from `issuer` for one of `audiences`, checked against the
    issuer's JWKS (`jwks` fetches it, once), carrying one of `scopes` when there are any."""

    issuer: str
    audiences: frozenset[str]
    jwks: Callable[[], dict[str, Any]]
    scopes: frozenset[str] = frozenset()
    clock: Callable[[], float] = time.time
    _keys: KeySet | None = field(default=None, init=False, repr=False)

    def claims(self, authorization: str | None) -> dict[str, str]:
        """The token's claims as API Gateway hands them to Lambda; Unauthorized, or Forbidden without a scope."""
        token = (authorization or "").strip()
        if token[:7].lower() == "bearer ":
            token = token[7:].strip()
        if not token or token.count(".") != 2:
            raise Unauthorized("no bearer token")
        try:
            decoded = jwt.decode(token, self._key_set(), algorithms=["RS256"])
        except (JoseError, ValueError, TypeError) as error:
            raise Unauthorized(f"token not signed by the issuer: {type(error).__name__}") from None
        claims = decoded.claims
        self._check(claims)
        if self.scopes and not self.scopes & set(token_scopes(claims)):
            raise Forbidden(f"none of the scopes {sorted(self.scopes)}")
        return {name: _as_api_gateway_string(value) for name, value in claims.items()}

    def granted_scopes(self, claims: Mapping[str, str]) -> list[str] | None:
        """The event's `scopes`: the token's scopes when the route requires some, else null, as API Gateway passes."""
        return token_scopes(claims) if self.scopes else None

    def _check(self, claims: Mapping[str, Any]) -> None:
        now = self.clock()
        if claims.get("iss") != self.issuer:
            raise Unauthorized("issuer")
        audience = claims.get("aud", claims.get("client_id"))
        audiences = audience if isinstance(audience, list) else [audience]
        if not any(isinstance(a, str) and a in self.audiences for a in audiences):
            raise Unauthorized("audience")
        exp, nbf, iat = (_number(claims, name) for name in ("exp", "nbf", "iat"))
        if exp is None or exp <= now:
            raise Unauthorized("expired, or no exp")
        if nbf is not None and nbf > now:
            raise Unauthorized("not valid yet")
        if iat is not None and iat > now + 60:
            raise Unauthorized("issued in the future")

    def _key_set(self) -> KeySet:
        if self._keys is None:
            self._keys = KeySet.import_key_set(self.jwks())  # type: ignore[arg-type]
        return self._keys


def token_scopes(claims: Mapping[str, Any]) -> list[str]:
    """The scopes a token grants: its `scope` claim (space-separated, as OAuth and Cognito write it) or `scp`."""
    granted = claims.get("scope", claims.get("scp", ""))
    if isinstance(granted, str):
        return granted.split()
    if isinstance(granted, list):
        return [str(scope) for scope in granted]
    return []


def jwks_from(url: str) -> Callable[[], dict[str, Any]]:
    """The JWKS an issuer publishes at `url`."""

    def fetch() -> dict[str, Any]:
        document: dict[str, Any] = requests.get(url, timeout=5).json()
        return document

    return fetch


def _number(claims: Mapping[str, Any], name: str) -> float | None:
    """A NumericDate claim; a present one that is not a number fails the token."""
    value = claims.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise Unauthorized(f"{name} is not a number")
    return float(value)


def _as_api_gateway_string(value: Any) -> str:
    """API Gateway passes every claim to Lambda as a string; an array becomes "[a b]"."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + " ".join(_as_api_gateway_string(item) for item in value) + "]"
    if isinstance(value, dict):
        return json.dumps(value, separators=(",", ":"))
    return str(value)


class LocalContext:
    """The Lambda context object a handler gets: per invocation, with a real countdown."""

    def __init__(self, function_name: str, timeout_seconds: int, memory_mb: int) -> None:
        self.function_name = function_name
        self.function_version = "$LATEST"
        self.invoked_function_arn = f"arn:aws:lambda:us-east-1:{ACCOUNT_ID}:function:{function_name}"
        self.memory_limit_in_mb = memory_mb
        self.aws_request_id = str(uuid.uuid4())
        self.log_group_name = f"/local/{function_name}"
        self.log_stream_name = "local"
        self._deadline = time.monotonic() + timeout_seconds

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


class TurnLock:
    """The functions' shared turn, handed over in the order they asked for it: a queue trigger handing batch after
    batch to the ingest function cannot keep the API or the webhook waiting behind it (a plain lock would let the
    thread that just released it take it again)."""

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._next_ticket = 0
        self._serving = 0
        self._held = False

    def __enter__(self) -> None:
        with self._changed:
            ticket = self._next_ticket
            self._next_ticket += 1
            self._changed.wait_for(lambda: self._serving == ticket)
            self._held = True

    def __exit__(self, *exc: object) -> None:
        with self._changed:
            self._held = False
            self._serving += 1
            self._changed.notify_all()

    def locked(self) -> bool:
        return self._held


class FunctionInstance:
    """One Lambda execution environment: it runs one event at a time, like Lambda; others wait their turn.

    `turn` is the lock the instance takes for each event: instances that share a process must share one, since
    the handlers' libraries keep process-wide state."""

    def __init__(self, name: str, handler: Handler, *, timeout_seconds: int, memory_mb: int, turn: TurnLock) -> None:
        self.name = name
        self._handler = handler
        self._timeout = timeout_seconds
        self._memory = memory_mb
        self._busy = turn
        self.invocations = 0

    @classmethod
    def from_template(cls, name: str, handler: Handler, turn: TurnLock) -> "FunctionInstance":
        template = load_template()
        properties, defaults = template["Resources"][name]["Properties"], template["Globals"]["Function"]
        return cls(
            name,
            handler,
            timeout_seconds=int(properties.get("Timeout", defaults["Timeout"])),
            memory_mb=int(properties.get("MemorySize", defaults["MemorySize"])),
            turn=turn,
        )

    def invoke(self, event: dict[str, Any]) -> Any:
        with self._busy:
            self.invocations += 1
            return self._handler(event, LocalContext(f"terra-connect-{self.name}", self._timeout, self._memory))

    @property
    def busy(self) -> bool:
        return self._busy.locked()


class LocalGateway:
    """A WSGI application: HTTP requests in, API Gateway events to the function instances, their answers out."""

    def __init__(
        self,
        functions: Mapping[str, FunctionInstance],
        authorizer: JwtAuthorizer,
        *,
        routes: Iterable[Route] | None = None,
        local_pages: Callable[[Request], Response | None] = lambda _: None,
        log: Callable[[str], None] = lambda _: None,
    ) -> None:
        """`local_pages` answers what is not part of the API (local-mode helper pages), or None."""
        self._functions = functions
        self._authorizer = authorizer
        self._routes = list(routes if routes is not None else template_routes())
        self._local_pages = local_pages
        self._log = log
        self.answered: Counter[int] = Counter()  # status -> how many requests got it

    def __call__(self, environ: WsgiEnviron, start_response: Callable[..., Any]) -> Iterable[bytes]:
        request = _Request(environ)
        try:
            response = self._respond(request)
        except RequestEntityTooLarge:
            response = _gateway_answer(*TOO_LARGE)
        except (OSError, ClientDisconnected):  # the body never came (a stalled or vanished client)
            response = _gateway_answer(*BAD_REQUEST)
        self._log(f"{request.method} {request.path} -> {response.status_code}")
        self.answered[response.status_code] += 1
        return response(environ, start_response)

    def _respond(self, request: Request) -> Response:
        declared = request.headers.get("Content-Length")
        if declared is not None and not (declared.isascii() and declared.isdigit()):
            return _gateway_answer(*BAD_REQUEST)
        if int(declared or 0) > MAX_PAYLOAD_BYTES:
            return _gateway_answer(*TOO_LARGE)
        page = self._local_pages(request)
        if page is not None:
            return page
        for route in self._routes:
            parameters = route.match(request.method, request.path)
            if parameters is not None:
                return self._invoke(route, parameters, request)
        return _gateway_answer(*NOT_FOUND)

    def _invoke(self, route: Route, parameters: dict[str, str], request: Request) -> Response:
        claims = scopes = None
        if route.authorized:
            try:
                claims = self._authorizer.claims(request.headers.get("Authorization"))
            except Unauthorized as refused:
                self._log(f"authorizer refused the request: {refused}")
                return _gateway_answer(*UNAUTHORIZED, headers={"www-authenticate": 'Bearer error="invalid_token"'})
            except Forbidden as refused:
                self._log(f"authorizer refused the request: {refused}")
                challenge = f'Bearer scope="{" ".join(sorted(self._authorizer.scopes))}" error="insufficient_scope"'
                return _gateway_answer(*FORBIDDEN, headers={"www-authenticate": challenge})
            scopes = self._authorizer.granted_scopes(claims)
        body = request.get_data(cache=False)
        event = api_gateway_event(route, parameters, request, body, claims, scopes=scopes)
        try:
            result = self._functions[route.function].invoke(event)
        except Exception as error:
            self._log(f"{route.function} failed: {type(error).__name__}: {error}")
            return _gateway_answer(*INTERNAL_ERROR)
        return _lambda_response(result)


def api_gateway_event(
    route: Route,
    parameters: dict[str, str],
    request: Request,
    body: bytes,
    claims: dict[str, str] | None,
    *,
    scopes: list[str] | None = None,
) -> dict[str, Any]:
    """The payload 2.0 event API Gateway gives the function for this request."""
    now = datetime.now(UTC)
    headers: dict[str, str] = {}
    for name, value in request.headers.items():
        lowered = name.lower()
        if lowered == "cookie":
            continue
        headers[lowered] = f"{headers[lowered]},{value}" if lowered in headers else value
    query: dict[str, str] = {}
    for name, value in request.args.items(multi=True):
        query[name] = f"{query[name]},{value}" if name in query else value
    context: dict[str, Any] = {
        "accountId": ACCOUNT_ID,
        "apiId": API_ID,
        "domainName": request.host,
        "domainPrefix": request.host.split(".")[0],
        "http": {
            "method": request.method,
            "path": request.path,
            "protocol": request.environ.get("SERVER_PROTOCOL", "HTTP/1.1"),
            "sourceIp": request.remote_addr or "127.0.0.1",
            "userAgent": request.headers.get("User-Agent", ""),
        },
        "requestId": base64.b64encode(uuid.uuid4().bytes[:12]).decode(),
        "routeKey": route.route_key,
        "stage": "$default",
        "time": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
        "timeEpoch": int(now.timestamp() * 1000),
    }
    if claims is not None:
        context["authorizer"] = {"jwt": {"claims": claims, "scopes": scopes}}
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": route.route_key,
        "rawPath": request.path,
        "rawQueryString": request.query_string.decode("latin-1"),
        "headers": headers,
        "requestContext": context,
        "isBase64Encoded": False,
    }
    cookies = request.headers.get("Cookie")
    if cookies:
        event["cookies"] = [cookie.strip() for cookie in cookies.split(";") if cookie.strip()]
    if query:
        event["queryStringParameters"] = query
    if parameters:
        event["pathParameters"] = parameters
    if body:
        try:
            event["body"] = body.decode("utf-8")
        except UnicodeDecodeError:
            event["body"], event["isBase64Encoded"] = base64.b64encode(body).decode(), True
    return event


def _lambda_response(result: Any) -> Response:
    """The HTTP answer API Gateway makes of the function's result (payload 2.0 rules)."""
    if not isinstance(result, dict) or "statusCode" not in result:
        # API Gateway takes a result without statusCode as a 200 JSON body.
        return Response(json.dumps(result), 200, content_type="application/json")
    body = result.get("body") or ""
    data = base64.b64decode(body) if result.get("isBase64Encoded") else str(body).encode()
    headers = Headers({str(k): str(v) for k, v in (result.get("headers") or {}).items()})
    for cookie in result.get("cookies") or []:
        headers.add("Set-Cookie", str(cookie))
    return _Response(data, int(result["statusCode"]), headers=headers)


def _gateway_answer(status: int, body: dict[str, str], *, headers: Mapping[str, str] | None = None) -> Response:
    return Response(json.dumps(body), status, content_type="application/json", headers=dict(headers or {}))
