"""make dev: the whole product on this machine, with no AWS account and no Docker.

- The API: local/gateway.py, a stand-in for the stack's HTTP API on 127.0.0.1 - its routes, its JWT
  authorizer, Lambda's one-event-at-a-time instances - in front of the real Lambda handlers.
- Identity: the stack's Cognito user pool, emulated by moto: real users, real sign-in, real RS256 access tokens
  and a JWKS the gateway checks them against. `make token USER=alice` signs alice in and prints her token.
- Secrets Manager and DynamoDB: moto's server on loopback, seeded with the secret and the connections table.
- Terra: the simulator (its widget page connects a fake wearable and sends signed webhooks back to this API),
  or the real Terra when TERRA_DEV_ID and TERRA_API_KEY are set.

    python -m local.dev               # run (make dev)
    python -m local.dev token alice   # a token for alice from the running stack (make token USER=alice)
"""

import json
import logging
import os
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass
from html import escape
from http import HTTPStatus
from importlib import import_module
from typing import Any
from urllib.parse import parse_qsl

import boto3
import requests
from tooling.template import authorization_scopes
from werkzeug.serving import WSGIRequestHandler
from werkzeug.wrappers import Request, Response

from local.aws import (
    CONNECTIONS_TABLE,
    EVENT_BUS,
    FAKE_CREDENTIALS,
    REGION,
    DataStack,
    PortInUse,
    bind_server,
    create_data_stack,
    create_stack_resources,
    emulated_aws,
)
from local.gateway import FunctionInstance, JwtAuthorizer, LocalGateway, TurnLock, jwks_from
from local.queues import LocalQueueTrigger, QueueSource, mapping_batch_sizes
from local.streams import LocalStreamTrigger, data_events
from local.terra_simulator import TerraSimulator
from terra_connect.settings import CURRENT_WIDGET_SESSION_URL

SIMULATOR_DEV_ID = "local-dev-id"
SIMULATOR_API_KEY = "local-api-key"
SIMULATOR_SIGNING_SECRET = "local-signing-secret"  # noqa: S105 - the simulator's own fake secret
WEBHOOK_PATH = "/v1/terra/webhooks"
LOCAL_PASSWORD = "Local-password-1"  # noqa: S105 - every local user's password, for sign-in from an app
# moto draws ids from a seeded generator: the same seed gives the same pool and client ids on every run, so an
# app pointed at the local pool keeps working across restarts.
MOTO_SEED = 42
# A request never holds a connection longer than this (a body announced but never sent, a stalled client).
SOCKET_TIMEOUT_SECONDS = 15


@dataclass(frozen=True)
class LocalIdentity:
    """The stack's user pool and public app client, emulated by moto."""

    endpoint: str
    pool_id: str
    client_id: str

    @property
    def issuer(self) -> str:
        return f"https://cognito-idp.{REGION}.amazonaws.com/{self.pool_id}"

    @property
    def jwks_url(self) -> str:
        return f"{self.endpoint}/{self.pool_id}/.well-known/jwks.json"

    @classmethod
    def create(cls, endpoint: str) -> "LocalIdentity":
        cognito = _cognito(endpoint)
        pool = cognito.create_user_pool(PoolName="terra-connect-local-users")["UserPool"]
        client = cognito.create_user_pool_client(
            UserPoolId=pool["Id"],
            ClientName="terra-connect-local-mobile",
            GenerateSecret=False,
            ExplicitAuthFlows=[
                "ALLOW_USER_PASSWORD_AUTH",
                "ALLOW_ADMIN_USER_PASSWORD_AUTH",
                "ALLOW_REFRESH_TOKEN_AUTH",
            ],
        )["UserPoolClient"]
        return cls(endpoint=endpoint, pool_id=pool["Id"], client_id=client["ClientId"])

    def token(self, username: str) -> str:
        """A real access token for `username` (created on first use, password LOCAL_PASSWORD): what the API takes."""
        return self.sign_in(username)["AccessToken"]

    def sign_in(self, username: str) -> dict[str, str]:
        """`username`'s tokens as Cognito answers a sign-in: AccessToken, IdToken, RefreshToken."""
        cognito = _cognito(self.endpoint)
        with suppress(cognito.exceptions.UsernameExistsException):
            cognito.admin_create_user(UserPoolId=self.pool_id, Username=username, MessageAction="SUPPRESS")
            cognito.admin_set_user_password(
                UserPoolId=self.pool_id, Username=username, Password=LOCAL_PASSWORD, Permanent=True
            )
        signed_in = cognito.admin_initiate_auth(
            UserPoolId=self.pool_id,
            ClientId=self.client_id,
            AuthFlow="ADMIN_USER_PASSWORD_AUTH",
            AuthParameters={"USERNAME": username, "PASSWORD": LOCAL_PASSWORD},
        )
        return {name: str(value) for name, value in signed_in["AuthenticationResult"].items() if name.endswith("Token")}

    def subject(self, username: str) -> str:
        """The user's `sub`: what becomes their reference_id (created on first use)."""
        self.token(username)
        user = _cognito(self.endpoint).admin_get_user(UserPoolId=self.pool_id, Username=username)
        return next(str(a["Value"]) for a in user["UserAttributes"] if a["Name"] == "sub")


def _cognito(endpoint: str) -> Any:
    return boto3.client(
        "cognito-idp",
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id=FAKE_CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=FAKE_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
    )


@dataclass
class DevStack:
    api_url: str
    terra: TerraSimulator | None
    aws_endpoint: str
    identity: LocalIdentity
    functions: dict[str, FunctionInstance]
    gateway: LocalGateway
    stream: LocalStreamTrigger
    data_stream: LocalStreamTrigger  # the data table's: Wearable Data Received, Wearable Backfill Completed
    queues: LocalQueueTrigger  # the ingest, fetch, Terra delivery and backfill queues' mappings
    events_queue_url: str  # every lifecycle event published, delivered by a rule on the bus
    data: DataStack  # the data bucket, tables and queues

    def token(self, username: str) -> str:
        return self.identity.token(username)

    def bearer(self, username: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(username)}"}


def _result_page(title: str, query: str) -> bytes:
    rows = "".join(f"<li><code>{escape(k)}</code> = {escape(v)}</li>" for k, v in parse_qsl(query))
    return (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'><title>Terra Connect (local)</title></head>"
        f"<body style='font-family: system-ui, sans-serif; margin: 2rem'><h1 id='outcome'>{escape(title)}</h1>"
        f"<p>This is where the app's deep link would land. Terra added:</p><ul>{rows}</ul>"
        "<p>The app would now call <code>POST /v1/connections/sync</code>.</p></body></html>"
    ).encode()


class _LocalPages:
    """What local mode adds beside the API, under /dev: the deep-link landing pages, tokens, reconciliation."""

    def __init__(
        self, identity: LocalIdentity, reconcile: FunctionInstance, backfill: FunctionInstance | None = None
    ) -> None:
        self._identity = identity
        self._reconcile = reconcile
        self._backfill = backfill

    def __call__(self, request: Request) -> Response | None:
        path = request.path
        if request.method == "GET" and path in {"/dev/connected", "/dev/failed"}:
            title = "Connected" if path == "/dev/connected" else "Not connected"
            page = _result_page(title, request.query_string.decode("latin-1"))
            return Response(page, 200, content_type="text/html; charset=utf-8")
        if request.method == "POST" and path == "/dev/token":
            username = str((request.get_json(silent=True) or {}).get("user") or "alice")[:128]
            token = self._identity.token(username)
            return Response(json.dumps({"user": username, "access_token": token}), 200, content_type="application/json")
        if request.method == "POST" and path == "/dev/reconcile":
            return Response(json.dumps(self._reconcile.invoke({})), 200, content_type="application/json")
        if request.method == "POST" and path == "/dev/backfill-sweep" and self._backfill is not None:
            # The 15-minute schedule's event, on demand: backfills past their deadline end as incomplete.
            ended = self._backfill.invoke({"sweep": True})
            return Response(json.dumps(ended), 200, content_type="application/json")
        return None


class _RequestHandler(WSGIRequestHandler):
    timeout = SOCKET_TIMEOUT_SECONDS

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        """The gateway logs each request itself, with what it decided."""

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """A request too broken to parse gets a JSON answer like API Gateway's, not the standard library's HTML; an
        HTTP version it does not speak is the client's error (400), not a 505."""
        code = 400 if code >= 500 else code
        message = HTTPStatus(code).phrase if code == 400 else message
        body = json.dumps({"message": HTTPStatus(code).phrase}).encode()
        if self.request_version == "HTTP/0.9":  # a request line too broken to name its version
            self.request_version = "HTTP/1.1"
        self.send_response(code, message)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD" and code >= 200 and code not in {204, 304}:
            self.wfile.write(body)
        self.close_connection = True


def _starting(_environ: dict[str, Any], start_response: Any) -> list[bytes]:
    """What the bound socket's server would answer before the stack is ready (it does not serve until then)."""
    start_response("503 Service Unavailable", [("Content-Type", "application/json")])
    return [b'{"message": "Service Unavailable"}']


@contextmanager
def _environment(variables: dict[str, str]) -> Iterator[None]:
    saved = dict(os.environ)
    os.environ.update(variables)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def _log(line: str) -> None:
    sys.stderr.write(line + "\n")


@contextmanager
def dev_stack(
    port: int = 3000,
    *,
    aws_port: int = 0,
    real_terra: dict[str, str] | None = None,
    quiet: bool = False,
    parameters: dict[str, str] | None = None,
) -> Iterator[DevStack]:
    """Everything `make dev` runs; the tests start the same stack with `port` 0 (any free port, bound before
    anything else starts, so no other server can take it meanwhile). `aws_port` fixes where the emulated AWS (and
    so the Cognito endpoint an app signs in at) listens; 0 picks a free port. `parameters` sets the template's data
    parameters by name (e.g. {"BackfillDays": "0"}); the others keep their defaults."""
    with ExitStack() as stack:
        server = bind_server("127.0.0.1", port, _starting, _RequestHandler)
        stack.callback(server.server_close)
        port = server.server_port
        aws = stack.enter_context(emulated_aws(port=aws_port))
        requests.post(f"{aws.endpoint}/moto-api/seed?a={MOTO_SEED}", timeout=10).raise_for_status()
        identity = LocalIdentity.create(aws.endpoint)
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
        resources = create_stack_resources(aws.endpoint, secret)
        data = create_data_stack(aws.endpoint)
        data_settings = data.settings(parameters)
        backfills_on = bool(data_settings["BACKFILL_QUEUE_URL"])
        stack.enter_context(
            _environment(
                {
                    **FAKE_CREDENTIALS,
                    "AWS_REGION": REGION,
                    "AWS_DEFAULT_REGION": REGION,
                    "TERRA_SECRET_ARN": resources.secret_arn,
                    "CONNECTIONS_TABLE": CONNECTIONS_TABLE,
                    "LOCAL_AWS_ENDPOINT_URL": aws.endpoint,
                    "ALLOWED_REDIRECT_URLS": f"{api_url}/dev,http://localhost:{port}/dev,myapp://terra",
                    "DEFAULT_SUCCESS_REDIRECT_URL": f"{api_url}/dev/connected",
                    "DEFAULT_FAILURE_REDIRECT_URL": f"{api_url}/dev/failed",
                    "POWERTOOLS_SERVICE_NAME": "terra-connect",
                    "POWERTOOLS_METRICS_NAMESPACE": "TerraConnect",
                    "EVENT_BUS_NAME": EVENT_BUS,
                    **data_settings,
                    **terra_settings,
                }
            )
        )
        for cached in (
            import_module("terra_connect.entrypoints.api").get_container,
            import_module("terra_connect.entrypoints.webhook").get_webhook_container,
            import_module("terra_connect.entrypoints.reconcile").get_reconciler_container,
            import_module("terra_connect.entrypoints.lifecycle_events").get_events_container,
            import_module("terra_connect.entrypoints.ingest").get_ingest_container,
            *([import_module("terra_connect.entrypoints.backfill").get_backfill_container] if backfills_on else []),
        ):
            cached.cache_clear()
            stack.callback(cached.cache_clear)
        one_process = TurnLock()  # the functions share this process: they take turns, in the order they asked
        entries = [
            ("ApiFunction", "terra_connect.entrypoints.api"),
            ("WebhookFunction", "terra_connect.entrypoints.webhook"),
            ("ReconcileFunction", "terra_connect.entrypoints.reconcile"),
            ("EventsFunction", "terra_connect.entrypoints.lifecycle_events"),
            ("IngestFunction", "terra_connect.entrypoints.ingest"),
        ]
        if backfills_on:  # the template's BackfillOn condition
            entries.append(("BackfillFunction", "terra_connect.entrypoints.backfill"))
        functions = {
            name: FunctionInstance.from_template(name, import_module(module).lambda_handler, one_process)
            for name, module in entries
        }
        say = (lambda _: None) if quiet else _log
        trigger, data_trigger, queues = _triggers(stack, aws.endpoint, data, functions, say)
        authorizer = JwtAuthorizer(
            issuer=identity.issuer,
            audiences=frozenset({identity.client_id}),
            jwks=jwks_from(identity.jwks_url),
            scopes=authorization_scopes(own_user_pool=True),
        )
        gateway = LocalGateway(
            functions,
            authorizer,
            local_pages=_LocalPages(identity, functions["ReconcileFunction"], functions.get("BackfillFunction")),
            log=say,
        )
        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        server.app = gateway
        thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        thread.start()
        stack.callback(server.shutdown)
        yield DevStack(
            api_url=api_url,
            terra=terra,
            aws_endpoint=aws.endpoint,
            identity=identity,
            functions=functions,
            gateway=gateway,
            stream=trigger,
            data_stream=data_trigger,
            queues=queues,
            events_queue_url=resources.events_queue_url,
            data=data,
        )


def _triggers(
    stack: ExitStack,
    endpoint: str,
    data: DataStack,
    functions: dict[str, FunctionInstance],
    say: Callable[[str], None],
) -> tuple[LocalStreamTrigger, LocalStreamTrigger, LocalQueueTrigger]:
    """The event source mappings, started (and stopped when `stack` closes): the two tables' streams into the events
    function, the data queues into the ingest and backfill functions, the purge queue into the reconcile function."""
    backfills_on = "BackfillFunction" in functions

    def connection_event(detail_type: str, detail: dict[str, Any]) -> None:
        say(f"event  {detail_type}  {json.dumps(detail)}")

    def function_failed(name: str) -> Callable[[Exception], None]:
        return lambda error: say(f"{name} failed ({type(error).__name__}); the batch is retried")

    trigger = LocalStreamTrigger(
        CONNECTIONS_TABLE,
        functions["EventsFunction"],
        on_event=connection_event,
        on_error=function_failed("events function"),
    ).start()
    stack.callback(trigger.stop)
    data_trigger = LocalStreamTrigger(
        data.table,
        functions["EventsFunction"],
        on_event=lambda detail_type, detail: say(f"event  {detail_type}  {json.dumps(detail)}"),
        on_error=function_failed("events function"),
        events_of=data_events,
    ).start()
    stack.callback(data_trigger.stop)
    batch_sizes = mapping_batch_sizes()
    sources = [
        QueueSource(data.queue_urls["ingest"], functions["IngestFunction"], batch_sizes["IngestQueueArn"]),
        QueueSource(data.queue_urls["fetch"], functions["IngestFunction"], batch_sizes["FetchQueueArn"]),
        QueueSource(data.queue_urls["terra"], functions["IngestFunction"], batch_sizes["TerraDeliveryQueueArn"]),
    ]
    if backfills_on:
        sources.append(
            QueueSource(data.queue_urls["backfill"], functions["BackfillFunction"], batch_sizes["BackfillQueueArn"])
        )
    # An erasure's purge (its second pass is queued with a 15-minute delay: the queue holds it back, nothing waits).
    sources.append(QueueSource(data.queue_urls["purge"], functions["ReconcileFunction"], batch_sizes["PurgeQueueArn"]))
    queues = LocalQueueTrigger(endpoint, sources, on_error=function_failed("queue trigger")).start()
    stack.callback(queues.stop)
    return trigger, data_trigger, queues


def next_steps(stack: DevStack) -> str:
    token = stack.token("alice")
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
    identity = stack.identity
    push = (
        f"""
  curl -s -X POST {stack.terra.base_url}/_simulator/data \\
    -d '{{"user_id": "<terra user id>", "type": "daily", "start_date": "2026-07-01", "end_date": "2026-07-03"}}'
"""
        if stack.terra
        else ""
    )
    return f"""
Terra Connect is running locally: API {stack.api_url}, {terra}, AWS emulated at {stack.aws_endpoint}.

Get a widget URL for user "alice" (a real access token from the local user pool) and open it in a browser:

  curl -s -X POST {stack.api_url}/v1/widget-sessions \\
    -H 'Authorization: Bearer {token}' -H 'Content-Type: application/json' \\
    -d '{{"providers": ["GARMIN", "OURA"]}}'

Pick a provider on the widget page; it redirects to {stack.api_url}/dev/connected. Then, as the app does when
the widget sends the user back:

  curl -s -X POST {stack.api_url}/v1/connections/sync -H 'Authorization: Bearer {token}'
{drop}
The scheduled reconciliation, on demand: curl -s -X POST {stack.api_url}/dev/reconcile

Connecting a wearable backfills its data (Wearable Data Received is printed per stored payload). Push more, as
the provider would, with the Terra user id the Wearable Connected line shows (docs/local-mode.md: ping mode,
chunked backfills, the backfill sweep):
{push}
Lifecycle events (Wearable Connected, ..., User Erased) are printed here as the events function publishes them,
and a rule on the local bus delivers each to an SQS queue your backend can read:

  aws --endpoint-url {stack.aws_endpoint} sqs receive-message --queue-url {stack.events_queue_url}

Erase alice (account deletion): every wearable disconnected at Terra, everything stored about her deleted:

  curl -s -X DELETE {stack.api_url}/v1/connections -H 'Authorization: Bearer {token}'

Another user's token: make token USER=bob. The API checks every token as the stack's JWT authorizer does; your
app can sign in itself (USER_PASSWORD_AUTH; the same ids on every run):

  Cognito endpoint {identity.endpoint}
  user pool        {identity.pool_id}
  app client       {identity.client_id}
  users            any that make token created, password {LOCAL_PASSWORD}

Stop with Ctrl-C.
"""


def print_token(username: str, port: int) -> int:
    """Ask the running `make dev` for a user's token; the token is the last line printed."""
    try:
        answer = requests.post(f"http://127.0.0.1:{port}/dev/token", json={"user": username}, timeout=10)
        answer.raise_for_status()
    except requests.RequestException:
        print(f"No local stack answers on 127.0.0.1:{port}: start it with `make dev` first.", file=sys.stderr)  # noqa: T201
        return 1
    print(answer.json()["access_token"])  # noqa: T201
    return 0


def main(argv: list[str]) -> int:
    port = int(os.environ.get("PORT", "3000"))
    if argv[:1] == ["token"]:
        return print_token(argv[1] if len(argv) > 1 and argv[1] else "alice", port)
    real = {
        k: os.environ[k] for k in ("TERRA_DEV_ID", "TERRA_API_KEY", "TERRA_WEBHOOK_SIGNING_SECRET") if os.environ.get(k)
    }
    aws_port = int(os.environ.get("AWS_PORT", str(port + 1)))
    real_terra = real if {"TERRA_DEV_ID", "TERRA_API_KEY"} <= set(real) else None
    try:
        # BACKFILL_DAYS=0 make dev: the template's BackfillDays parameter (backfills off), the others at defaults.
        parameters = {"BackfillDays": os.environ["BACKFILL_DAYS"]} if os.environ.get("BACKFILL_DAYS") else None
        with dev_stack(port, aws_port=aws_port, real_terra=real_terra, parameters=parameters) as stack:
            print(next_steps(stack), flush=True)  # noqa: T201
            with suppress(KeyboardInterrupt):
                threading.Event().wait()
    except PortInUse as taken:
        print(f"{taken}: choose other ports, e.g. PORT=3100 AWS_PORT=3101 make dev", file=sys.stderr)  # noqa: T201
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
