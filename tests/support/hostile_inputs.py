"""The hostile-input matrix: bad requests, each with the one answer it must get. docs/security.md shows this table."""

import base64
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tests.support.builders import api_event

Event = dict[str, Any]


@dataclass(frozen=True)
class HostileInput:
    id: str
    category: str
    description: str
    build: Callable[[], Event]
    status: int
    code: str


def body(document: Any) -> Callable[[], Event]:
    return lambda: api_event(document)


def claims(value: dict[str, Any] | None, **kwargs: Any) -> Callable[[], Event]:
    return lambda: api_event({}, claims=value, **kwargs)


def base64_raw(raw: bytes) -> Callable[[], Event]:
    def build() -> Event:
        event = api_event("")
        event["body"] = base64.b64encode(raw).decode() if raw else "%%% not base64 %%%"
        event["isBase64Encoded"] = True
        return event

    return build


def redirect(url: str) -> Callable[[], Event]:
    return body({"success_redirect_url": url})


def _deeply_nested() -> str:
    return '{"providers":' + "[" * 8000 + "]" * 8000 + "}"


def _bad(
    id: str,
    category: str,
    description: str,
    build: Callable[[], Event],
    status: int,
    code: str,
) -> HostileInput:
    return HostileInput(id, category, description, build, status, code)


V, M, R, U, P, T, N = (
    "validation_error",
    "malformed_body",
    "redirect_not_allowed",
    "unauthenticated",
    "payload_too_large",
    "unsupported_media_type",
    "not_found",
)
REF = "reference_id_not_allowed"
SUB = "7d5c6f3e-2b1a-4c9d-8e7f-0a1b2c3d4e5f"

HOSTILE_INPUTS: list[HostileInput] = [
    # Identity: only the authorizer's verified claim counts.
    _bad("no-authorizer-claims", "identity", "no JWT claims at all", claims(None), 401, U),
    _bad("empty-claims", "identity", "claims without `sub`", claims({}), 401, U),
    _bad("empty-sub", "identity", "`sub` is an empty string", claims({"sub": ""}), 401, U),
    _bad("blank-sub", "identity", "`sub` is white space", claims({"sub": "   "}), 401, U),
    _bad("over-long-sub", "identity", "`sub` of 300 characters", claims({"sub": "u" * 300}), 401, U),
    _bad("control-char-sub", "identity", "`sub` with a newline", claims({"sub": "eve\nadmin"}), 401, U),
    _bad("non-string-sub", "identity", "`sub` is a number", claims({"sub": 42}), 401, U),
    _bad(
        "forged-bearer-no-claims",
        "identity",
        "unsigned token in the header, no authorizer claims",
        claims(None, headers={"authorization": "Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiJldmUifQ."}),
        401,
        U,
    ),
    _bad("reference-id-in-body", "identity", "`reference_id` in the body", body({"reference_id": "eve"}), 422, REF),
    _bad(
        "reference-id-in-query",
        "identity",
        "`?reference_id=` in the query string",
        lambda: api_event({}, query="reference_id=eve"),
        422,
        REF,
    ),
    _bad(
        "reference-id-in-header",
        "identity",
        "`X-Reference-Id` header",
        lambda: api_event({}, headers={"x-reference-id": "eve"}),
        422,
        REF,
    ),
    # JSON: strict parsing before any model sees the body.
    _bad("truncated-json", "json", "truncated JSON", body('{"providers": ["GARMIN",'), 400, M),
    _bad("not-json", "json", "plain text sent as JSON", body("hello"), 400, M),
    _bad("json-array", "json", "a JSON array", body([1, 2]), 422, V),
    _bad("json-string", "json", "a JSON string", body('"GARMIN"'), 422, V),
    _bad("json-true", "json", "JSON `true`", body("true"), 422, V),
    _bad("huge-body", "json", "a 20 KB body", body({"language": "e" * 20_000}), 413, P),
    _bad("deeply-nested", "json", "arrays nested 8,000 deep", body(_deeply_nested()), 422, V),
    _bad("duplicate-keys", "json", "the same key twice", body('{"language": "en", "language": "fr"}'), 400, M),
    _bad("nan", "json", "`NaN` literal", body('{"language": NaN}'), 400, M),
    _bad("infinity", "json", "`Infinity` literal", body('{"language": Infinity}'), 400, M),
    _bad("unknown-field", "json", "a field the API does not define", body({"colour": "blue"}), 422, V),
    _bad("bool-as-string", "json", '`multi_auth: "true"`', body({"multi_auth": "true"}), 422, V),
    _bad("bool-as-number", "json", "`show_disconnect: 1`", body({"show_disconnect": 1}), 422, V),
    _bad("null-in-list", "json", "`providers: [null]`", body({"providers": [None]}), 422, V),
    _bad("url-as-number", "json", "`success_redirect_url: 42`", body({"success_redirect_url": 42}), 422, V),
    _bad("invalid-utf8", "json", "base64 body that decodes to invalid UTF-8", base64_raw(b"\xff\xfe{}"), 400, M),
    _bad("base64-garbage", "json", "`isBase64Encoded` with a body that is not base64", base64_raw(b""), 400, M),
    _bad("base64-of-text", "json", "base64 body that decodes to plain text", base64_raw(b"not json"), 400, M),
    _bad("lone-surrogate", "json", "a lone UTF-16 surrogate escape", body('{"language": "\\ud800"}'), 422, V),
    # Providers: letters, digits and underscores (any case: Terra gets upper case), one code per element.
    _bad("provider-punctuation", "providers", "`gar-min`", body({"providers": ["gar-min"]}), 422, V),
    _bad(
        "provider-comma-joined", "providers", "`GARMIN,OURA` as one code", body({"providers": ["GARMIN,OURA"]}), 422, V
    ),
    _bad(
        "provider-space-joined", "providers", "`GARMIN OURA` as one code", body({"providers": ["GARMIN OURA"]}), 422, V
    ),
    _bad("providers-as-string", "providers", "a string instead of a list", body({"providers": "GARMIN"}), 422, V),
    _bad("providers-empty-list", "providers", "an empty list", body({"providers": []}), 422, V),
    _bad("provider-empty-code", "providers", "an empty code", body({"providers": [""]}), 422, V),
    _bad(
        "providers-too-many",
        "providers",
        "51 codes",
        body({"providers": [f"P{i:02d}" for i in range(51)]}),
        422,
        V,
    ),
    _bad("provider-too-long", "providers", "a 41-character code", body({"providers": ["G" * 41]}), 422, V),
    _bad(
        "provider-cyrillic", "providers", "Cyrillic A (U+0410) in GARMIN", body({"providers": ["G\u0410RMIN"]}), 422, V
    ),
    _bad(
        "provider-fullwidth",
        "providers",
        "full-width G and A (U+FF27, U+FF21)",
        body({"providers": ["\uff27\uff21RMIN"]}),
        422,
        V,
    ),
    _bad("provider-newline", "providers", "trailing newline", body({"providers": ["GARMIN\n"]}), 422, V),
    # Language: a short code, nothing else.
    _bad("language-script", "language", "markup injection", body({"language": "en'><script>"}), 422, V),
    _bad("language-sql", "language", "SQL-style injection", body({"language": "en' OR '1'='1"}), 422, V),
    _bad("language-crlf", "language", "CR/LF header injection", body({"language": "en\r\nX-Evil: 1"}), 422, V),
    _bad("language-over-long", "language", "43 characters", body({"language": "en-" + "a" * 40}), 422, V),
    # Redirects: parsed and compared with the configured destinations.
    _bad(
        "redirect-userinfo",
        "redirect",
        "userinfo trick",
        redirect("https://app.example.com@evil.example/terra"),
        422,
        R,
    ),
    _bad("redirect-look-alike", "redirect", "look-alike host", redirect("https://app-example.com/terra"), 422, R),
    _bad(
        "redirect-suffix",
        "redirect",
        "allowed host as a prefix",
        redirect("https://app.example.com.evil.example/terra"),
        422,
        R,
    ),
    _bad("redirect-port", "redirect", "another port", redirect("https://app.example.com:8443/terra"), 422, R),
    _bad("redirect-downgrade", "redirect", "`http://` downgrade", redirect("http://app.example.com/terra"), 422, R),
    _bad("redirect-javascript", "redirect", "`javascript:`", redirect("javascript:alert(document.cookie)"), 422, R),
    _bad("redirect-data", "redirect", "`data:`", redirect("data:text/html,<script>alert(1)</script>"), 422, R),
    _bad("redirect-file", "redirect", "`file:`", redirect("file:///etc/passwd"), 422, R),
    _bad(
        "redirect-traversal",
        "redirect",
        "`/..` path traversal",
        redirect("https://app.example.com/terra/../admin"),
        422,
        R,
    ),
    _bad(
        "redirect-encoded-traversal",
        "redirect",
        "percent-encoded `%2e%2e`",
        redirect("https://app.example.com/terra/%2e%2e/admin"),
        422,
        R,
    ),
    _bad(
        "redirect-encoded-slash",
        "redirect",
        "percent-encoded `%2f`",
        redirect("https://app.example.com/terra%2fx"),
        422,
        R,
    ),
    _bad(
        "redirect-backslash",
        "redirect",
        "backslash authority trick",
        redirect("https://app.example.com\\@evil.example/"),
        422,
        R,
    ),
    _bad("redirect-whitespace", "redirect", "tab inside the host", redirect("https://app.exa\tmple.com/terra"), 422, R),
    _bad(
        "redirect-control", "redirect", "NUL byte", redirect("https://app.example.com/terra\x00.evil.example"), 422, R
    ),
    _bad("redirect-idn", "redirect", "Cyrillic host (IDN)", redirect("https://\u0430pp.example.com/terra"), 422, R),
    _bad(
        "redirect-punycode", "redirect", "punycode look-alike", redirect("https://xn--pp-8cd.example.com/terra"), 422, R
    ),
    _bad("redirect-protocol-relative", "redirect", "`//host` without scheme", redirect("//evil.example/terra"), 422, R),
    _bad("redirect-other-app", "redirect", "another app's scheme", redirect("otherapp://terra"), 422, R),
    _bad(
        "redirect-over-long",
        "redirect",
        "a 3,000-character URL",
        redirect("https://app.example.com/terra/" + "a" * 3000),
        422,
        V,
    ),
    _bad(
        "failure-redirect",
        "redirect",
        "the same checks on the failure URL",
        body({"failure_redirect_url": "https://evil.example/"}),
        422,
        R,
    ),
    # Method and media type.
    _bad("method-get", "http", "`GET` on the route", lambda: api_event(method="GET"), 404, N),
    _bad("method-put", "http", "`PUT` on the route", lambda: api_event({}, method="PUT"), 404, N),
    _bad("unknown-path", "http", "a path that does not exist", lambda: api_event({}, path="/v1/admin"), 404, N),
    _bad(
        "content-type-text",
        "http",
        "`text/plain` body",
        lambda: api_event("hello", headers={"content-type": "text/plain"}),
        415,
        T,
    ),
    _bad(
        "content-type-form",
        "http",
        "form-encoded body",
        lambda: api_event("providers=GARMIN", headers={"content-type": "application/x-www-form-urlencoded"}),
        415,
        T,
    ),
    _bad(
        "content-type-multipart",
        "http",
        "multipart body",
        lambda: api_event(
            '--b\r\nContent-Disposition: form-data; name="language"\r\n\r\nen\r\n--b--\r\n',
            headers={"content-type": "multipart/form-data; boundary=b"},
        ),
        415,
        T,
    ),
    _bad("query-parameter", "http", "an unexpected query parameter", lambda: api_event({}, query="debug=1"), 422, V),
    # The connections routes: same identity and input rules.
    _bad("list-no-identity", "connections", "`GET /v1/connections` without claims",
         lambda: api_event(method="GET", path="/v1/connections", claims=None), 401, U),
    _bad("list-reference-id-query", "connections", "`GET /v1/connections?reference_id=eve`",
         lambda: api_event(method="GET", path="/v1/connections", query="reference_id=eve"), 422, REF),
    _bad("delete-traversal-id", "connections", "`DELETE /v1/connections/..%2f..`",
         lambda: api_event(method="DELETE", path="/v1/connections/..%2f.."), 422, V),
    _bad("delete-over-long-id", "connections", "a 200-character Terra user id",
         lambda: api_event(method="DELETE", path="/v1/connections/" + "a" * 200), 422, V),
    _bad("auth-url-bad-provider", "connections", "`/v1/connections/gar.min/auth-url`",
         lambda: api_event({}, path="/v1/connections/gar.min/auth-url"), 422, V),
    _bad("auth-url-reference-id", "connections", "`reference_id` in the custom-UI body",
         lambda: api_event({"reference_id": "eve"}, path="/v1/connections/GARMIN/auth-url"), 422, REF),
    _bad("auth-url-redirect", "connections", "a forbidden custom-UI redirect",
         lambda: api_event({"failure_redirect_url": "javascript:alert(1)"}, path="/v1/connections/GARMIN/auth-url"),
         422, R),
    _bad("sync-no-identity", "connections", "`POST /v1/connections/sync` without claims",
         lambda: api_event(method="POST", path="/v1/connections/sync", claims=None), 401, U),
    _bad("sync-reference-id-header", "connections", "a sync naming another user in `X-Reference-Id`",
         lambda: api_event(method="POST", path="/v1/connections/sync", headers={"x-reference-id": "eve"}), 422, REF),
    _bad("sync-query-parameter", "connections", "`POST /v1/connections/sync?reference_id=eve`",
         lambda: api_event(method="POST", path="/v1/connections/sync", query="reference_id=eve"), 422, REF),
    # The mobile SDK routes.
    _bad("sdk-token-no-identity", "mobile sdk", "`POST /v1/sdk-tokens` without claims",
         lambda: api_event(method="POST", path="/v1/sdk-tokens", claims=None), 401, U),
    _bad("sdk-token-for-someone-else", "mobile sdk", "a token asked for `?reference_id=eve`",
         lambda: api_event(method="POST", path="/v1/sdk-tokens", query="reference_id=eve"), 422, REF),
    _bad("sdk-token-reference-id-body", "mobile sdk", "`reference_id` in the body of `POST /v1/sdk-tokens`",
         lambda: api_event({"reference_id": "eve"}, method="POST", path="/v1/sdk-tokens"), 422, REF),
    _bad("sdk-token-form-body", "mobile sdk", "a form-encoded body",
         lambda: api_event("reference_id=eve", method="POST", path="/v1/sdk-tokens",
                           headers={"content-type": "application/x-www-form-urlencoded"}), 415, T),
    _bad("providers-no-identity", "mobile sdk", "`GET /v1/providers` without claims",
         lambda: api_event(method="GET", path="/v1/providers", claims=None), 401, U),
]  # fmt: skip

assert len({case.id for case in HOSTILE_INPUTS}) == len(HOSTILE_INPUTS), "case ids must be unique"
assert json.dumps([case.id for case in HOSTILE_INPUTS])  # every id is plain text for the docs table
