"""make dev: the whole product on this machine, with no AWS account and no Docker.

- The API: an HTTP server on 127.0.0.1 that turns each request into the API Gateway (HTTP API, payload 2.0)
  event Lambda would receive and hands it to the real Lambda handlers - the same routes, validation and code.
- Identity: local mode reads the bearer token's claims WITHOUT verifying its signature (API Gateway's JWT
  authorizer does that in AWS). This module is never part of the deployed artifact; the Lambda handlers
  themselves still refuse a request that has a token but no authorizer claims.
- Secrets Manager and DynamoDB: moto's server on loopback, seeded with the secret and the connections table.
- Terra: the simulator (its widget page connects a fake wearable and sends signed webhooks back to this API),
  or the real Terra when TERRA_DEV_ID and TERRA_API_KEY are set.

    python -m offline.dev               # run (make dev)
    python -m offline.dev token alice   # print a local token for subject "alice" (make token USER=alice)
"""

import base64
import binascii
import json
import os
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass
from html import escape
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import import_module
from typing import Any
from urllib.parse import parse_qsl

from offline.aws import FAKE_CREDENTIALS, REGION, create_connections_table, emulated_aws, seed_terra_secret
from offline.terra_simulator import TerraSimulator
from terra_connect.settings import CURRENT_WIDGET_SESSION_URL

LOCAL_ISSUER = "terra-connect-local"
TABLE = "terra-connect-connections"
SIMULATOR_DEV_ID = "local-dev-id"
SIMULATOR_API_KEY = "local-api-key"
SIMULATOR_SIGNING_SECRET = "local-signing-secret"  # noqa: S105 - the simulator's own fake secret
WEBHOOK_PATH = "/v1/terra/webhooks"
Handler = Callable[[dict[str, Any], Any], dict[str, Any]]


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def local_token(subject: str, lifetime_seconds: int = 86_400) -> str:
    """An UNSIGNED token for local mode only: any real deployment's authorizer rejects it."""
    now = int(time.time())
    header = {"alg": "none", "typ": "JWT"}
    claims = {"sub": subject, "iss": LOCAL_ISSUER, "iat": now, "exp": now + lifetime_seconds}
    return f"{_b64url(json.dumps(header).encode())}.{_b64url(json.dumps(claims).encode())}."


def claims_from(authorization: str | None) -> dict[str, str] | None:
    """The token's claims, unverified, as API Gateway passes them to Lambda (every value a string)."""
    scheme, _, token = (authorization or "").partition(" ")
    parts = token.split(".")
    if scheme.lower() != "bearer" or len(parts) != 3:
        return None
    try:
        claims = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    except (ValueError, binascii.Error):
        return None
    if not isinstance(claims, dict) or int(claims.get("exp", 0)) < time.time():
        return None
    return {name: value if isinstance(value, str) else json.dumps(value) for name, value in claims.items()}


class _Context:
    function_name = "terra-connect-local"
    function_version = "$LATEST"
    invoked_function_arn = "arn:aws:lambda:us-east-1:000000000000:function:terra-connect-local"
    memory_limit_in_mb = 512
    log_group_name = "local"
    log_stream_name = "local"

    def __init__(self, timeout_seconds: int = 10) -> None:
        """`timeout_seconds`: the function's Timeout in template.yaml (10 s for the API, 900 s for reconciliation)."""
        self.aws_request_id = str(uuid.uuid4())
        self._timeout_ms = timeout_seconds * 1000

    def get_remaining_time_in_millis(self) -> int:
        return self._timeout_ms


@dataclass
class LocalApi:
    """Requests in, API Gateway events to the Lambda handlers, their answers back out."""

    api: Handler
    webhooks: Handler
    port: int
    reconcile: Handler | None = None  # the scheduled function, run on demand at POST /dev/reconcile

    def event(self, method: str, target: str, headers: dict[str, str], body: bytes) -> dict[str, Any]:
        path, _, query = target.partition("?")
        request_id = base64.b64encode(uuid.uuid4().bytes[:12]).decode()
        context: dict[str, Any] = {
            "accountId": "000000000000",
            "apiId": "local",
            "domainName": f"127.0.0.1:{self.port}",
            "http": {"method": method, "path": path, "protocol": "HTTP/1.1", "sourceIp": "127.0.0.1"},
            "requestId": request_id,
            "routeKey": "$default",
            "stage": "$default",
            "timeEpoch": int(time.time() * 1000),
        }
        claims = claims_from(headers.get("authorization")) if path != WEBHOOK_PATH else None
        if claims is not None:
            context["authorizer"] = {"jwt": {"claims": claims, "scopes": None}}
        event: dict[str, Any] = {
            "version": "2.0",
            "routeKey": "$default",
            "rawPath": path,
            "rawQueryString": query,
            "headers": headers,
            "requestContext": context,
            "isBase64Encoded": False,
        }
        if query:
            event["queryStringParameters"] = dict(parse_qsl(query, keep_blank_values=True))
        if body:
            try:
                event["body"] = body.decode("utf-8")
            except UnicodeDecodeError:
                event["body"], event["isBase64Encoded"] = base64.b64encode(body).decode(), True
        return event

    def handle(self, method: str, target: str, headers: dict[str, str], body: bytes) -> dict[str, Any]:
        event = self.event(method, target, headers, body)
        handler = self.webhooks if event["rawPath"] == WEBHOOK_PATH else self.api
        return handler(event, _Context())


def _result_page(title: str, query: str) -> bytes:
    rows = "".join(f"<li><code>{escape(k)}</code> = {escape(v)}</li>" for k, v in parse_qsl(query))
    return (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'><title>Terra Connect (local)</title></head>"
        f"<body style='font-family: system-ui, sans-serif; margin: 2rem'><h1 id='outcome'>{escape(title)}</h1>"
        f"<p>This is where the app's deep link would land. Terra added:</p><ul>{rows}</ul>"
        "<p>The app would now call <code>POST /v1/connections/sync</code>.</p></body></html>"
    ).encode()


def serve(api: LocalApi, host: str = "127.0.0.1") -> ThreadingHTTPServer:
    class RequestHandler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            sys.stderr.write(f"{self.command} {self.path.split('?')[0]} -> {args[1] if len(args) > 1 else ''}\n")

        def _dispatch(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            path, _, query = self.path.partition("?")
            if self.command == "GET" and path in {"/dev/connected", "/dev/failed"}:
                title = "Connected" if path == "/dev/connected" else "Not connected"
                self._reply(200, {"Content-Type": "text/html; charset=utf-8"}, _result_page(title, query))
                return
            if self.command == "POST" and path == "/dev/reconcile" and api.reconcile is not None:
                report = json.dumps(api.reconcile({}, _Context(timeout_seconds=900))).encode()
                self._reply(200, {"Content-Type": "application/json"}, report)
                return
            headers = {name.lower(): value for name, value in self.headers.items()}
            result = api.handle(self.command, self.path, headers, body)
            payload = result.get("body") or ""
            data = base64.b64decode(payload) if result.get("isBase64Encoded") else payload.encode()
            self._reply(result["statusCode"], {k: str(v) for k, v in (result.get("headers") or {}).items()}, data)

        def _reply(self, status: int, headers: dict[str, str], data: bytes) -> None:
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_DELETE = do_PUT = _dispatch  # noqa: N815 - the stdlib's naming

    return ThreadingHTTPServer((host, api.port), RequestHandler)


@dataclass
class DevStack:
    api_url: str
    terra: TerraSimulator | None
    aws_endpoint: str


@contextmanager
def _environment(variables: dict[str, str]) -> Iterator[None]:
    saved = dict(os.environ)
    os.environ.update(variables)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


@contextmanager
def dev_stack(port: int = 3000, *, real_terra: dict[str, str] | None = None) -> Iterator[DevStack]:
    """Everything `make dev` runs; the browser test starts the same stack on a free port."""
    with ExitStack() as stack:
        aws = stack.enter_context(emulated_aws())
        api_url = f"http://127.0.0.1:{port}"
        terra: TerraSimulator | None = None
        if real_terra:
            secret = {"dev_id": real_terra["TERRA_DEV_ID"], "api_key": real_terra["TERRA_API_KEY"]}
            if real_terra.get("TERRA_WEBHOOK_SIGNING_SECRET"):
                secret["webhook_signing_secret"] = real_terra["TERRA_WEBHOOK_SIGNING_SECRET"]
            terra_settings = {"TERRA_WIDGET_SESSION_URL": CURRENT_WIDGET_SESSION_URL}
        else:
            terra = stack.enter_context(
                TerraSimulator(
                    dev_id=SIMULATOR_DEV_ID,
                    api_key=SIMULATOR_API_KEY,
                    webhook_url=api_url + WEBHOOK_PATH,
                    signing_secret=SIMULATOR_SIGNING_SECRET,
                )
            )
            secret = {"dev_id": SIMULATOR_DEV_ID, "api_key": SIMULATOR_API_KEY}
            secret["webhook_signing_secret"] = SIMULATOR_SIGNING_SECRET
            terra_settings = {
                "TERRA_WIDGET_SESSION_URL": terra.widget_session_url,
                "TERRA_API_BASE_URL": terra.api_base_url,
            }
        create_connections_table(aws.endpoint, TABLE)
        stack.enter_context(
            _environment(
                {
                    **FAKE_CREDENTIALS,
                    "AWS_REGION": REGION,
                    "AWS_DEFAULT_REGION": REGION,
                    "TERRA_SECRET_ARN": seed_terra_secret(aws.endpoint, secret),
                    "CONNECTIONS_TABLE": TABLE,
                    "LOCAL_AWS_ENDPOINT_URL": aws.endpoint,
                    "ALLOWED_REDIRECT_URLS": f"{api_url}/dev,http://localhost:{port}/dev,myapp://terra",
                    "DEFAULT_SUCCESS_REDIRECT_URL": f"{api_url}/dev/connected",
                    "DEFAULT_FAILURE_REDIRECT_URL": f"{api_url}/dev/failed",
                    "POWERTOOLS_SERVICE_NAME": "terra-connect",
                    "POWERTOOLS_METRICS_NAMESPACE": "TerraConnect",
                    "POWERTOOLS_METRICS_DISABLED": "true",
                    **terra_settings,
                }
            )
        )
        container = import_module("terra_connect.api.container")
        container.get_container.cache_clear()
        container.get_webhook_container.cache_clear()
        stack.callback(container.get_container.cache_clear)
        stack.callback(container.get_webhook_container.cache_clear)
        container.get_reconciler_container.cache_clear()
        stack.callback(container.get_reconciler_container.cache_clear)
        api_module = import_module("terra_connect.api.handler")
        webhook_module = import_module("terra_connect.api.webhook_handler")
        reconcile_module = import_module("terra_connect.api.reconcile_handler")
        local_api = LocalApi(
            api_module.lambda_handler, webhook_module.lambda_handler, port, reconcile_module.lambda_handler
        )
        server = serve(local_api)
        thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        thread.start()
        stack.callback(server.server_close)
        stack.callback(server.shutdown)
        yield DevStack(api_url=api_url, terra=terra, aws_endpoint=aws.endpoint)


def next_steps(stack: DevStack) -> str:
    token = local_token("alice")
    terra = "the Terra simulator at " + stack.terra.base_url if stack.terra else "the REAL Terra API"
    drop = (
        f"""
To see the sync repair a webhook Terra never delivered, make the simulator drop them, connect again, and compare
GET /v1/connections (not there) with the sync (there):

  curl -s -X POST {stack.terra.base_url}/_simulator/webhooks -d '{{"drop": true}}'
"""
        if stack.terra
        else ""
    )
    return f"""
Terra Connect is running locally: API {stack.api_url}, {terra}, AWS emulated at {stack.aws_endpoint}.

Get a widget URL for user "alice" and open it in a browser:

  curl -s -X POST {stack.api_url}/v1/widget-sessions \\
    -H 'Authorization: Bearer {token}' -H 'Content-Type: application/json' \\
    -d '{{"providers": ["GARMIN", "OURA"]}}'

Pick a provider on the widget page; it redirects to {stack.api_url}/dev/connected. Then, as the app does when
the widget sends the user back:

  curl -s -X POST {stack.api_url}/v1/connections/sync -H 'Authorization: Bearer {token}'
{drop}
The scheduled reconciliation, on demand: curl -s -X POST {stack.api_url}/dev/reconcile

Another user's token: make token USER=bob. Local mode trusts the token's claims without checking its
signature; the deployed stack's JWT authorizer does check them. Stop with Ctrl-C.
"""


def main(argv: list[str]) -> int:
    if argv[:1] == ["token"]:
        print(local_token(argv[1] if len(argv) > 1 else "alice"))  # noqa: T201
        return 0
    port = int(os.environ.get("PORT", "3000"))
    real = {
        k: os.environ[k] for k in ("TERRA_DEV_ID", "TERRA_API_KEY", "TERRA_WEBHOOK_SIGNING_SECRET") if os.environ.get(k)
    }
    with dev_stack(port, real_terra=real if {"TERRA_DEV_ID", "TERRA_API_KEY"} <= set(real) else None) as stack:
        print(next_steps(stack), flush=True)  # noqa: T201
        with suppress(KeyboardInterrupt):
            threading.Event().wait()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
