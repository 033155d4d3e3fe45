"""Terra's HTTP API, one operation a method: what each sends and how its answer is read.

Every call goes through the transport (terra/transport.py), which owns the rules that keep the function fast and
the keys safe: timeouts, retries within the deadline, size caps, no redirects followed, a 401/403 answered by
reading the secret again, and redaction.
"""

import json
import random
import re
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

import requests

from terra_connect.connections.vocabulary import TerraUser
from terra_connect.kernel.deadline import Deadline
from terra_connect.kernel.errors import (
    RegistryRejected,
    StaleConnectedUsers,
    TerraBadResponse,
    UnknownProvider,
)
from terra_connect.settings import (
    CURRENT_WIDGET_SESSION_URL,
    DEFAULT_TERRA_API_BASE_URL,
    is_legacy_widget_url,
    is_local_url,
    widget_session_candidates,
)
from terra_connect.sync.ports import UsersPage
from terra_connect.terra import users
from terra_connect.terra.credentials import CredentialsSource
from terra_connect.terra.messages import (
    PROVIDER_PATTERN,
    AuthUrlParams,
    Integrations,
    TerraAuthUrl,
    TerraSdkToken,
    TerraWidgetSession,
    WidgetSessionParams,
)
from terra_connect.terra.transport import (
    DEFAULT_POLICY,
    Answer,
    AttemptObserver,
    RetryPolicy,
    TerraTransport,
    ignore_attempt,
)

# Terra's legacy endpoint documents 900 s; used when an answer omits expires_in.
DEFAULT_EXPIRES_IN = 900
_MAX_URL_CHARS = 4096

# Terra's expires_in beyond this is not a real expiry (a session or token lasting over 30 days): refused as unusable.
MAX_EXPIRES_IN = 30 * 86_400
DEFAULT_SDK_TOKEN_EXPIRES_IN = 180
_MAX_TOKEN_CHARS = 1024
_PROVIDER = re.compile(PROVIDER_PATTERN)

# Told the widget-session URL that answered after the configured one answered 404 (once per container).
WidgetUrlObserver = Callable[[str], None]


def _ignore_widget_url(url: str) -> None:
    """Default observer: record nothing."""


class TerraClient:
    def __init__(
        self,
        *,
        credentials: CredentialsSource,
        widget_session_url: str = CURRENT_WIDGET_SESSION_URL,
        api_base_url: str = DEFAULT_TERRA_API_BASE_URL,
        session: requests.Session | None = None,
        policy: RetryPolicy = DEFAULT_POLICY,
        observe: AttemptObserver = ignore_attempt,
        on_widget_url_found: WidgetUrlObserver = _ignore_widget_url,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        # Every published path is tried (once per container) when the default answers 404; see settings.
        self._configured_widget_url = widget_session_url
        self._widget_urls: tuple[str, ...] = ()
        self._widget_url_settled = False
        self._forget_widget_url()
        self._on_widget_url_found = on_widget_url_found
        self._api_base_url = api_base_url.rstrip("/")
        self._legacy_widget = is_legacy_widget_url(widget_session_url)
        # The widget URL Terra returns must be https, except when Terra itself is a local simulator.
        self._allow_http_urls = is_local_url(widget_session_url)
        self._credentials = credentials
        self._transport = TerraTransport(
            credentials=credentials,
            session=session,
            policy=policy,
            observe=observe,
            sleep=sleep,
            clock=clock,
            jitter=jitter,
        )
        self._call = self._transport.call

    def get(
        self,
        path: str,
        operation: str,
        deadline: Deadline,
        *,
        params: Mapping[str, str],
        accept: frozenset[int],
    ) -> Answer:
        """GET a path of Terra's API under the rules every call here follows; a status in `accept` is answered rather
        than raised (a caller that waits through a queue takes 429 itself instead of sleeping here)."""
        return self._call("GET", f"{self._api_base_url}{path}", operation, deadline, params=params, accept=accept)

    def create_widget_session(self, params: WidgetSessionParams, deadline: Deadline) -> TerraWidgetSession:
        body = self._widget_body(params)
        answer = self._widget_answer(body, deadline)
        if answer.status == 400:
            # Terra's 2026.10 spec: 400 {"status": "error", "invalid_user_ids": [...]} when a pre-filled id is not
            # a live Terra user. A 400 naming none may still be about them: the caller retries without the pre-fill.
            context = self._transport.rejection(answer, "widget_session", self._credentials.get()).log_context
            raise StaleConnectedUsers(_invalid_user_ids(answer.body), log_context=context)
        document = answer.json_object()
        url = self._link(document, "url", answer.status)
        warnings = document.get("warnings")
        return TerraWidgetSession(
            url=url,
            session_id=str(document.get("session_id") or ""),
            expires_in=_expires_in(document, DEFAULT_EXPIRES_IN, answer.status),
            warnings=tuple(w for w in warnings if isinstance(w, str)) if isinstance(warnings, list) else (),
        )

    def _widget_answer(self, body: Mapping[str, Any], deadline: Deadline) -> Answer:
        """Terra's answer from the widget endpoint; with the default setting, a 404 there (an account on another of
        Terra's published paths) makes it try the others, once per container, and remember the one that answers."""
        accept = {400} if "connected_uids" in body else set()
        while True:
            url = self._widget_urls[0]
            searching = not self._widget_url_settled
            answer = self._call(
                "POST",
                url,
                "widget_session",
                deadline,
                body=body,
                accept=frozenset(accept | ({404} if searching else set())),
            )
            if not searching:
                return answer
            if answer.status != 404:
                self._widget_url_settled = True
                if url != self._configured_widget_url:
                    self._on_widget_url_found(url)
                return answer
            if len(self._widget_urls) == 1:
                self._widget_url_settled = True  # no published path answers: keep the configured one, say so
                self._widget_urls = (self._configured_widget_url,)
                raise self._transport.rejection(answer, "widget_session", self._credentials.get())
            self._widget_urls = self._widget_urls[1:]

    def generate_auth_token(self, reference_id: str, deadline: Deadline) -> TerraSdkToken:
        """A single-use token for Terra's mobile SDK initConnection() (POST /auth/generateAuthToken, no body).

        `reference_id` goes as a query parameter: Terra's v2 spec lists none, but its rules repository says a token
        minted with one is bound to it at Terra, which then ignores the reference_id the device sends. Where Terra
        does not, the registry's own binding (sdk/binding.py) still holds."""
        answer = self._call(
            "POST",
            f"{self._api_base_url}/auth/generateAuthToken",
            "generate_auth_token",
            deadline,
            params={"reference_id": reference_id},
        )
        document = answer.json_object()
        token = document.get("token")
        if not isinstance(token, str) or not token or len(token) > _MAX_TOKEN_CHARS or not token.isprintable():
            raise TerraBadResponse(log_context={"reason": "answer has no usable token", "terra_status": answer.status})
        return TerraSdkToken(token=token, expires_in=_expires_in(document, DEFAULT_SDK_TOKEN_EXPIRES_IN, answer.status))

    def integrations(self, deadline: Deadline) -> Integrations:
        """GET /integrations: {providers: [...], sdk_providers: [...]}; codes upper-cased, anything else dropped."""
        document = self._call("GET", f"{self._api_base_url}/integrations", "integrations", deadline).json_object()
        return Integrations(
            providers=_provider_codes(document.get("providers")),
            sdk_providers=_provider_codes(document.get("sdk_providers")),
        )

    def authenticate_user(self, params: AuthUrlParams, deadline: Deadline) -> TerraAuthUrl:
        """Custom UI: an auth URL for one provider, without the widget's picker."""
        body = {
            "reference_id": params.reference_id,
            "language": params.language,
            "auth_success_redirect_url": params.success_redirect_url,
            "auth_failure_redirect_url": params.failure_redirect_url,
        }
        answer = self._call(
            "POST",
            f"{self._api_base_url}/auth/authenticateUser",
            "authenticate_user",
            deadline,
            body=_without_none(body),
            params={"resource": params.provider},
            accept=frozenset({404}),
        )
        if answer.status == 404:
            raise UnknownProvider(log_context={"provider": params.provider})
        document = answer.json_object()
        auth_url = self._link(document, "auth_url", answer.status)
        user_id = document.get("user_id")
        return TerraAuthUrl(auth_url=auth_url, terra_user_id=user_id if isinstance(user_id, str) else None)

    def deauthenticate_user(self, terra_user_id: str, deadline: Deadline) -> bool:
        """Disconnect a Terra user (Terra deletes its data and sends a deauth webhook). False if already gone."""
        answer = self._call(
            "DELETE",
            f"{self._api_base_url}/auth/deauthenticateUser",
            "deauthenticate_user",
            deadline,
            params={"user_id": terra_user_id},
            accept=frozenset({404}),
        )
        return answer.status != 404

    def users_of(self, reference_id: str, deadline: Deadline) -> list[TerraUser]:
        """GET /userInfo?reference_id=: an array of TerraUser (404, or an empty answer: none)."""
        answer = self._call(
            "GET",
            f"{self._api_base_url}/userInfo",
            "user_info",
            deadline,
            params={"reference_id": reference_id},
            accept=frozenset({404}),
        )
        return [] if answer.status == 404 else _users(answer.json())

    def user(self, terra_user_id: str, deadline: Deadline) -> TerraUser | None:
        """GET /userInfo?user_id=: an object {user, status, is_authenticated}; 404 when Terra does not know it."""
        answer = self._call(
            "GET",
            f"{self._api_base_url}/userInfo",
            "user_info",
            deadline,
            params={"user_id": terra_user_id},
            accept=frozenset({404}),
        )
        if answer.status == 404:
            return None
        return next((user for user in _users(answer.json()) if user.terra_user_id == terra_user_id), None)

    def users_page(self, page: int, per_page: int, deadline: Deadline) -> UsersPage:
        """GET /subscriptions?page=&per_page=: {data: {next, max_page, results}}; an account that answers without
        paging ({users: [...]}) has given everything at once."""
        answer = self._call(
            "GET",
            f"{self._api_base_url}/subscriptions",
            "subscriptions",
            deadline,
            params={"page": str(page), "per_page": str(per_page)},
        )
        document = answer.json_object()
        data = document.get("data")
        if isinstance(data, dict):
            following = data.get("next")
            next_page = following if type(following) is int and following > page else None
            entries = data.get("results")
        else:
            next_page, entries = None, document.get("users")
        readable = _users(entries)
        listed = len(entries) if isinstance(entries, list) else 0
        return UsersPage(tuple(readable), next_page, unusable=listed - len(readable))

    def users_by_ids(self, terra_user_ids: Sequence[str], deadline: Deadline) -> list[TerraUser]:
        """POST /bulkUserInfo with the ids: the TerraUsers Terra still knows (404: none of them)."""
        answer = self._call(
            "POST",
            f"{self._api_base_url}/bulkUserInfo",
            "bulk_user_info",
            deadline,
            body=list(terra_user_ids),
            accept=frozenset({404}),
        )
        return [] if answer.status == 404 else _users(answer.json())

    def _widget_body(self, params: WidgetSessionParams) -> dict[str, Any]:
        body: dict[str, Any] = {
            "reference_id": params.reference_id,
            "providers": ",".join(params.providers) or None,
            "language": params.language,
            "auth_success_redirect_url": params.success_redirect_url,
            "auth_failure_redirect_url": params.failure_redirect_url,
            # Terra's old JS SDK sent these two to the legacy endpoint as well.
            "show_disconnect": params.show_disconnect,
            "use_terra_avengers_app": params.use_terra_avengers_app,
        }
        if not self._legacy_widget:
            # Only the current endpoint knows these fields (the 2026.10 widget spec).
            body |= {
                "multi_auth": params.multi_auth,
                "bypass_feedback": params.bypass_feedback,
                "connected_uids": list(params.connected_uids) or None,
                "apple_app_url": params.apple_app_url,
                "samsung_app_url": params.samsung_app_url,
            }
        return _without_none(body)

    def _link(self, document: Mapping[str, Any], field: str, status: int) -> str:
        """The URL Terra answered in `field`, if the user's browser may be sent there; else TerraBadResponse."""
        url = document.get(field)
        if not isinstance(url, str) or not self._usable_url(url):
            raise TerraBadResponse(log_context={"reason": f"answer has no usable {field}", "terra_status": status})
        return url

    def _usable_url(self, url: str) -> bool:
        parts = urlsplit(url)
        schemes = {"https", "http"} if self._allow_http_urls else {"https"}
        if len(url) > _MAX_URL_CHARS or "@" in parts.netloc:
            return False
        return parts.scheme in schemes and bool(parts.hostname)

    def close(self) -> None:
        """Drop the kept-alive connections and what this container learnt (the widget path that answered, the
        environment's proxies); the next request starts afresh."""
        self._transport.close()
        self._forget_widget_url()

    def _forget_widget_url(self) -> None:
        """Back to the published paths to try for the configured widget URL (one candidate: settled at once)."""
        self._widget_urls = widget_session_candidates(self._configured_widget_url)
        self._widget_url_settled = len(self._widget_urls) == 1


def _expires_in(document: Mapping[str, Any], default: int, status: int) -> int:
    """Terra's `expires_in` (a number of seconds); `default` when it is missing or not a number. A number no real
    expiry has (zero, negative, beyond 30 days) means the answer cannot be trusted."""
    value = document.get("expires_in")
    if isinstance(value, bool) or not isinstance(value, int | float):
        return default
    if not 0 < value <= MAX_EXPIRES_IN:  # NaN fails this too
        raise TerraBadResponse(log_context={"reason": "answer has an impossible expires_in", "terra_status": status})
    return int(value)


def _provider_codes(value: Any) -> tuple[str, ...]:
    codes = [code.upper() for code in value if isinstance(code, str)] if isinstance(value, list) else []
    return tuple(dict.fromkeys(code for code in codes if _PROVIDER.fullmatch(code)))


def _users(document: Any) -> list[TerraUser]:
    """TerraUsers from any of Terra's shapes: an array, {user: {...}}, or {users: [...]}. Entries the registry
    could not store (ids beyond its bounds) are left out."""
    if isinstance(document, dict):
        document = [document["user"]] if isinstance(document.get("user"), dict) else document.get("users")
    found: list[TerraUser] = []
    for entry in document if isinstance(document, list) else []:
        try:
            user = users.terra_user(entry)
        except RegistryRejected:
            continue
        if user is not None:
            found.append(user)
    return found


def _invalid_user_ids(body: bytes) -> tuple[str, ...]:
    try:
        document = json.loads(body)
    except (ValueError, RecursionError):
        return ()
    ids = document.get("invalid_user_ids") if isinstance(document, dict) else None
    return tuple(uid for uid in ids if isinstance(uid, str)) if isinstance(ids, list) else ()


def _without_none(body: Mapping[str, Any]) -> dict[str, Any]:
    """Terra gets only the fields that are set."""
    return {key: value for key, value in body.items() if value is not None}
