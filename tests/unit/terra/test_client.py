"""TerraClient: timeouts, bounded retries inside the deadline, credential rotation, and strict answer parsing."""

import json
from dataclasses import dataclass, field
from typing import Any, cast

import pytest
import requests
import responses

from terra_connect.kernel.deadline import Deadline
from terra_connect.kernel.errors import TerraBadResponse, TerraRejected, TerraTimeout, TerraUnavailable
from terra_connect.terra.client import TerraClient
from terra_connect.terra.credentials import TerraCredentials
from terra_connect.terra.messages import WidgetSessionParams
from terra_connect.terra.transport import RetryPolicy
from tests.support.builders import (
    API_KEY,
    DEV_ID,
    LEGACY_WIDGET_URL,
    ROTATED_API_KEY,
    SESSION_URL,
    WIDGET_URL,
    terra_session_answer,
)

PARAMS = WidgetSessionParams(
    reference_id="user-1",
    providers=("GARMIN", "OURA"),
    language="en",
    multi_auth=True,
    show_disconnect=True,
    connected_uids=("terra-user-1",),
)


class FakeClock:
    """A monotonic clock that only moves when the code under test sleeps or a test advances it."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@dataclass
class FakeCredentials:
    """Serves credentials in order: the first from the cache, the next ones on refresh."""

    versions: list[TerraCredentials] = field(default_factory=lambda: [TerraCredentials(DEV_ID, API_KEY)])
    refreshes: int = 0

    def get(self, *, refresh: bool = False) -> TerraCredentials:
        if refresh:
            self.refreshes += 1
        return self.versions[min(self.refreshes, len(self.versions) - 1)]


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def credentials() -> FakeCredentials:
    return FakeCredentials()


def make_client(clock: FakeClock, credentials: FakeCredentials, url: str = WIDGET_URL) -> TerraClient:
    return TerraClient(
        widget_session_url=url,
        credentials=credentials,
        sleep=clock.sleep,
        clock=clock,
        jitter=lambda: 1.0,
    )


def create(client: TerraClient, clock: FakeClock, seconds: float = 10.0) -> Any:
    return client.create_widget_session(PARAMS, Deadline.after(seconds, clock))


def sent(terra: responses.RequestsMock, index: int = -1) -> dict[str, Any]:
    return dict(json.loads(terra.calls[index].request.body or b"{}"))


def sent_kwargs(terra: responses.RequestsMock, index: int) -> dict[str, Any]:
    """The keyword arguments requests was called with (responses keeps them on the request)."""
    kwargs: dict[str, Any] = cast(Any, terra.calls[index].request).req_kwargs
    return kwargs


def test_current_endpoint_gets_every_field(
    terra: responses.RequestsMock, clock: FakeClock, credentials: FakeCredentials
) -> None:
    terra.post(WIDGET_URL, status=201, json=terra_session_answer(warnings=["x"]))

    session = create(make_client(clock, credentials), clock)

    assert session.url == SESSION_URL
    assert session.warnings == ("x",)
    assert sent(terra) == {
        "reference_id": "user-1",
        "providers": "GARMIN,OURA",
        "language": "en",
        "multi_auth": True,
        "show_disconnect": True,
        "connected_uids": ["terra-user-1"],
    }


def test_legacy_endpoint_answers_200_and_gets_only_the_fields_it_knows(
    terra: responses.RequestsMock, clock: FakeClock, credentials: FakeCredentials
) -> None:
    terra.post(LEGACY_WIDGET_URL, status=200, json=terra_session_answer())

    session = create(make_client(clock, credentials, LEGACY_WIDGET_URL), clock)

    assert session.expires_in == 900
    # show_disconnect and use_terra_avengers_app: Terra's old JS SDK sent them to this endpoint too.
    assert sent(terra) == {
        "reference_id": "user-1",
        "providers": "GARMIN,OURA",
        "language": "en",
        "show_disconnect": True,
    }


def test_timeouts_are_explicit_and_fit_the_remaining_time(
    terra: responses.RequestsMock, clock: FakeClock, credentials: FakeCredentials
) -> None:
    terra.post(WIDGET_URL, status=201, json=terra_session_answer())

    create(make_client(clock, credentials), clock, seconds=10.0)
    create(make_client(clock, credentials), clock, seconds=1.5)

    policy = RetryPolicy()
    assert sent_kwargs(terra, 0)["timeout"] == (policy.connect_timeout, policy.read_timeout)
    connect, read = sent_kwargs(terra, 1)["timeout"]
    assert connect <= 1.2
    assert read <= 1.2


def test_proxies_and_ca_bundle_come_from_the_environment_read_once_per_host(
    terra: responses.RequestsMock, clock: FakeClock, credentials: FakeCredentials, monkeypatch: pytest.MonkeyPatch
) -> None:
    terra.post(WIDGET_URL, status=201, json=terra_session_answer())
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.internal:3128")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/etc/ssl/corporate.pem")
    client = make_client(clock, credentials)

    create(client, clock)
    monkeypatch.setenv("HTTPS_PROXY", "http://changed.internal:3128")
    create(client, clock)

    for index in (0, 1):
        kwargs = sent_kwargs(terra, index)
        assert kwargs["proxies"]["https"] == "http://proxy.internal:3128"
        assert kwargs["verify"] == "/etc/ssl/corporate.pem"


def test_no_proxy_in_the_environment_means_a_direct_connection(
    terra: responses.RequestsMock, clock: FakeClock, credentials: FakeCredentials, monkeypatch: pytest.MonkeyPatch
) -> None:
    terra.post(WIDGET_URL, status=201, json=terra_session_answer())
    for name in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
        monkeypatch.delenv(name, raising=False)

    create(make_client(clock, credentials), clock)

    assert "https" not in (sent_kwargs(terra, 0)["proxies"] or {})
    assert sent_kwargs(terra, 0)["verify"] is True


def test_redirects_are_never_followed(
    terra: responses.RequestsMock, clock: FakeClock, credentials: FakeCredentials
) -> None:
    terra.post(WIDGET_URL, status=307, headers={"Location": "https://evil.example/steal"})

    with pytest.raises(TerraBadResponse):
        create(make_client(clock, credentials), clock)

    assert [call.request.url for call in terra.calls] == [WIDGET_URL]


@pytest.mark.parametrize("status", [429, 500, 502, 503, 504])
def test_transient_statuses_are_retried_then_succeed(
    terra: responses.RequestsMock, clock: FakeClock, credentials: FakeCredentials, status: int
) -> None:
    terra.post(WIDGET_URL, status=status, json={"detail": "try later"})
    terra.post(WIDGET_URL, status=201, json=terra_session_answer())

    session = create(make_client(clock, credentials), clock)

    assert session.url == SESSION_URL
    assert len(terra.calls) == 2
    assert clock.sleeps == [0.1]


def test_retries_are_bounded_and_back_off(
    terra: responses.RequestsMock, clock: FakeClock, credentials: FakeCredentials
) -> None:
    terra.post(WIDGET_URL, status=503, json={"status": "error", "message": "down"})

    with pytest.raises(TerraUnavailable) as raised:
        create(make_client(clock, credentials), clock)

    assert len(terra.calls) == RetryPolicy().max_attempts == 3
    assert clock.sleeps == [0.1, 0.2]
    assert raised.value.headers == {"Retry-After": "1"}


def test_retry_after_is_honoured_within_the_budget(
    terra: responses.RequestsMock, clock: FakeClock, credentials: FakeCredentials
) -> None:
    terra.post(WIDGET_URL, status=429, json={"detail": "rate limit exceeded"}, headers={"Retry-After": "2"})
    terra.post(WIDGET_URL, status=201, json=terra_session_answer())

    create(make_client(clock, credentials), clock)

    assert clock.sleeps == [2.0]


def test_retry_after_beyond_the_budget_fails_at_once_and_is_passed_on(
    terra: responses.RequestsMock, clock: FakeClock, credentials: FakeCredentials
) -> None:
    terra.post(WIDGET_URL, status=429, json={"detail": "rate limit exceeded"}, headers={"Retry-After": "30"})

    with pytest.raises(TerraUnavailable) as raised:
        create(make_client(clock, credentials), clock)

    assert len(terra.calls) == 1
    assert clock.sleeps == []
    assert raised.value.retry_after == 30


def test_a_retry_after_date_is_understood(
    terra: responses.RequestsMock, clock: FakeClock, credentials: FakeCredentials
) -> None:
    terra.post(WIDGET_URL, status=503, headers={"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"})
    terra.post(WIDGET_URL, status=201, json=terra_session_answer())

    create(make_client(clock, credentials), clock)

    assert clock.sleeps == [0.0]  # a date in the past means "now"


def test_no_retry_when_the_backoff_would_run_past_the_deadline(
    terra: responses.RequestsMock, clock: FakeClock, credentials: FakeCredentials
) -> None:
    terra.post(WIDGET_URL, status=503)

    with pytest.raises(TerraUnavailable):
        create(make_client(clock, credentials), clock, seconds=0.85)

    assert len(terra.calls) == 1


def test_no_attempt_without_time_left(
    terra: responses.RequestsMock, clock: FakeClock, credentials: FakeCredentials
) -> None:
    with pytest.raises(TerraTimeout):
        create(make_client(clock, credentials), clock, seconds=0.5)

    assert len(terra.calls) == 0


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (requests.ConnectTimeout("connect timeout"), TerraTimeout),
        (requests.ReadTimeout("read timeout"), TerraTimeout),
        (requests.ConnectionError("Connection reset by peer"), TerraUnavailable),
        (requests.ConnectionError("Name or service not known"), TerraUnavailable),
        (requests.exceptions.ChunkedEncodingError("connection broken"), TerraUnavailable),
    ],
    ids=["connect-timeout", "read-timeout", "connection-reset", "dns-failure", "broken-body"],
)
def test_network_failures_are_retried_then_mapped(
    terra: responses.RequestsMock,
    clock: FakeClock,
    credentials: FakeCredentials,
    error: Exception,
    expected: type[Exception],
) -> None:
    terra.post(WIDGET_URL, body=error)

    with pytest.raises(expected):
        create(make_client(clock, credentials), clock)

    assert len(terra.calls) == 3


def test_a_network_failure_then_success_recovers(
    terra: responses.RequestsMock, clock: FakeClock, credentials: FakeCredentials
) -> None:
    terra.post(WIDGET_URL, body=requests.ConnectTimeout("connect timeout"))
    terra.post(WIDGET_URL, status=201, json=terra_session_answer())

    assert create(make_client(clock, credentials), clock).url == SESSION_URL


@pytest.mark.parametrize("status", [401, 403])
def test_rejected_credentials_are_read_again_and_retried_once(
    terra: responses.RequestsMock, clock: FakeClock, status: int
) -> None:
    rotated = FakeCredentials([TerraCredentials(DEV_ID, API_KEY), TerraCredentials(DEV_ID, ROTATED_API_KEY)])
    terra.post(WIDGET_URL, status=status, json={"status": "error", "message": "credentials invalid"})
    terra.post(WIDGET_URL, status=201, json=terra_session_answer())

    session = create(make_client(clock, rotated), clock)

    assert session.url == SESSION_URL
    assert rotated.refreshes == 1
    assert [c.request.headers["x-api-key"] for c in terra.calls] == [API_KEY, ROTATED_API_KEY]


def test_rejected_credentials_that_did_not_change_fail_without_a_retry(
    terra: responses.RequestsMock, clock: FakeClock, credentials: FakeCredentials
) -> None:
    terra.post(WIDGET_URL, status=403, json={"status": "error", "message": "credentials invalid"})

    with pytest.raises(TerraRejected) as raised:
        create(make_client(clock, credentials), clock)

    assert len(terra.calls) == 1
    assert credentials.refreshes == 1
    assert raised.value.log_context["terra_message"] == "credentials invalid"


def test_rotated_credentials_that_are_also_rejected_fail_after_two_calls(
    terra: responses.RequestsMock, clock: FakeClock
) -> None:
    rotated = FakeCredentials([TerraCredentials(DEV_ID, API_KEY), TerraCredentials(DEV_ID, ROTATED_API_KEY)])
    terra.post(
        WIDGET_URL, status=401, json={"title": "Unauthorized", "detail": "dev-id or x-api-key headers are missing"}
    )

    with pytest.raises(TerraRejected):
        create(make_client(clock, rotated), clock)

    assert len(terra.calls) == 2


def test_410_tells_the_operator_which_endpoint_to_use(
    terra: responses.RequestsMock, clock: FakeClock, credentials: FakeCredentials
) -> None:
    terra.post(
        LEGACY_WIDGET_URL,
        status=410,
        json={"status": "error", "message": "Use POST https://access.tryterra.co/api/widget/session"},
    )

    with pytest.raises(TerraRejected) as raised:
        create(make_client(clock, credentials, LEGACY_WIDGET_URL), clock)

    assert raised.value.log_context["terra_status"] == 410
    assert "TerraWidgetSessionUrl" in raised.value.log_context["action"]
    assert len(terra.calls) == 1


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"status": "error", "message": "Invalid providers"}, "Invalid providers"),
        (
            {"type": "about:blank", "title": "Bad Request", "detail": "language not supported", "instance": "/x"},
            "Bad Request - language not supported",
        ),
        ("<html>Bad gateway</html>", "<html>Bad gateway</html>"),
    ],
    ids=["legacy-shape", "problem-json-shape", "not-json"],
)
def test_both_terra_error_shapes_are_parsed(
    terra: responses.RequestsMock, clock: FakeClock, credentials: FakeCredentials, body: Any, message: str
) -> None:
    if isinstance(body, dict):
        terra.post(WIDGET_URL, status=400, json=body)
    else:
        terra.post(WIDGET_URL, status=400, body=body)

    with pytest.raises(TerraRejected) as raised:
        create(make_client(clock, credentials), clock)

    assert raised.value.log_context["terra_message"] == message


def test_an_echoed_credential_is_redacted_from_terras_message(
    terra: responses.RequestsMock, clock: FakeClock, credentials: FakeCredentials
) -> None:
    terra.post(WIDGET_URL, status=400, json={"status": "error", "message": f"bad key {API_KEY} for {DEV_ID}"})

    with pytest.raises(TerraRejected) as raised:
        create(make_client(clock, credentials), clock)

    assert raised.value.log_context["terra_message"] == "bad key [redacted] for [redacted]"


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (201, "not json"),
        (201, "[1, 2]"),
        (201, json.dumps({"status": "success"})),
        (201, json.dumps(terra_session_answer(url=None))),
        (200, json.dumps(terra_session_answer(url="http://widget.tryterra.co/session/x"))),
        (201, json.dumps(terra_session_answer(url="javascript:alert(1)"))),
        (201, json.dumps(terra_session_answer(url="https://evil.example@widget.tryterra.co/x"))),
        (201, json.dumps(terra_session_answer(url="https://" + "a" * 5000))),
    ],
    ids=["not-json", "json-array", "no-url", "null-url", "http-url", "javascript-url", "userinfo-url", "huge-url"],
)
def test_answers_without_a_usable_https_url_are_bad_responses(
    terra: responses.RequestsMock, clock: FakeClock, credentials: FakeCredentials, status: int, body: str
) -> None:
    terra.post(WIDGET_URL, status=status, body=body)

    with pytest.raises(TerraBadResponse):
        create(make_client(clock, credentials), clock)

    assert len(terra.calls) == 1


@pytest.mark.parametrize("declare_length", [True, False])
def test_a_huge_answer_is_cut_off(
    terra: responses.RequestsMock, clock: FakeClock, credentials: FakeCredentials, declare_length: bool
) -> None:
    huge = json.dumps(terra_session_answer(padding="x" * (RetryPolicy().max_body_bytes + 1)))
    terra.post(WIDGET_URL, status=201, body=huge, auto_calculate_content_length=declare_length)

    with pytest.raises(TerraBadResponse) as raised:
        create(make_client(clock, credentials), clock)

    assert raised.value.log_context["reason"] == "answer too large"


def test_one_http_session_serves_every_call(
    terra: responses.RequestsMock, clock: FakeClock, credentials: FakeCredentials
) -> None:
    session = requests.Session()
    client = TerraClient(widget_session_url=WIDGET_URL, credentials=credentials, session=session, clock=clock)
    terra.post(WIDGET_URL, status=201, json=terra_session_answer())

    create(client, clock)
    create(client, clock)

    assert len(terra.calls) == 2
    assert client._transport.session is session


def test_attempts_are_observed_with_their_outcome(
    terra: responses.RequestsMock, clock: FakeClock, credentials: FakeCredentials
) -> None:
    seen: list[tuple[str, str]] = []
    client = TerraClient(
        widget_session_url=WIDGET_URL,
        credentials=credentials,
        clock=clock,
        sleep=clock.sleep,
        jitter=lambda: 0.5,
        observe=lambda operation, outcome, _: seen.append((operation, outcome)),
    )
    terra.post(WIDGET_URL, body=requests.ReadTimeout("slow"))
    terra.post(WIDGET_URL, status=503)
    terra.post(WIDGET_URL, status=201, json=terra_session_answer())

    create(client, clock)

    assert seen == [("widget_session", "timeout"), ("widget_session", "503"), ("widget_session", "201")]
    assert clock.sleeps == [0.05, 0.1]
