"""A local stand-in for Terra's API, on loopback, for smoke runs, local mode and benchmarks.

It checks the `dev-id` / `x-api-key` headers like Terra, answers the widget-session endpoint at both of
Terra's URLs (the current one with 201, the legacy one with 200, or 410 like an account created after
2026-09-03), authenticateUser, deauthenticateUser and userInfo, records every request, and injects faults
on demand: programmatically with `inject()`, or from another process with `POST /_simulator/faults`.

Given a webhook URL and signing secret it also plays the user's side: its widget page lists providers, and
picking one "connects" it, sends a signed `auth` webhook and redirects to the session's success URL, as
Terra does. `send_event()` sends any other lifecycle event (deauth, user_reauth, ...).
"""

import hashlib
import hmac
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

CURRENT_WIDGET_PATHS = ("/api/widget/session", "/widget/session")
LEGACY_WIDGET_PATH = "/v2/auth/generateWidgetSession"
API_BASE_PATH = "/v2"
PROVIDERS = ("GARMIN", "FITBIT", "OURA", "WITHINGS", "POLAR", "WHOOP", "COROS", "STRAVA")
FAULTS_PATH = "/_simulator/faults"
SESSION_SECONDS = 900


@dataclass(frozen=True)
class Fault:
    """What the next matching request gets instead of a normal answer."""

    status: int = 503
    body: Any = field(default_factory=lambda: {"status": "error", "message": "injected fault"})
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # seconds to wait before answering
    drop_connection: bool = False  # close the socket without answering
    path: str | None = None  # only requests to this path; None means any Terra endpoint


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body or b"null")


@dataclass
class SimulatedUser:
    user_id: str
    provider: str
    reference_id: str | None
    active: bool = True
    scopes: str = "activity,sleep,daily,body"
    success_redirect_url: str | None = None
    failure_redirect_url: str | None = None

    def as_terra(self) -> dict[str, Any]:
        return {
            "user_id": self.user_id,
            "provider": self.provider,
            "reference_id": self.reference_id,
            "scopes": self.scopes,
            "active": self.active,
        }


@dataclass
class WidgetSession:
    session_id: str
    reference_id: str | None
    providers: list[str]
    success_redirect_url: str | None
    failure_redirect_url: str | None


Route = Callable[["_Handler", dict[str, Any], dict[str, str]], tuple[int, Any]]


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
    ) -> None:
        """`public_host` is the name clients use when it differs from `host` (a container's host.docker.internal).

        With `webhook_url` and `signing_secret`, lifecycle events are delivered there, signed like Terra's.
        """
        self.dev_id = dev_id
        self.api_key = api_key
        self.legacy_gone = legacy_gone
        self.webhook_url = webhook_url
        self.signing_secret = signing_secret
        self.deliveries: list[tuple[str, int]] = []  # (event type, status the receiver answered)
        self.requests: list[RecordedRequest] = []
        self.sessions: dict[str, WidgetSession] = {}
        self.users: dict[str, SimulatedUser] = {}
        self.connections = 0
        self._faults: deque[Fault] = deque()
        self._lock = threading.Lock()
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
        }

    @property
    def widget_session_url(self) -> str:
        return self.base_url + CURRENT_WIDGET_PATHS[0]

    @property
    def legacy_widget_session_url(self) -> str:
        return self.base_url + LEGACY_WIDGET_PATH

    @property
    def api_base_url(self) -> str:
        return self.base_url + API_BASE_PATH

    def add_user(self, provider: str, reference_id: str | None) -> SimulatedUser:
        user = SimulatedUser(user_id=str(uuid.uuid4()), provider=provider, reference_id=reference_id)
        with self._lock:
            self.users[user.user_id] = user
        return user

    def send_event(self, payload: dict[str, Any]) -> int:
        """Deliver one signed webhook to `webhook_url`; returns the receiver's status (0 when none is set)."""
        if not self.webhook_url or not self.signing_secret:
            return 0
        raw = json.dumps(payload).encode()
        timestamp = int(time.time())
        digest = hmac.new(self.signing_secret.encode(), f"{timestamp}.".encode() + raw, hashlib.sha256).hexdigest()
        headers = {
            "Content-Type": "application/json",
            "terra-signature": f"t={timestamp},v1={digest}",
            "X-Terra-Trace-Id": str(uuid.uuid4()),
        }
        status = requests.post(self.webhook_url, data=raw, headers=headers, timeout=8).status_code
        with self._lock:
            self.deliveries.append((str(payload.get("type")), status))
        return status

    def deauth(self, user_id: str, event_type: str = "deauth") -> int:
        """The user disconnected (or the provider revoked access: `access_revoked`)."""
        with self._lock:
            user = self.users.pop(user_id)
        return self.send_event({"type": event_type, "user": user.as_terra(), "reference_id": user.reference_id})

    def reauth(self, user_id: str) -> SimulatedUser:
        """The same account connected again: a new Terra user replaces the old one."""
        with self._lock:
            old = self.users.pop(user_id)
        new = self.add_user(old.provider, old.reference_id)
        self.send_event({"type": "user_reauth", "old_user": old.as_terra(), "new_user": new.as_terra()})
        self.send_event({"type": "auth", "status": "success", "user": new.as_terra(), "reference_id": new.reference_id})
        return new

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

    def _next_fault(self, path: str) -> Fault | None:
        with self._lock:
            for fault in self._faults:
                if fault.path in {None, path}:
                    self._faults.remove(fault)
                    return fault
        return None

    def _record(self, request: RecordedRequest) -> None:
        with self._lock:
            self.requests.append(request)


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
        if path == FAULTS_PATH and method == "POST":
            self._inject_from_request(body)
            return
        simulator._record(RecordedRequest(method, path, dict(self.headers.items()), body))
        if method == "GET" and path.startswith(("/session/", "/auth/")):
            _page(self, path, query)  # the user's browser: no API credentials
            return
        route = simulator._routes.get((method, path))
        if route is None:
            self._send(HTTPStatus.NOT_FOUND, {"status": "error", "message": "not found"})
            return
        fault = simulator._next_fault(path)
        if fault is not None:
            self._answer_with(fault)
            return
        denied = self._check_credentials()
        if denied:
            self._send(*denied)
            return
        try:
            payload = json.loads(body) if body else {}
        except ValueError:
            self._send(HTTPStatus.BAD_REQUEST, {"status": "error", "message": "body is not JSON"})
            return
        self._send(*route(self, payload if isinstance(payload, dict) else {}, query))

    def _check_credentials(self) -> tuple[int, Any] | None:
        simulator = self.server.simulator
        dev_id, api_key = self.headers.get("dev-id"), self.headers.get("x-api-key")
        if not dev_id or not api_key:
            return 401, {
                "type": "about:blank",
                "title": "Unauthorized",
                "detail": "dev-id or x-api-key headers are missing",
                "instance": self.path,
            }
        if not (
            secrets.compare_digest(dev_id, simulator.dev_id) and secrets.compare_digest(api_key, simulator.api_key)
        ):
            return 403, {"status": "error", "message": "credentials invalid"}
        return None

    def _inject_from_request(self, body: bytes) -> None:
        try:
            spec = json.loads(body)
            fault = Fault(**{k: v for k, v in spec.items() if k != "times"})
        except (ValueError, TypeError):
            self._send(HTTPStatus.BAD_REQUEST, {"status": "error", "message": "not a fault"})
            return
        self.server.simulator.inject(fault, times=int(spec.get("times", 1)))
        self._send(HTTPStatus.CREATED, {"status": "success"})

    def _answer_with(self, fault: Fault) -> None:
        if fault.delay:
            time.sleep(fault.delay)
        if fault.drop_connection:
            self.close_connection = True
            self.connection.close()
            return
        self._send(fault.status, fault.body, fault.headers)

    def _send(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        is_text = isinstance(body, bytes | str)
        payload = body.encode() if isinstance(body, str) else body if is_text else json.dumps(body).encode()
        self.send_response(status)
        if not is_text:
            self.send_header("Content-Type", "application/json")
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)


def _create_widget_session(handler: _Handler, body: dict[str, Any], _: dict[str, str]) -> tuple[int, Any]:
    simulator = handler.server.simulator
    legacy = handler.path.startswith(LEGACY_WIDGET_PATH)
    if legacy and simulator.legacy_gone:
        return 410, {"status": "error", "message": "Use POST https://access.tryterra.co/api/widget/session"}
    session_id = secrets.token_urlsafe(16)
    providers = [p for p in str(body.get("providers") or "").split(",") if p]
    simulator.sessions[session_id] = WidgetSession(
        session_id=session_id,
        reference_id=body.get("reference_id"),
        providers=providers,
        success_redirect_url=body.get("auth_success_redirect_url"),
        failure_redirect_url=body.get("auth_failure_redirect_url"),
    )
    answer = {
        "session_id": session_id,
        "url": f"{simulator.base_url}/session/{session_id}",
        "status": "success",
        "expires_in": SESSION_SECONDS,
    }
    return (200 if legacy else 201), answer


def _authenticate_user(handler: _Handler, body: dict[str, Any], query: dict[str, str]) -> tuple[int, Any]:
    simulator = handler.server.simulator
    provider = query.get("resource", "")
    if provider not in PROVIDERS:
        return 404, {"status": "error", "message": f"resource {provider!r} not found"}
    user = simulator.add_user(provider, body.get("reference_id"))
    user.active = False  # until the user signs in at the provider
    user.success_redirect_url = body.get("auth_success_redirect_url")
    user.failure_redirect_url = body.get("auth_failure_redirect_url")
    return 200, {
        "status": "success",
        "user_id": user.user_id,
        "auth_url": f"{simulator.base_url}/auth/{provider}/{user.user_id}",
    }


def _deauthenticate_user(handler: _Handler, _: dict[str, Any], query: dict[str, str]) -> tuple[int, Any]:
    simulator = handler.server.simulator
    with simulator._lock:
        user = simulator.users.pop(query.get("user_id", ""), None)
    if user is None:
        return 404, {"status": "error", "message": "user not found"}
    return 200, {"status": "success"}


def _user_info(handler: _Handler, _: dict[str, Any], query: dict[str, str]) -> tuple[int, Any]:
    simulator = handler.server.simulator
    users = list(simulator.users.values())
    if "user_id" in query:
        users = [u for u in users if u.user_id == query["user_id"]]
    if "reference_id" in query:
        users = [u for u in users if u.reference_id == query["reference_id"]]
    return 200, [
        {
            "user_id": u.user_id,
            "provider": u.provider,
            "reference_id": u.reference_id,
            "active": u.active,
            "scopes": u.scopes,
        }
        for u in users
    ]


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
    """The user's side: the widget's provider list, and a provider's sign-in page for the custom-UI path."""
    simulator = handler.server.simulator
    parts = path.strip("/").split("/")
    if parts[0] == "session" and len(parts) >= 2 and parts[1] in simulator.sessions:
        session = simulator.sessions[parts[1]]
        action = parts[2] if len(parts) > 2 else ""
        if action == "connect" and query.get("provider") in PROVIDERS:
            user = simulator.add_user(query["provider"], session.reference_id)
            simulator.send_event(
                {
                    "type": "auth",
                    "status": "success",
                    "user": user.as_terra(),
                    "reference_id": user.reference_id,
                    "widget_session_id": session.session_id,
                }
            )
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
    if parts[0] == "auth" and len(parts) >= 3 and parts[2] in simulator.users:
        user = simulator.users[parts[2]]
        if len(parts) > 3 and parts[3] == "authorize":
            user.active = True
            simulator.send_event(
                {"type": "auth", "status": "success", "user": user.as_terra(), "reference_id": user.reference_id}
            )
            params = {"user_id": user.user_id, "resource": user.provider, "reference_id": user.reference_id or ""}
            _redirect(handler, user.success_redirect_url, params, f"{user.provider} connected")
            return
        button = f'<a class="action" href="/auth/{user.provider}/{user.user_id}/authorize">Sign in and allow access</a>'
        _html(handler, 200, f"Sign in to {user.provider}", "Terra asks to read your health data.", button)
        return
    _html(handler, 404, "Not found", "This session has expired or does not exist.", "")
