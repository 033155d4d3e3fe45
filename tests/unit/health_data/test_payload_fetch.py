"""Fetching the body behind an `s3_payload` URL: only from an allowed https host, before its deadline, never through
a redirect, and archived only whole; each failure is the kind of error that says whether to retry. The URL - a
credential while it lives - appears in no error."""

from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import pytest
import requests
import responses

from terra_connect.health_data.errors import (
    PayloadFetchFailed,
    PayloadOversized,
    PayloadUnavailable,
    PayloadUrlExpired,
    PayloadUrlRefused,
)
from terra_connect.health_data.models import ObjectVersion
from terra_connect.health_data.payload_fetch import RequestsPayloadFetcher
from terra_connect.health_data.s3_store import S3RawArchive
from tests.support.memory_data_store import MemoryObjects
from tests.unit.health_data.conftest import KMS_KEY, DataResources

URL = "https://terra-payloads.s3.eu-west-1.amazonaws.com/u/abc.json?X-Amz-Signature=5ec12e7"
KEY = "raw/fetched/abc.json"
BODY = b'{"type":"daily","user":{"user_id":"tu-1","provider":"GARMIN"},"data":[]}'
NOW = 1_780_000_000_000
DEADLINE = NOW + 300_000


class Archive(MemoryObjects):
    """The raw archive as the fetcher sees it."""

    def find(self, key: str) -> ObjectVersion | None:
        return next(iter(self.list_versions(key)), None)

    def put_stream(self, key: str, chunks: Iterable[bytes], *, size: int, metadata: Mapping[str, str]) -> ObjectVersion:
        self.metadata = dict(metadata)
        return super().put_stream(key, chunks, size=size, metadata=metadata)


@pytest.fixture
def web() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


def fetcher(archive: Archive | S3RawArchive, *, now: int = NOW, **options: Any) -> RequestsPayloadFetcher:
    return RequestsPayloadFetcher(archive, clock=lambda: now, **options)


def answer(web: responses.RequestsMock, body: bytes = BODY, status: int = 200, **headers: str) -> None:
    web.get(URL, body=body, status=status, headers={"Content-Length": str(len(body)), **headers})


def fails(archive: Archive, kind: type[PayloadFetchFailed], **options: Any) -> PayloadFetchFailed:
    with pytest.raises(kind) as raised:
        fetcher(archive, **options).fetch_to(URL, KEY, deadline_ms=DEADLINE, metadata={})
    assert "5ec12e7" not in str(raised.value)
    assert archive.all_versions() == set()
    return raised.value


def test_a_payload_is_streamed_into_the_archive_as_sent(data_aws: DataResources, web: responses.RequestsMock) -> None:
    # (`web` after `data_aws`: the URL's host is AWS's, which the emulated AWS would otherwise answer itself.)
    answer(web)
    archive = S3RawArchive(data_aws.bucket, kms_key_id=KMS_KEY)

    stored = fetcher(archive).fetch_to(URL, KEY, deadline_ms=DEADLINE, metadata={"trace-id": "t-1"})

    assert archive.get(stored) == BODY
    assert web.calls[0].request.headers["Accept-Encoding"] == "identity"


def test_a_payload_already_archived_is_not_fetched_again(web: responses.RequestsMock) -> None:
    archive = Archive()
    first = archive.put(KEY, BODY)

    assert fetcher(archive, now=DEADLINE + 1).fetch_to(URL, KEY, deadline_ms=DEADLINE, metadata={}) == first
    assert len(web.calls) == 0


@pytest.mark.parametrize(
    "url",
    [
        "http://terra-payloads.s3.amazonaws.com/x",
        "https://example.com/x",
        "https://s3.amazonaws.com.example.com/x",
        "https://evilamazonaws.com/x",
        "https://user:pw@terra-payloads.s3.amazonaws.com/x",
        "https://terra-payloads.s3.amazonaws.com:8443/x",
        "https://terra-payloads.s3.amazonaws.com:99999/x",
        "https://[::1/x",
        "file:///etc/passwd",
        "http://127.0.0.1:9000/x",
    ],
)
def test_a_url_off_the_allowed_hosts_is_never_requested(web: responses.RequestsMock, url: str) -> None:
    archive = Archive()
    with pytest.raises(PayloadUrlRefused):
        fetcher(archive).fetch_to(url, KEY, deadline_ms=DEADLINE, metadata={})
    assert len(web.calls) == 0


def test_the_allowed_hosts_are_configurable_and_local_mode_may_use_this_machine() -> None:
    custom = fetcher(Archive(), host_suffixes=["payloads.example.test"])
    local = fetcher(Archive(), allow_local=True)

    assert custom.permits("https://eu.payloads.example.test/x")
    assert not custom.permits(URL)
    assert local.permits("http://127.0.0.1:9000/_payloads/1")
    assert local.permits(URL)
    assert not local.permits("http://example.com/x")


def test_an_expired_url_is_not_requested(web: responses.RequestsMock) -> None:
    fails(Archive(), PayloadUrlExpired, now=DEADLINE)
    assert len(web.calls) == 0


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (400, b"<Error><Code>ExpiredToken</Code><Message>The provided token has expired.</Message></Error>"),
        (403, b"<Error><Code>AccessDenied</Code><Message>Request has expired</Message></Error>"),
    ],
)
def test_s3_saying_the_url_expired_is_final(web: responses.RequestsMock, status: int, body: bytes) -> None:
    answer(web, body, status)
    fails(Archive(), PayloadUrlExpired)


@pytest.mark.parametrize("status", [429, 500, 503])
def test_a_failing_host_is_worth_another_try(web: responses.RequestsMock, status: int) -> None:
    answer(web, b"<Error><Code>SlowDown</Code></Error>", status)
    assert fails(Archive(), PayloadUnavailable).retryable


@pytest.mark.parametrize("status", [301, 302, 307, 308])
def test_a_redirect_is_never_followed(web: responses.RequestsMock, status: int) -> None:
    answer(web, b"", status, Location="https://elsewhere.example.com/steal")
    fails(Archive(), PayloadUrlRefused)
    assert [call.request.url for call in web.calls] == [URL]


@pytest.mark.parametrize("status", [403, 404, 204])
def test_any_other_answer_is_refused_for_good(web: responses.RequestsMock, status: int) -> None:
    answer(web, b"<Error><Code>NoSuchKey</Code></Error>", status)
    assert not fails(Archive(), PayloadUrlRefused).retryable


def test_a_body_over_the_cap_is_refused_before_it_is_read(web: responses.RequestsMock) -> None:
    answer(web)
    fails(Archive(), PayloadOversized, max_bytes=len(BODY) - 1)


def test_a_body_that_ends_short_of_its_announced_size_is_not_archived(web: responses.RequestsMock) -> None:
    web.get(URL, body=BODY[:20], headers={"Content-Length": str(len(BODY))})
    fails(Archive(), PayloadUnavailable)


def test_an_answer_without_its_size_or_with_an_encoding_is_not_archived(web: responses.RequestsMock) -> None:
    web.get(URL, body=BODY)
    fails(Archive(), PayloadUnavailable)
    web.replace(responses.GET, URL, body=BODY, headers={"Content-Length": str(len(BODY)), "Content-Encoding": "gzip"})
    fails(Archive(), PayloadUrlRefused)


@pytest.mark.parametrize("error", [requests.ConnectTimeout(), requests.ConnectionError(), requests.ReadTimeout()])
def test_a_host_that_does_not_answer_is_worth_another_try(
    web: responses.RequestsMock, error: requests.RequestException
) -> None:
    web.get(URL, body=error)
    fails(Archive(), PayloadUnavailable)


def test_the_fetched_body_carries_the_metadata_given(web: responses.RequestsMock) -> None:
    answer(web)
    archive = Archive()

    stored = fetcher(archive).fetch_to(URL, KEY, deadline_ms=DEADLINE, metadata={"trace-id": "t-1"})

    assert archive.get(stored) == BODY
    assert archive.metadata == {"trace-id": "t-1"}
