"""A local stand-in for Terra, on loopback, for smoke runs, local mode and benchmarks - speaking Terra's published
contract (tryterra/openapi), failure answers included, not this product's assumptions about it.

API (checked `dev-id` / `x-api-key`: 401 problem+json without them, 403 with wrong ones):
- widget sessions at every published path: `/api/widget/session` (docs), `/widget/api/session` (2026.07 spec,
  200) and `/widget/session` (2026.10 spec, 201, `connected_uids` validated: 400 with `invalid_user_ids`); the
  legacy `/v2/auth/generateWidgetSession` (200, or 410 like an account created after 2026-09-03).
- v2: authenticateUser, deauthenticateUser (which sends a `deauth` webhook), userInfo (an object for `user_id`,
  an array for `reference_id`), subscriptions (paged with `page`/`per_page`, else `{users}`), bulkUserInfo,
  generateAuthToken (single use, 180 s), integrations (no credentials needed).
  Errors are RFC 9457 problem+json, as the v2 spec defines them.
- `missing_widget_paths`: widget paths that answer 404, as they would for an account on another published path.

The user's side: given a webhook URL and signing secret, the widget page lists providers; picking one creates a
Terra user, sends a signed `auth` webhook and redirects like Terra. The `/sdk` page plays a phone running Terra's
mobile SDK: given a token, it connects Apple Health (or Samsung Health, Health Connect) under whatever reference_id
the device chooses - as the real SDK allows - and sends the `auth` webhook. Every event has the shape of Terra's 2026
JSON Schemas (tests check them), and every delivery carries Terra's headers: the signature, a trace id and the
`X-Terra-Ordering-Timestamp` (milliseconds, increasing). `drop_webhooks` (or `POST /_simulator/webhooks
{"drop": true}`) loses deliveries the way a destination registered late would, so reconciliation can be shown
repairing them.

Every request is recorded; faults are injected with `inject()` or `POST /_simulator/faults`.
"""

import json
import secrets
import ssl
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from html import escape
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode

import requests

from local.signing import terra_signature
from local.terra_data_simulator import DATA_PATH, DELIVERY_PATH, PAYLOADS_PATH, TerraData

# path -> (status on success, expires_in): the three published paths of the current endpoint.
CURRENT_WIDGET_PATHS = {
    "/api/widget/session": (201, 900),
    "/widget/api/session": (200, 900),
    "/widget/session": (201, 86_400),
}
LEGACY_WIDGET_PATH = "/v2/auth/generateWidgetSession"
API_BASE_PATH = "/v2"
PROVIDERS = ("GARMIN", "FITBIT", "OURA", "WITHINGS", "POLAR", "WHOOP", "COROS", "STRAVA")
SDK_PROVIDERS = ("APPLE", "SAMSUNG", "HEALTH_CONNECT")
SDK_TOKEN_SECONDS = 180
MISSING_PATHS = "/_simulator/missing-widget-paths"
FAULTS_PATH = "/_simulator/faults"
WEBHOOKS_PATH = "/_simulator/webhooks"
DEFAULT_SCOPES = "activity:read,sleep:read,daily:read,body:read"
PAGE_SIZE = 500


@dataclass(frozen=True)
class Fault:
    """What the next matching request gets instead of a normal answer."""

    status: int = 503
    body: Any = field(default_factory=lambda: {"status": "error", "message": "injected fault"})
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # seconds to wait before answering
    drop_connection: bool = False  # close the socket without answering
    path: str | None = None  # only requests to this path; None means any Terra endpoint
    body_key: str | None = None  # only requests whose JSON body has this key (e.g. "connected_uids")


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    query: dict[str, str] = field(default_factory=dict)

    def json(self) -> Any:
        return json.loads(self.body or b"null")


@dataclass
class SimulatedUser:
    user_id: str
    provider: str
    reference_id: str | None
    active: bool = True
    scopes: str = DEFAULT_SCOPES
    created_at: str = field(default_factory=lambda: time.strftime("%Y-%m-%dT%H:%M:%S.000000+00:00", time.gmtime()))
    success_redirect_url: str | None = None
    failure_redirect_url: str | None = None

    def as_terra(self) -> dict[str, Any]:
        """A TerraUser, as Terra's schema defines it."""
        return {
            "user_id": self.user_id,
            "provider": self.provider,
            "reference_id": self.reference_id,
            "scopes": self.scopes,
            "active": self.active,
            "created_at": self.created_at,
            "last_webhook_update": None,
        }


@dataclass
class WidgetSession:
    session_id: str
    reference_id: str | None
    providers: list[str]
    success_redirect_url: str | None
    failure_redirect_url: str | None


@dataclass(frozen=True)
class Answer:
    status: int
    body: Any = b""
    headers: dict[str, str] = field(default_factory=dict)


Route = Callable[["TerraSimulator", "_Request"], Answer]


@dataclass(frozen=True)
class _Request:
    method: str
    path: str
    query: dict[str, str]
    body: Any  # parsed JSON, or None
    after: Callable[[Callable[[], object]], None]  # run something once the answer is sent


def problem(status: int, detail: str, instance: str) -> Answer:
    """Terra's v2 error answer (RFC 9457)."""
    body = {"type": "about:blank", "title": HTTPStatus(status).phrase.lower(), "detail": detail, "instance": instance}
    return Answer(status, body, {"Content-Type": "application/problem+json"})


def legacy_error(status: int, message: str) -> Answer:
    """The widget endpoints' error answer: {"status": "error", "message"}."""
    return Answer(status, {"status": "error", "message": message})


class TerraSimulator:
    def __init__(
        self,
        *,
        dev_id: str,
        api_key: str,
        host: str = "127.0.0.1",
        port: int = 0,
        tls: ssl.SSLContext | None = None,
        legacy_gone: bool = False,
        public_host: str | None = None,
        webhook_url: str | None = None,
        signing_secret: str | None = None,
        missing_widget_paths: frozenset[str] = frozenset(),
    ) -> None:
        """`public_host` is the name clients use when it differs from `host` (a container's host.docker.internal).

        With `webhook_url` and `signing_secret`, lifecycle events are delivered there, signed like Terra's.
        """
        self.dev_id = dev_id
        self.api_key = api_key
        self.legacy_gone = legacy_gone
        self.webhook_url = webhook_url
        self.signing_secret = signing_secret
        self.drop_webhooks = False
        self.missing_widget_paths = set(missing_widget_paths)
        self.sdk_tokens: dict[str, float] = {}  # token -> when it expires (time.time); removed once used
        self.deliveries: list[tuple[str, int]] = []  # (event type, status the receiver answered)
        self.sent_events: list[dict[str, Any]] = []  # every event built, delivered or dropped
        self.dropped: list[dict[str, Any]] = []
        self.requests: list[RecordedRequest] = []
        self.sessions: dict[str, WidgetSession] = {}
        self.users: dict[str, SimulatedUser] = {}  # connected Terra users
        self.pending: dict[str, SimulatedUser] = {}  # authenticateUser answered, provider sign-in not done yet
        self.connections = 0
        self._emitted = 0  # the latest ordering timestamp sent (milliseconds)
        self._faults: deque[Fault] = deque()
        self._lock = threading.Lock()
        self._event_built = threading.Condition(self._lock)
        self._server = _Server((host, port), _Handler, self, tls)
        self._thread: threading.Thread | None = None
        scheme = "https" if tls else "http"
        self.base_url = f"{scheme}://{public_host or host}:{self._server.server_address[1]}"
        self._routes: dict[tuple[str, str], Route] = {
            **{("POST", path): _create_widget_session for path in CURRENT_WIDGET_PATHS},
            ("POST", LEGACY_WIDGET_PATH): _create_widget_session,
            ("POST", API_BASE_PATH + "/auth/authenticateUser"): _authenticate_user,
            ("DELETE", API_BASE_PATH + "/auth/deauthenticateUser"): _deauthenticate_user,
            ("GET", API_BASE_PATH + "/userInfo"): _user_info,
            ("GET", API_BASE_PATH + "/subscriptions"): _subscriptions,
            ("POST", API_BASE_PATH + "/bulkUserInfo"): _bulk_user_info,
            ("POST", API_BASE_PATH + "/auth/generateAuthToken"): _generate_auth_token,
            ("GET", API_BASE_PATH + "/integrations"): _integrations,
        }
        self.data = TerraData(self)  # data requests, data deliveries (local/terra_data_simulator.py)
        self._routes.update(self.data.routes())

    @property
    def widget_session_url(self) -> str:
        return self.base_url + "/api/widget/session"

    @property
    def legacy_widget_session_url(self) -> str:
        return self.base_url + LEGACY_WIDGET_PATH

    @property
    def api_base_url(self) -> str:
        return self.base_url + API_BASE_PATH

    def add_user(self, provider: str, reference_id: str | None) -> SimulatedUser:
        """A connected Terra user, as if the provider sign-in had completed (no webhook is sent)."""
        user = SimulatedUser(user_id=str(uuid.uuid4()), provider=provider, reference_id=reference_id)
        with self._lock:
            self.users[user.user_id] = user
        return user

    # --- webhooks, as Terra sends them ---

    def wait_for_events(self, count: int, timeout: float = 5.0) -> list[dict[str, Any]]:
        """The events built so far, once there are at least `count` (or `timeout` seconds have passed): Terra sends
        a webhook after it has answered the request that caused it, so the caller may see the answer first."""
        with self._event_built:
            self._event_built.wait_for(lambda: len(self.sent_events) >= count, timeout)
            return list(self.sent_events)

    def send_event(self, payload: dict[str, Any], *, headers: dict[str, str] | None = None) -> int:
        """Deliver one signed webhook to `webhook_url`; returns the receiver's status (0 when none is set or the
        delivery is dropped). `headers` adds Terra's others (`terra-reference`) or names the trace id."""
        with self._lock:
            self.sent_events.append(payload)
            self._event_built.notify_all()
            if self.drop_webhooks:
                self.dropped.append(payload)
                return 0
        if not self.webhook_url or not self.signing_secret:
            return 0
        raw = json.dumps(payload).encode()
        with self._lock:
            # Terra stamps each event when it emits it (unix milliseconds; a newer copy carries a higher one), then
            # signs the delivery in whole seconds: the stamp never falls after the signing second.
            self._emitted = max(int(time.time() * 1000), self._emitted + 1)
            emitted = self._emitted
        signature = terra_signature(self.signing_secret, raw, emitted // 1000)
        sent = {
            "Content-Type": "application/json",
            # The platform sends X-Terra-Signature and, deprecated, the same value as terra-signature.
            "X-Terra-Signature": signature,
            "terra-signature": signature,
            "X-Terra-Trace-Id": str(uuid.uuid4()),
            "X-Terra-Ordering-Timestamp": str(emitted),
            **(headers or {}),
        }
        status = requests.post(self.webhook_url, data=raw, headers=sent, timeout=8).status_code
        with self._lock:
            self.deliveries.append((str(payload.get("type")), status))
        return status

    def connect(
        self, provider: str, reference_id: str | None, *, widget_session_id: str | None = None
    ) -> SimulatedUser:
        """The user signed in at the provider: a new Terra user, and Terra's `auth` webhook."""
        user = self.add_user(provider, reference_id)
        self.send_event(auth_event(user, widget_session_id=widget_session_id))
        return user

    def deauth(self, user_id: str, event_type: str = "deauth") -> int:
        """The user disconnected (or revoked access at the provider: `access_revoked`)."""
        with self._lock:
            user = self.users.pop(user_id)
        status = "success" if event_type == "deauth" else "warning"
        return self.send_event(
            {"type": event_type, "user": user.as_terra(), "status": status, "message": f"User {event_type}"}
        )

    def reauth(self, user_id: str, *, name_old_user: bool = True) -> SimulatedUser:
        """The same provider account connected again: a new Terra user replaces the old one. Terra's 2026 schema
        allows `old_user: null` ("when available")."""
        with self._lock:
            old = self.users.pop(user_id)
        new = self.add_user(old.provider, old.reference_id)
        self.send_event(
            {
                "type": "user_reauth",
                "new_user": new.as_terra(),
                "old_user": old.as_terra() if name_old_user else None,
                "status": "warning",
                "message": "User has re-authenticated; the old user will be deleted",
                "version": "2022-03-16",
            }
        )
        self.send_event(auth_event(new))
        return new

    def sdk_connect(self, token: str, reference_id: str | None, provider: str = "APPLE") -> SimulatedUser | None:
        """The device side of Terra's mobile SDK: initConnection() with a token, under the reference_id the device
        names (nothing ties it to the token - that is the point). None when the token is unknown, used or expired."""
        with self._lock:
            expires = self.sdk_tokens.pop(token, None)
        if expires is None or expires < time.time() or provider not in SDK_PROVIDERS:
            return None
        return self.connect(provider, reference_id)

    def forget(self, user_id: str) -> None:
        """Terra deletes the user without telling anyone (no webhook): only reconciliation can notice."""
        with self._lock:
            self.users.pop(user_id, None)

    # --- lifecycle ---

    def start(self) -> "TerraSimulator":
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="terra-simulator", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        if self._thread:
            self._thread.join(timeout=5)

    def __enter__(self) -> "TerraSimulator":
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()

    def inject(self, fault: Fault, times: int = 1) -> None:
        with self._lock:
            self._faults.extend([fault] * times)

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()
            self.requests.clear()

    def _next_fault(self, path: str, body: bytes) -> Fault | None:
        with self._lock:
            for fault in self._faults:
                if fault.path in {None, path} and (fault.body_key is None or _has_key(body, fault.body_key)):
                    self._faults.remove(fault)
                    return fault
        return None

    def _record(self, request: RecordedRequest) -> None:
        with self._lock:
            self.requests.append(request)


def _has_key(body: bytes, key: str) -> bool:
    try:
        document = json.loads(body or b"null")
    except ValueError:
        return False
    return isinstance(document, dict) and key in document


def auth_event(user: SimulatedUser, *, widget_session_id: str | None = None) -> dict[str, Any]:
    """`auth` as Terra's 2026 schema has it: the reference_id is the user's, not beside it."""
    return {
        "type": "auth",
        "status": "success",
        "user": user.as_terra(),
        "message": "User has successfully authenticated",
        "widget_session_id": widget_session_id,
    }


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(
        self,
        address: tuple[str, int],
        handler: type[BaseHTTPRequestHandler],
        simulator: TerraSimulator,
        tls: ssl.SSLContext | None,
    ) -> None:
        super().__init__(address, handler)
        self.simulator = simulator
        if tls:
            self.socket = tls.wrap_socket(self.socket, server_side=True)

    def get_request(self) -> tuple[Any, Any]:
        connection = super().get_request()
        # One accepted connection is one TCP (and, with TLS, one handshake): benchmarks count these.
        with self.simulator._lock:
            self.simulator.connections += 1
        return connection


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, like Terra behind its load balancer
    # Headers and body go out in two writes; with Nagle on, the second waits for the client's delayed ACK (~40 ms).
    disable_nagle_algorithm = True
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the simulator records requests instead of printing them."""

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    def _dispatch(self, method: str) -> None:
        simulator = self.server.simulator
        path, _, query_string = self.path.partition("?")
        query = {k: v[0] for k, v in parse_qs(query_string).items()}
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self._after: list[Callable[[], object]] = []
        if method == "POST" and path in {FAULTS_PATH, WEBHOOKS_PATH, MISSING_PATHS, DATA_PATH, DELIVERY_PATH}:
            self._control(path, body)
            return
        simulator._record(RecordedRequest(method, path, dict(self.headers.items()), body, query))
        if method == "GET" and (
            path.startswith(("/session/", "/auth/", PAYLOADS_PATH)) or path in {"/sdk", "/sdk/connect"}
        ):
            if path.startswith(PAYLOADS_PATH):
                self._send(*simulator.data.payload(path.removeprefix(PAYLOADS_PATH)))
            else:
                _page(self, path, query)
            return
        route = simulator._routes.get((method, path))
        if route is None or path in simulator.missing_widget_paths:
            self._answer(problem(404, "not found", path))
            return
        fault = simulator._next_fault(path, body)
        if fault is not None:
            self._answer_with(fault)
            return
        denied = None if path.endswith("/integrations") else self._check_credentials(path)  # spec: security: []
        if denied:
            self._answer(denied)
            return
        try:
            payload = json.loads(body) if body else None
        except ValueError:
            self._answer(problem(400, "body is not JSON", path))
            return
        self._answer(route(simulator, _Request(method, path, query, payload, self._after.append)))

    def _check_credentials(self, path: str) -> Answer | None:
        simulator = self.server.simulator
        dev_id, api_key = self.headers.get("dev-id"), self.headers.get("x-api-key")
        if not dev_id or not api_key:
            return problem(401, "dev-id or x-api-key headers are missing", path)
        if not (
            secrets.compare_digest(dev_id, simulator.dev_id) and secrets.compare_digest(api_key, simulator.api_key)
        ):
            return legacy_error(403, "credentials invalid")
        return None

    def _control(self, path: str, body: bytes) -> None:
        try:
            spec = json.loads(body)
            if path == WEBHOOKS_PATH:
                self.server.simulator.drop_webhooks = bool(spec["drop"])
            elif path == MISSING_PATHS:
                self.server.simulator.missing_widget_paths = {str(p) for p in spec["paths"]}
            elif path in {DATA_PATH, DELIVERY_PATH}:
                self.server.simulator.data.control(path, spec)
            else:
                fault = Fault(**{k: v for k, v in spec.items() if k != "times"})
                self.server.simulator.inject(fault, times=int(spec.get("times", 1)))
        except (ValueError, TypeError, KeyError):
            self._answer(legacy_error(400, "not a valid control request"))
            return
        self._answer(Answer(201, {"status": "success"}))

    def _answer_with(self, fault: Fault) -> None:
        if fault.delay:
            time.sleep(fault.delay)
        if fault.drop_connection:
            self.close_connection = True
            self.connection.close()
            return
        self._answer(Answer(fault.status, fault.body, fault.headers))

    def _answer(self, answer: Answer) -> None:
        headers = dict(answer.headers or {})
        if self._after:
            # Terra sends webhooks asynchronously: never before it has answered the request that caused them, and
            # never holding up the caller's next request (the webhook may wait for the caller's own function to
            # finish: local mode runs one function at a time), so this connection closes and the next one is new.
            headers["Connection"] = "close"
        self._send(answer.status, answer.body, headers)
        for action in self._after:
            action()

    def _send(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        headers = dict(headers or {})
        is_text = isinstance(body, bytes | str)
        payload = body.encode() if isinstance(body, str) else body if is_text else json.dumps(body).encode()
        self.send_response(status)
        if not is_text:
            headers.setdefault("Content-Type", "application/json")
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)


# --- the API ---


def _create_widget_session(simulator: TerraSimulator, request: _Request) -> Answer:
    body = request.body if isinstance(request.body, dict) else {}
    if request.path == LEGACY_WIDGET_PATH:
        if simulator.legacy_gone:
            return legacy_error(410, "Use POST https://access.tryterra.co/api/widget/session")
        status, expires_in = 200, 900
    else:
        status, expires_in = CURRENT_WIDGET_PATHS[request.path]
        connected = body.get("connected_uids")
        if connected is not None:
            if not isinstance(connected, list) or not all(isinstance(uid, str) for uid in connected):
                return legacy_error(400, "connected_uids must be an array of strings")
            invalid = [uid for uid in connected if uid not in simulator.users]
            if invalid:
                answer = {"status": "error", "message": "Some connected_uids are not live users"}
                return Answer(400, {**answer, "invalid_user_ids": invalid})
    session_id = secrets.token_urlsafe(16)
    providers = [p for p in str(body.get("providers") or "").split(",") if p]
    simulator.sessions[session_id] = WidgetSession(
        session_id=session_id,
        reference_id=body.get("reference_id"),
        providers=providers,
        success_redirect_url=body.get("auth_success_redirect_url"),
        failure_redirect_url=body.get("auth_failure_redirect_url"),
    )
    url = f"{simulator.base_url}/session/{session_id}"
    return Answer(status, {"session_id": session_id, "url": url, "status": "success", "expires_in": expires_in})


def _authenticate_user(simulator: TerraSimulator, request: _Request) -> Answer:
    body = request.body if isinstance(request.body, dict) else {}
    provider = request.query.get("resource", "").upper()
    if provider not in PROVIDERS:
        return problem(404, f"resource {provider!r} not found", request.path)
    user = SimulatedUser(user_id=str(uuid.uuid4()), provider=provider, reference_id=body.get("reference_id"))
    user.success_redirect_url = body.get("auth_success_redirect_url")
    user.failure_redirect_url = body.get("auth_failure_redirect_url")
    with simulator._lock:
        simulator.pending[user.user_id] = user
    auth_url = f"{simulator.base_url}/auth/{provider}/{user.user_id}"
    return Answer(200, {"status": "success", "user_id": user.user_id, "auth_url": auth_url})


def _deauthenticate_user(simulator: TerraSimulator, request: _Request) -> Answer:
    user_id = request.query.get("user_id", "")
    if not user_id:
        return problem(400, "user_id is required", request.path)
    if user_id not in simulator.users:
        return problem(404, "user not found", request.path)
    # Terra deletes the user, then sends its `deauth` webhook - after answering.
    request.after(lambda: simulator.deauth(user_id))
    return Answer(200, {"status": "success"})


def _user_info(simulator: TerraSimulator, request: _Request) -> Answer:
    with simulator._lock:
        users = list(simulator.users.values())
    if "user_id" in request.query:
        found = next((u for u in users if u.user_id == request.query["user_id"]), None)
        if found is None:
            return problem(404, "user not found", request.path)
        terra = {**found.as_terra(), "last_polled_at": None, "most_recent_data_at": None}
        return Answer(200, {"user": terra, "status": "success", "is_authenticated": found.active})
    if "reference_id" in request.query:
        return Answer(200, [u.as_terra() for u in users if u.reference_id == request.query["reference_id"]])
    return problem(400, "user_id or reference_id is required", request.path)


def _subscriptions(simulator: TerraSimulator, request: _Request) -> Answer:
    with simulator._lock:
        users = sorted(simulator.users.values(), key=lambda u: u.created_at + u.user_id)
    if "page" not in request.query:
        return Answer(200, {"users": [u.as_terra() for u in users]})
    try:
        page, per_page = int(request.query["page"]), int(request.query.get("per_page", PAGE_SIZE))
    except ValueError:
        return problem(400, "page and per_page must be integers", request.path)
    if page < 0 or per_page < 1:
        return problem(400, "page must be >= 0 and per_page >= 1", request.path)
    max_page = max(0, (len(users) - 1) // per_page)
    results = users[page * per_page : (page + 1) * per_page]
    data = {
        "next": page + 1 if page < max_page else None,
        "max_page": max_page,
        "results": [u.as_terra() for u in results],
    }
    return Answer(200, {"data": data})


def _generate_auth_token(simulator: TerraSimulator, request: _Request) -> Answer:
    token = secrets.token_hex(32)
    with simulator._lock:
        simulator.sdk_tokens[token] = time.time() + SDK_TOKEN_SECONDS
    return Answer(200, {"status": "success", "token": token, "expires_in": SDK_TOKEN_SECONDS})


def _integrations(simulator: TerraSimulator, request: _Request) -> Answer:
    return Answer(200, {"providers": list(PROVIDERS), "sdk_providers": list(SDK_PROVIDERS), "status": "success"})


def _bulk_user_info(simulator: TerraSimulator, request: _Request) -> Answer:
    if not isinstance(request.body, list) or not all(isinstance(uid, str) for uid in request.body):
        return problem(400, "the body must be an array of user ids", request.path)
    with simulator._lock:
        found = [simulator.users[uid].as_terra() for uid in request.body if uid in simulator.users]
    return Answer(200, found)


# --- the user's side: pages a browser opens ---

_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Terra simulator</title>
<style>
 body {{ font-family: system-ui, sans-serif; max-width: 26rem; margin: 2rem auto; padding: 0 1rem; color: #1d2433; }}
 h1 {{ font-size: 1.3rem; }} p {{ color: #5b6478; }}
 a.provider, a.action {{ display: block; margin: .5rem 0; padding: .9rem 1rem; border: 1px solid #d6dae3;
   border-radius: .6rem; text-decoration: none; color: inherit; font-weight: 600; }}
 a.provider:hover, a.action:hover {{ background: #f3f5f9; }} a.cancel {{ color: #a33; font-weight: 400; }}
 small {{ color: #8a91a3; }}
</style></head>
<body><h1>{title}</h1><p>{subtitle}</p>{body}<small>Local Terra simulator - no real account is connected.</small>
</body></html>"""


def _html(handler: _Handler, status: int, title: str, subtitle: str, body: str) -> None:
    handler._send(
        status,
        _PAGE.format(title=escape(title), subtitle=escape(subtitle), body=body),
        {"Content-Type": "text/html; charset=utf-8"},
    )


def _redirect(handler: _Handler, url: str | None, params: dict[str, str], fallback_title: str) -> None:
    if not url:
        _html(handler, 200, fallback_title, "You can close this window.", "")
        return
    separator = "&" if "?" in url else "?"
    handler._send(302, b"", {"Location": url + separator + urlencode(params)})


def _page(handler: _Handler, path: str, query: dict[str, str]) -> None:
    """The widget's provider list, a provider's sign-in page for the custom-UI path, and the phone with the SDK."""
    simulator = handler.server.simulator
    if path.startswith("/sdk"):
        _sdk_page(handler, path, query)
        return

    parts = path.strip("/").split("/")
    if parts[0] == "session" and len(parts) >= 2 and parts[1] in simulator.sessions:
        session = simulator.sessions[parts[1]]
        action = parts[2] if len(parts) > 2 else ""
        if action == "connect" and query.get("provider") in PROVIDERS:
            user = simulator.connect(query["provider"], session.reference_id, widget_session_id=session.session_id)
            params = {"user_id": user.user_id, "resource": user.provider, "reference_id": user.reference_id or ""}
            _redirect(handler, session.success_redirect_url, params, f"{user.provider} connected")
            return
        if action == "cancel":
            simulator.send_event(
                {
                    "type": "auth_cancelled",
                    "status": "error",
                    "reason": "user_cancelled",
                    "reference_id": session.reference_id,
                    "flow_id": session.session_id,
                }
            )
            _redirect(handler, session.failure_redirect_url, {"reference_id": session.reference_id or ""}, "Cancelled")
            return
        links = "".join(
            f'<a class="provider" data-provider="{p}" href="/session/{session.session_id}/connect?provider={p}">{p}</a>'
            for p in (session.providers or PROVIDERS)
        )
        cancel = f'<a class="action cancel" href="/session/{session.session_id}/cancel">Cancel</a>'
        _html(handler, 200, "Connect a wearable", "Choose the device or app to connect.", links + cancel)
        return
    if parts[0] == "auth" and len(parts) >= 3 and parts[2] in simulator.pending:
        user = simulator.pending[parts[2]]
        if len(parts) > 3 and parts[3] == "authorize":
            with simulator._lock:
                simulator.users[user.user_id] = simulator.pending.pop(user.user_id)
            simulator.send_event(auth_event(user))
            params = {"user_id": user.user_id, "resource": user.provider, "reference_id": user.reference_id or ""}
            _redirect(handler, user.success_redirect_url, params, f"{user.provider} connected")
            return
        button = f'<a class="action" href="/auth/{user.provider}/{user.user_id}/authorize">Sign in and allow access</a>'
        _html(handler, 200, f"Sign in to {user.provider}", "Terra asks to read your health data.", button)
        return
    _html(handler, 404, "Not found", "This session has expired or does not exist.", "")


def _sdk_page(handler: _Handler, path: str, query: dict[str, str]) -> None:
    """A phone running the app with Terra's mobile SDK: a token from the backend, a reference_id of its choosing."""
    simulator = handler.server.simulator
    if path == "/sdk/connect":
        provider = query.get("provider", "APPLE")
        user = simulator.sdk_connect(query.get("token", ""), query.get("reference_id") or None, provider)
        if user is None:
            _html(handler, 401, "Not connected", "The token is unknown, already used or expired (180 s).", "")
            return
        _html(handler, 200, f"{provider} connected", f"Terra user {user.user_id}; the auth webhook was sent.", "")
        return
    options = "".join(f"<option>{escape(p)}</option>" for p in SDK_PROVIDERS)
    form = (
        '<form action="/sdk/connect" method="get">'
        '<p><label>Token from POST /v1/sdk-tokens<br><input name="token" size="40"></label></p>'
        '<p><label>reference_id the device names<br><input name="reference_id" size="40"></label></p>'
        f'<p><label>Provider <select name="provider">{options}</select></label></p>'
        '<p><button class="action" type="submit">initConnection()</button></p></form>'
    )
    _html(handler, 200, "Terra mobile SDK", "What the app on the phone does with the token.", form)
