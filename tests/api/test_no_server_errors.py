"""No request gets a 500: whole API Gateway events, generated - any method, path, headers, content type, body
(text, bytes, base64 or not, deep or huge JSON), query string and claims - against both functions, while Terra
and AWS answer whatever they may. Every answer must be a status docs/openapi.json documents for the route, and
every error a problem+json whose code docs/api.md lists under that status; `internal_error` (a bug) never."""

import base64
import json
import re
import time
from collections.abc import Callable
from typing import Any

import responses
from botocore.exceptions import ClientError, EndpointConnectionError
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from local.signing import terra_signature

from terra_connect.http.problems import PROBLEM_JSON
from tests.support.builders import ROOT, SIGNING_SECRET, ApiAnswer, AwsCalls, api_event, assert_matches_schema

Event = dict[str, Any]
DOCUMENT = json.loads((ROOT / "docs" / "openapi.json").read_text())
API_DOC = (ROOT / "docs" / "api.md").read_text()
# status -> the codes docs/api.md's error table lists for it
DOCUMENTED_CODES: dict[int, set[str]] = {}
for status, code in re.findall(r"^\| (\d{3}) \| `([a-z_]+)` \|", API_DOC, flags=re.MULTILINE):
    DOCUMENTED_CODES.setdefault(int(status), set()).add(code)
WEBHOOK_PATH = "/v1/terra/webhooks"
ROUTES = [(method.upper(), path) for path, item in DOCUMENT["paths"].items() for method in item]
API_ROUTES = [route for route in ROUTES if route[1] != WEBHOOK_PATH]
WEBHOOK_ROUTES = [("POST", WEBHOOK_PATH)]
TERRA = re.compile(r"https://[a-z.]*tryterra\.co/.*")
SLOW = [HealthCheck.too_slow, HealthCheck.function_scoped_fixture, HealthCheck.data_too_large]


def documented(method: str, path: str, routes: list[tuple[str, str]]) -> set[int]:
    """The statuses the document gives the function's route the request reaches; an unrouted request gets 404."""
    for route_method, template in routes:
        pattern = re.sub(r"\\{[a-z_]+\\}", "[^/]+", re.escape(template))
        if route_method == method and re.fullmatch(pattern, path):
            return {int(s) for s in DOCUMENT["paths"][template][method.lower()]["responses"]}
    return {404}


# --- what a hostile client sends ---

texts = st.text(max_size=40)


def mostly[T](likely: st.SearchStrategy[T], rarely: st.SearchStrategy[T]) -> st.SearchStrategy[T]:
    """Four in five draws from `likely`: enough well-formed requests to reach Terra and DynamoDB."""
    return st.integers(0, 4).flatmap(lambda n: rarely if n == 0 else likely)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | texts,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(texts, inner, max_size=4),
    max_leaves=20,
)
known_fields = st.fixed_dictionaries(
    {},
    optional={
        "providers": mostly(
            st.lists(st.sampled_from(["GARMIN", "oura"]), min_size=1, max_size=2),
            st.lists(st.sampled_from(["b@d", "", "APPLE"]) | texts, max_size=3),
        ),
        "language": mostly(st.sampled_from(["en", "zh_cn"]), st.sampled_from(["", "x" * 50]) | texts),
        "success_redirect_url": mostly(
            st.just("myapp://terra/done"), st.sampled_from(["javascript:alert(1)", ""]) | texts
        ),
        "multi_auth": mostly(st.booleans(), json_values),
        "bypass_feedback": mostly(st.booleans(), json_values),
    },
) | st.fixed_dictionaries({"reference_id": texts})
hostile_bodies = st.one_of(
    json_values.map(json.dumps),
    texts,
    st.binary(max_size=200),
    st.integers(1, 120_000).map(lambda depth: "[" * depth + "]" * depth),
    st.integers(1, 120_000).map(lambda depth: '{"a":' * depth + "1" + "}" * depth),
    st.sampled_from([2 * 1024 * 1024, 17 * 1024]).map(lambda size: json.dumps({"providers": ["A" * size]})),
    st.sampled_from(["null", "[]", '"x"', "1e999", "NaN", '{"a":1,"a":2}', "\ud800"]),
)
content_types = st.one_of(
    st.sampled_from(
        [
            "application/json; charset=utf-8",
            "multipart/form-data",
            "multipart/form-data; boundary=x",
            "multipart/form-data; boundary=",
            "application/x-www-form-urlencoded",
            "text/plain",
            "application/problem+json",
            "",
            ";;;",
            "application/JSON",
        ]
    ),
    texts,
)
header_names = st.sampled_from(
    ["x-reference-id", "x-forwarded-for", "accept", "user-agent", "cookie", "x-terra-trace-id", "terra-signature"]
) | st.text(min_size=1, max_size=20)
hostile_claims = st.one_of(
    st.none(),
    st.dictionaries(texts, json_values, max_size=3),
    st.builds(lambda sub: {"sub": sub}, texts | st.text(min_size=257, max_size=300) | st.integers() | st.none()),
)
path_parts = (
    st.sampled_from(["tu-1", "GARMIN", "oura", "APPLE", "a.b", "sync"])
    | st.sampled_from(["..", "%2e%2e", "a" * 200, "", "gar min"])
    | texts
)
METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "TRACE"]


@st.composite
def paths(draw: st.DrawFn, routes: list[tuple[str, str]]) -> tuple[str, str]:
    if draw(st.integers(0, 9)) == 0:
        return draw(st.sampled_from(METHODS)), "/" + draw(texts)
    method, template = draw(st.sampled_from(routes))
    path = re.sub(r"\{[a-z_]+\}", lambda _: draw(path_parts), template)
    return draw(mostly(st.just(method), st.sampled_from(METHODS))), path


# --- Terra's lifecycle events, authentic or not ---

terra_users = st.fixed_dictionaries(
    {
        "user_id": st.sampled_from(["tu-1", "tu-2", "u" * 200, ""]) | texts,
        "provider": st.sampled_from(["GARMIN", "APPLE", "OURA", "P" * 100]) | json_values,
    },
    optional={
        "reference_id": st.sampled_from(["alice", "bob", "r" * 300, None]) | json_values,
        "scopes": st.sampled_from(["activity:read,sleep:read", "", ",".join("s" * 200 for _ in range(70))])
        | json_values,
        "active": json_values,
        "created_at": st.sampled_from(["2026-11-24T10:00:00+00:00", "yesterday", "9" * 80]) | json_values,
    },
)
lifecycle_events = st.fixed_dictionaries(
    {
        "type": st.sampled_from(
            ["auth", "auth_cancelled", "user_reauth", "deauth", "access_revoked", "connection_error",
             "permission_change", "healthcheck", "activity"]
        )
        | json_values
    },
    optional={
        "status": st.sampled_from(["success", "error", "warning"]) | json_values,
        "user": terra_users | json_values,
        "new_user": terra_users | json_values,
        "old_user": terra_users | st.none(),
        "reference_id": st.sampled_from(["alice", "bob"]) | json_values,
        "reason": texts,
        "scopes_added": texts,
        "scopes_removed": texts,
    },
)  # fmt: skip


@st.composite
def events(draw: st.DrawFn, routes: list[tuple[str, str]]) -> Event:
    method, path = draw(paths(routes))
    webhook = path == WEBHOOK_PATH
    likely_body = lifecycle_events.map(json.dumps) if webhook else st.none() | known_fields.map(json.dumps)
    body = draw(mostly(likely_body, hostile_bodies))
    good_claims = st.sampled_from([{"sub": "alice"}, {"sub": "7d5c6f3e-2b1a-4c9d-8e7f-0a1b2c3d4e5f"}])
    event = api_event(method=method, path=path, claims=draw(mostly(good_claims, hostile_claims)))
    headers = draw(mostly(st.just({}), st.dictionaries(header_names, texts, max_size=3)))
    event["headers"] = {name.lower(): value for name, value in headers.items()}
    content_type = draw(mostly(st.sampled_from([None, "application/json"]), content_types))
    if content_type is not None:
        event["headers"]["content-type"] = content_type
    query = draw(mostly(st.just({}), st.dictionaries(texts, texts, max_size=2)))
    if query:
        event["queryStringParameters"] = query
        event["rawQueryString"] = "&".join(f"{k}={v}" for k, v in query.items())
    if body is not None:
        raw = body if isinstance(body, bytes) else body.encode("utf-8", "surrogatepass")
        encoded = isinstance(body, bytes) or draw(st.integers(0, 4)) == 0
        event["body"] = base64.b64encode(raw).decode() if encoded else body
        event["isBase64Encoded"] = encoded
        if draw(st.integers(0, 19)) == 0:
            event["body"], event["isBase64Encoded"] = "%%% not base64 %%%", True
        if webhook and draw(mostly(st.just(True), st.booleans())):
            signed_at = int(time.time()) + draw(mostly(st.just(0), st.sampled_from([-400, 400])))
            event["headers"]["terra-signature"] = terra_signature(SIGNING_SECRET, raw, signed_at)
            event["headers"]["x-terra-trace-id"] = draw(st.sampled_from(["", "t-1", "t" * 3000]) | texts)
    return event


# --- and what Terra and AWS may answer meanwhile ---

terra_bodies = st.one_of(
    json_values.map(json.dumps),
    st.fixed_dictionaries(
        {},
        optional={
            "url": st.sampled_from(["https://widget.tryterra.co/s/1", "http://x", "javascript:x"]) | texts,
            "auth_url": st.sampled_from(["https://connect.garmin.com/x"]) | texts,
            "session_id": texts,
            "expires_in": st.sampled_from([900, 86_400, 10**12, -1, 0, 1.5, "900", True]) | json_values,
            "token": texts,
            "user_id": texts,
            "users": json_values,
            "data": json_values,
            "providers": json_values,
            "invalid_user_ids": json_values,
        },
    ).map(json.dumps),
    st.integers(1, 120_000).map(lambda depth: "[" * depth + "]" * depth),
    st.just('{"expires_in": ' + "9" * 5000 + "}"),
    texts,
)
# One answer every Terra call can use: a widget session, an auth URL, an SDK token, the integrations.
WELL_FORMED = {
    "status": "success",
    "url": "https://widget.tryterra.co/session/1",
    "session_id": "s-1",
    "expires_in": 900,
    "auth_url": "https://connect.garmin.com/oauth",
    "user_id": "tu-9",
    "token": "sdk-token",
    "providers": ["GARMIN"],
    "sdk_providers": ["APPLE"],
}
USERS = [{"user_id": "tu-9", "provider": "APPLE", "reference_id": "alice", "created_at": "2026-11-24T10:00:00Z"}]
terra_answers = mostly(
    st.sampled_from([(200, json.dumps(WELL_FORMED)), (201, json.dumps(WELL_FORMED)), (200, json.dumps(USERS))]),
    st.tuples(st.sampled_from([200, 201, 204, 301, 400, 401, 403, 404, 410, 429, 500, 503]), terra_bodies),
)
aws_errors = st.sampled_from(
    [
        "ThrottlingException",
        "ProvisionedThroughputExceededException",
        "InternalServerError",
        "ValidationException",
        "ResourceNotFoundException",
        "AccessDeniedException",
        "TransactionCanceledException",
        "DecryptionFailure",
        "connection",
    ]
)
aws_operations = st.sampled_from(["GetItem", "Query", "TransactWriteItems", "PutItem", "UpdateItem", "GetSecretValue"])


def fail_aws(calls: AwsCalls, operation: str, error: str) -> None:
    calls.failures.clear()
    calls.failures[operation] = (
        EndpointConnectionError(endpoint_url="https://dynamodb.example")
        if error == "connection"
        else ClientError({"Error": {"Code": error, "Message": "injected"}}, operation)
    )


def answer_terra(terra: responses.RequestsMock, answers: list[tuple[int, str]]) -> None:
    """Terra answers these, in order, to whatever it is asked; then it is unavailable."""

    def reply(_: Any) -> tuple[int, dict[str, str], str]:
        status, body = answers.pop(0) if answers else (503, "{}")
        return status, {}, body

    for method in (responses.GET, responses.POST, responses.DELETE):
        terra.add_callback(method, TERRA, callback=reply)


def check(answer: ApiAnswer, method: str, path: str, routes: list[tuple[str, str]]) -> None:
    allowed = documented(method, path, routes)
    event(f"{answer.status}")
    assert answer.status in allowed, (answer.status, method, path, answer.body[:300])
    if answer.status < 400:
        return
    assert answer.headers["Content-Type"] == PROBLEM_JSON, answer.body[:300]
    problem = json.loads(answer.body)
    assert_matches_schema(problem, "ProblemDetails")
    assert problem["code"] != "internal_error", answer.body[:300]
    assert problem["code"] in DOCUMENTED_CODES.get(answer.status, set()), (answer.status, problem["code"])


@settings(max_examples=400, deadline=None, suppress_health_check=SLOW)
@given(
    event=events(API_ROUTES),
    terra_says=st.lists(terra_answers, max_size=4),
    aws=mostly(st.none(), st.tuples(aws_operations, aws_errors)),
)
def test_no_request_to_the_api_function_gets_an_undocumented_answer(
    invoke: Callable[..., ApiAnswer],
    terra: responses.RequestsMock,
    aws_calls: AwsCalls,
    event: Event,
    terra_says: list[tuple[int, str]],
    aws: tuple[str, str] | None,
) -> None:
    terra.reset()
    answer_terra(terra, list(terra_says))
    if aws:
        fail_aws(aws_calls, *aws)
    else:
        aws_calls.failures.clear()
    answer = invoke(event)

    check(answer, event["requestContext"]["http"]["method"], event["rawPath"], API_ROUTES)


@settings(max_examples=300, deadline=None, suppress_health_check=SLOW)
@given(event=events(WEBHOOK_ROUTES), aws=mostly(st.none(), st.tuples(aws_operations, aws_errors)))
def test_no_delivery_to_the_webhook_function_gets_an_undocumented_answer(
    deliver: Callable[[Event], ApiAnswer], aws_calls: AwsCalls, event: Event, aws: tuple[str, str] | None
) -> None:
    if aws:
        fail_aws(aws_calls, *aws)
    else:
        aws_calls.failures.clear()
    event["requestContext"].pop("authorizer", None)

    answer = deliver(event)

    check(answer, event["requestContext"]["http"]["method"], event["rawPath"], WEBHOOK_ROUTES)
