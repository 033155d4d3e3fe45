"""ports.PayloadFetcher with requests: the body behind an `s3_payload` URL, streamed into the raw archive.

Terra's URL is presigned and expires minutes after Terra made it (its example: `expires_in: 300`), so it is read at
once and never after its deadline. It is also a credential and an address an attacker who could sign a webhook
might choose, so:
- only https, on a host ending in an allowed suffix (default `amazonaws.com`), no credentials in the URL, port 443;
- no redirect is followed; the answer is streamed (bounded memory) and refused above the size cap before a byte is
  read; it is archived only when exactly `Content-Length` bytes arrived (s3_store.S3RawArchive.put_stream);
- the URL is never logged and no error message carries it.

Answers map to the kinds in errors.py: S3's expiry (400 `ExpiredToken`, 403 `Request has expired`) →
PayloadUrlExpired; 5xx, 429, a timeout or a body cut short → PayloadUnavailable (retry while time is left); any
other answer → PayloadUrlRefused. A body with a `Content-Encoding` other than identity is refused: its size on
arrival would not be the size announced.
"""

import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Protocol
from urllib.parse import urlsplit

import requests

from terra_connect.health_data.errors import (
    PayloadOversized,
    PayloadUnavailable,
    PayloadUrlExpired,
    PayloadUrlRefused,
)
from terra_connect.health_data.models import ObjectVersion
from terra_connect.settings import is_local_url

DEFAULT_HOST_SUFFIXES = ("amazonaws.com",)
MAX_PAYLOAD_BYTES = 64 * 1024 * 1024
CONNECT_TIMEOUT, READ_TIMEOUT = 2.0, 20.0
CHUNK_BYTES = 1024 * 1024
_EXPIRED_MARKERS = (b"ExpiredToken", b"Request has expired", b"TokenRefreshRequired")
_ERROR_PREVIEW = 4096


class FetchTarget(Protocol):
    """Where a fetched body goes: the raw archive (s3_store.S3RawArchive)."""

    def find(self, key: str) -> ObjectVersion | None: ...

    def put_stream(
        self, key: str, chunks: Iterator[bytes], *, size: int, metadata: Mapping[str, str]
    ) -> ObjectVersion: ...


def now_ms() -> int:
    return time.time_ns() // 1_000_000


class RequestsPayloadFetcher:
    def __init__(
        self,
        target: FetchTarget,
        *,
        host_suffixes: Sequence[str] = DEFAULT_HOST_SUFFIXES,
        max_bytes: int = MAX_PAYLOAD_BYTES,
        allow_local: bool = False,
        session: requests.Session | None = None,
        clock: Callable[[], int] = now_ms,
    ) -> None:
        """`allow_local`: also http(s) on this machine (local mode's simulator serves its payloads there)."""
        self._target = target
        self._suffixes = tuple(suffix.strip().lower().strip(".") for suffix in host_suffixes if suffix.strip())
        self._max_bytes = max_bytes
        self._allow_local = allow_local
        self._session = session or requests.Session()
        self._clock = clock

    def close(self) -> None:
        self._session.close()

    def permits(self, url: str) -> bool:
        if self._allow_local and is_local_url(url):
            return True
        try:
            parts = urlsplit(url)
            port = parts.port
        except ValueError:
            return False
        host = (parts.hostname or "").lower()
        return (
            parts.scheme == "https"
            and "@" not in parts.netloc
            and port in (None, 443)
            and any(host == suffix or host.endswith("." + suffix) for suffix in self._suffixes)
        )

    def fetch_to(self, url: str, key: str, *, deadline_ms: int, metadata: Mapping[str, str]) -> ObjectVersion:
        archived = self._target.find(key)
        if archived is not None:  # an earlier attempt fetched it; the URL may be dead by now
            return archived
        if not self.permits(url):
            raise PayloadUrlRefused("not an allowed payload URL")
        remaining = (deadline_ms - self._clock()) / 1000
        if remaining <= 0:
            raise PayloadUrlExpired("the URL expired before it could be read")
        try:
            response = self._session.get(
                url,
                stream=True,
                allow_redirects=False,
                timeout=(CONNECT_TIMEOUT, READ_TIMEOUT),
                headers={"Accept-Encoding": "identity"},
            )
        except requests.RequestException as error:
            raise PayloadUnavailable(f"the payload host did not answer ({type(error).__name__})") from None
        with response:
            size = self._checked(response)
            try:
                return self._target.put_stream(key, _chunks(response), size=size, metadata=metadata)
            except ValueError:
                raise PayloadUnavailable("the body did not have the announced size") from None

    def _checked(self, response: requests.Response) -> int:
        """The body's announced size, when the answer is one to archive; else the error it amounts to."""
        status = response.status_code
        if status != 200:
            preview = _preview(response) if status < 500 else b""
            if status in (400, 403) and any(marker in preview for marker in _EXPIRED_MARKERS):
                raise PayloadUrlExpired("the payload host says the URL expired")
            if status == 429 or status >= 500:
                raise PayloadUnavailable(f"the payload host answered {status}")
            raise PayloadUrlRefused(f"the payload host answered {status}")
        if response.headers.get("Content-Encoding", "identity").strip().lower() not in ("", "identity"):
            raise PayloadUrlRefused("the body is encoded")
        declared = response.headers.get("Content-Length", "")
        if not (declared.isascii() and declared.isdigit()):
            raise PayloadUnavailable("the answer did not announce its size")
        size = int(declared)
        if size > self._max_bytes:
            raise PayloadOversized(f"the body has {size} bytes, more than {self._max_bytes}")
        return size


def _preview(response: requests.Response) -> bytes:
    """The start of an error answer's body (S3 says why in it), or nothing when it cannot be read."""
    try:
        return next(response.iter_content(_ERROR_PREVIEW), b"")
    except requests.RequestException:
        return b""


def _chunks(response: requests.Response) -> Iterator[bytes]:
    try:
        yield from response.iter_content(CHUNK_BYTES)
    except requests.RequestException as error:
        raise PayloadUnavailable(f"the body broke off ({type(error).__name__})") from None
