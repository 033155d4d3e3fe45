"""Local mode behaves like the deployed HTTP API and Lambda: the JWT authorizer's checks and answers, API Gateway's
answers to what it cannot route or parse, and one event at a time per function instance."""

import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from joserfc import jwt
from joserfc.jwk import KeySet, RSAKey
from local.dev import DevStack, dev_stack
from local.gateway import Forbidden, JwtAuthorizer, LocalContext, TurnLock, Unauthorized
from tooling.template import authorization_scopes

from tests.support.builders import terra_user

ISSUER = "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_local"
CLIENT = "app-client"
NOW = 1_795_000_000
KEY = RSAKey.generate_key(2048, parameters={"kid": "k1"})
OTHER_KEY = RSAKey.generate_key(2048, parameters={"kid": "k1"})


ACCESS_SCOPE = "aws.cognito.signin.user.admin"


def authorizer(scopes: frozenset[str] = frozenset()) -> JwtAuthorizer:
    return JwtAuthorizer(
        issuer=ISSUER,
        audiences=frozenset({CLIENT}),
        jwks=lambda: dict(KeySet([KEY]).as_dict(private=False)),
        scopes=scopes,
        clock=lambda: NOW,
    )


def token(key: RSAKey = KEY, alg: str = "RS256", **overrides: Any) -> str:
    claims = {"sub": "alice-sub", "iss": ISSUER, "client_id": CLIENT, "exp": NOW + 60, "iat": NOW - 5} | overrides
    return jwt.encode({"alg": alg, "kid": "k1"}, {k: v for k, v in claims.items() if v is not None}, key)


def unsigned(**claims: Any) -> str:
    import base64  # noqa: PLC0415
    import json  # noqa: PLC0415

    def part(document: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(document).encode()).rstrip(b"=").decode()

    body = {"sub": "alice-sub", "iss": ISSUER, "client_id": CLIENT, "exp": NOW + 60} | claims
    return f"{part({'alg': 'none', 'typ': 'JWT'})}.{part(body)}."


def test_a_valid_token_gives_the_claims_as_api_gateway_passes_them() -> None:
    claims = authorizer().claims("Bearer " + token(groups=["a", "b"], admin=True))

    assert claims["sub"] == "alice-sub"
    assert claims["exp"] == str(NOW + 60)
    assert (claims["groups"], claims["admin"]) == ("[a b]", "true")


@pytest.mark.parametrize("header", [lambda t: f"Bearer {t}", lambda t: f"bearer {t}", lambda t: t])
def test_the_bearer_prefix_is_optional(header: Any) -> None:
    assert authorizer().claims(header(token()))["sub"] == "alice-sub"


@pytest.mark.parametrize(
    "authorization",
    [
        None,
        "",
        "Basic dXNlcjpwdw==",
        "Bearer",
        "Bearer not-a-jwt",
        "Bearer " + unsigned(),
        "Bearer " + token(key=OTHER_KEY),
        "Bearer " + token(iss="https://evil.example"),
        "Bearer " + token(client_id="someone-elses-app"),
        "Bearer " + token(client_id=None, aud=["other"]),
        "Bearer " + token(exp=NOW - 1),
        "Bearer " + token(exp=None),
        "Bearer " + token(exp=str(NOW + 60)),
        "Bearer " + token(exp=[NOW + 60]),
        "Bearer " + token(exp=True),
        "Bearer " + token(nbf=NOW + 30),
        "Bearer " + token(iat=NOW + 3600),
    ],
    ids=[
        "none", "empty", "basic", "no-token", "not-a-jwt", "unsigned", "other-key", "issuer", "client", "audience",
        "expired", "no-exp", "exp-string", "exp-list", "exp-bool", "not-yet", "issued-in-future",
    ],
)  # fmt: skip
def test_the_authorizer_refuses_what_api_gateway_refuses(authorization: str | None) -> None:
    with pytest.raises(Unauthorized):
        authorizer().claims(authorization)


def test_an_audience_claim_may_name_the_client() -> None:
    assert authorizer().claims(token(client_id=None, aud=["x", CLIENT]))["sub"] == "alice-sub"


def test_the_stack_requires_an_access_tokens_scope_with_its_own_user_pool_only() -> None:
    assert authorization_scopes(own_user_pool=True) == {ACCESS_SCOPE}
    assert authorization_scopes(own_user_pool=False) == frozenset()


@pytest.mark.parametrize(
    ("claims", "accepted"),
    [
        ({"scope": ACCESS_SCOPE, "token_use": "access"}, True),
        ({"scope": f"openid {ACCESS_SCOPE} email"}, True),
        ({"scp": [ACCESS_SCOPE]}, True),
        ({"client_id": None, "aud": CLIENT, "token_use": "id", "email": "alice@example.com"}, False),  # an ID token
        ({"scope": "openid email"}, False),
        ({"scope": ""}, False),
    ],
)
def test_with_a_required_scope_only_a_token_carrying_it_passes(claims: dict[str, Any], accepted: bool) -> None:
    required = authorizer(frozenset({ACCESS_SCOPE}))
    if accepted:
        assert required.claims(token(**claims))["sub"] == "alice-sub"
    else:
        with pytest.raises(Forbidden):
            required.claims(token(**claims))
    assert authorizer().claims(token(**claims))["sub"] == "alice-sub"  # no scope required: signature and claims only


def test_each_invocation_has_its_own_request_id_and_a_real_countdown() -> None:
    first, second = LocalContext("f", 10, 512), LocalContext("f", 10, 512)

    assert first.aws_request_id != second.aws_request_id
    assert 9_000 < first.get_remaining_time_in_millis() <= 10_000


# --- over HTTP, the whole stack ---


@pytest.fixture(scope="module")
def stack() -> Iterator[DevStack]:
    # The gateway alone: no backfill storing a connection's data in the one process between its requests.
    with dev_stack(0, quiet=True, parameters={"BackfillDays": "0"}) as running:
        yield running


def test_a_request_without_a_valid_token_gets_api_gateways_401_and_reaches_no_function(stack: DevStack) -> None:
    api = stack.functions["ApiFunction"]
    before = api.invocations

    answers = [
        requests.post(f"{stack.api_url}/v1/widget-sessions", headers=headers, timeout=10)
        for headers in ({}, {"Authorization": "Bearer " + unsigned()}, {"Authorization": "Bearer a.b.c"})
    ]

    assert [(a.status_code, a.json()) for a in answers] == [(401, {"message": "Unauthorized"})] * 3
    assert all(a.headers["www-authenticate"].startswith("Bearer") for a in answers)
    assert api.invocations == before


def test_an_id_token_gets_api_gateways_403_and_reaches_no_function_while_the_access_token_passes(
    stack: DevStack,
) -> None:
    api = stack.functions["ApiFunction"]
    tokens = stack.identity.sign_in("alice")
    before = api.invocations

    refused = requests.get(f"{stack.api_url}/v1/connections", headers={"Authorization": tokens["IdToken"]}, timeout=10)

    assert (refused.status_code, refused.json()) == (403, {"message": "Forbidden"})
    assert 'error="insufficient_scope"' in refused.headers["www-authenticate"]
    assert api.invocations == before
    passed = requests.get(
        f"{stack.api_url}/v1/connections", headers={"Authorization": tokens["AccessToken"]}, timeout=10
    )
    assert passed.status_code == 200
    assert api.invocations == before + 1


def test_the_webhook_route_has_no_authorizer_and_the_function_checks_the_signature(stack: DevStack) -> None:
    answer = requests.post(f"{stack.api_url}/v1/terra/webhooks", json={"type": "healthcheck"}, timeout=10)

    assert (answer.status_code, answer.json()["code"]) == (401, "invalid_signature")


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/v1/nope"), ("TRACE", "/v1/connections"), ("PATCH", "/v1/connections"), ("OPTIONS", "/v1/connections"),
     ("GET", "/v1/widget-sessions"), ("DELETE", "/v1/providers"), ("POST", "/")],
)  # fmt: skip
def test_what_no_route_matches_gets_api_gateways_404(stack: DevStack, method: str, path: str) -> None:
    answer = requests.request(method, stack.api_url + path, headers=stack.bearer("alice"), timeout=10)

    assert (answer.status_code, answer.json()) == (404, {"message": "Not Found"})


def raw_exchange(stack: DevStack, request: bytes) -> tuple[float, bytes]:
    port = int(stack.api_url.rsplit(":", 1)[1])
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", port), timeout=30) as connection:
        connection.sendall(request)
        received = b""
        while chunk := connection.recv(65536):
            received += chunk
    return time.monotonic() - started, received


@pytest.mark.parametrize(
    "request_bytes",
    [
        b"POST /v1/widget-sessions HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n{}",
        b"POST /v1/widget-sessions HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n{}",
        b"\x00\x01 not http at all\r\n\r\n",
        b"GET /v1/connections HTTP/9.9\r\n\r\n",
    ],
    ids=["length-abc", "length-negative", "garbage", "unknown-version"],
)
def test_malformed_http_gets_a_4xx_at_once_and_the_connection_closes(stack: DevStack, request_bytes: bytes) -> None:
    seconds, received = raw_exchange(stack, request_bytes)

    status_line = received.split(b"\r\n", 1)[0]
    assert status_line.startswith(b"HTTP/1.1 4"), received[:200]
    assert received.endswith(b'"}')  # a JSON body, then the server closed the connection
    assert seconds < 5


def test_a_body_over_10_mb_gets_api_gateways_413(stack: DevStack) -> None:
    header = b"POST /v1/widget-sessions HTTP/1.1\r\nHost: x\r\nContent-Length: 20000000\r\n\r\n"

    _, received = raw_exchange(stack, header + b"{}")

    assert received.startswith(b"HTTP/1.1 413")
    assert received.endswith(b'{"message": "Request Entity Too Large"}')


def test_two_users_hammering_their_connections_at_once_each_only_ever_see_their_own(stack: DevStack) -> None:
    assert stack.terra is not None
    users = {"ann": "GARMIN", "ben": "OURA"}
    for name, provider in users.items():
        user = stack.terra.add_user(provider, stack.identity.subject(name))
        event = {"type": "auth", "status": "success", "user": terra_user(user.user_id, provider, user.reference_id)}
        assert stack.terra.send_event(event) == 200
    headers = {name: stack.bearer(name) for name in users}
    seen: dict[str, set[tuple[str, ...]]] = {name: set() for name in users}
    overlapping = threading.Event()

    def hammer(name: str) -> None:
        with requests.Session() as session:
            for _ in range(80):
                answer = session.get(f"{stack.api_url}/v1/connections", headers=headers[name], timeout=10)
                assert answer.status_code == 200, answer.text
                seen[name].add(tuple(c["provider"] for c in answer.json()["connections"]))
                if stack.functions["ApiFunction"].busy:
                    overlapping.set()

    threads = [threading.Thread(target=hammer, args=(name,)) for name in users]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert seen == {"ann": {("GARMIN",)}, "ben": {("OURA",)}}
    assert overlapping.is_set()  # the two really were in flight together: one waited for the other


def test_the_shared_turn_goes_to_the_function_that_asked_first_not_back_to_the_one_that_just_had_it() -> None:
    turn, order = TurnLock(), []
    asked = threading.Event()

    def webhook() -> None:
        asked.set()
        with turn:
            order.append("webhook")

    turn.__enter__()  # a queue trigger's batch under way
    waiting = threading.Thread(target=webhook)
    waiting.start()
    asked.wait(5)
    while turn._next_ticket < 2:
        time.sleep(0.001)
    turn.__exit__()
    with turn:  # the trigger asks again at once, for its next batch
        order.append("next batch")
    waiting.join(5)

    assert order == ["webhook", "next batch"]
    assert not turn.locked()
