"""Where Terra may send a user after the widget: only to destinations the operator configured.

URLs are compared on their parsed parts (scheme, host, port, path on a segment boundary), never as
string prefixes, so `https://good.example@evil.example` or `https://good.example.evil.example` cannot
pass for `https://good.example`. Anything a browser or an OS could read differently from this parser
(backslashes, control characters, non-ASCII hosts, percent-encoded dots and slashes, dot segments)
is refused outright rather than normalised.
"""

import re
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import SplitResult, urlsplit

from terra_connect.kernel.errors import RedirectNotAllowed

MAX_URL_LENGTH = 2048

_SCHEME = re.compile(r"[a-z][a-z0-9+.-]{0,63}")
# Schemes that execute, embed or read local content: never a redirect target, even if configured.
_DANGEROUS_SCHEMES = frozenset({"javascript", "data", "file", "vbscript", "about", "blob", "filesystem", "ftp", "ws"})
_WEB_SCHEMES = frozenset({"https", "http"})
_DEFAULT_PORTS = {"https": 443, "http": 80}
_LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})
_ENCODED_SEPARATORS = re.compile(r"%(2e|2f|5c|00)", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class _Destination:
    scheme: str
    host: str
    port: int | None
    path: str
    has_query: bool


def _parse(url: str) -> _Destination:
    """Split a URL into comparable parts, or raise ValueError saying why it is refused."""
    if not url or len(url) > MAX_URL_LENGTH:
        raise ValueError("empty or longer than 2048 characters")
    if not url.isascii() or any(ch <= " " or ch == "\x7f" for ch in url) or "\\" in url:
        raise ValueError("contains whitespace, control, backslash or non-ASCII characters")
    parts: SplitResult = urlsplit(url)
    scheme = parts.scheme
    if not _SCHEME.fullmatch(scheme):
        raise ValueError("has no valid scheme")
    if scheme in _DANGEROUS_SCHEMES:
        raise ValueError(f"uses the forbidden scheme {scheme!r}")
    if parts.fragment or url.endswith("#"):
        raise ValueError("has a fragment")
    if "@" in parts.netloc:
        raise ValueError("has user information")
    if _ENCODED_SEPARATORS.search(parts.path) or any(seg in {".", ".."} for seg in parts.path.split("/")):
        raise ValueError("has encoded separators or dot segments in its path")
    try:
        port = parts.port
    except ValueError as exc:
        raise ValueError("has an invalid port") from exc
    host = parts.hostname or ""
    if scheme in _WEB_SCHEMES and not host:
        raise ValueError("has no host")
    if parts.netloc and not host:
        raise ValueError("has an empty host")
    return _Destination(
        scheme=scheme,
        host=host,
        port=port if port is not None else _DEFAULT_PORTS.get(scheme),
        # An empty path and "/" name the same resource on an authority.
        path=parts.path or "/",
        has_query=bool(parts.query),
    )


@dataclass(frozen=True, slots=True)
class AllowedRedirect:
    """One configured destination: a URL whose path is a prefix on a segment boundary."""

    destination: _Destination

    @classmethod
    def parse(cls, url: str) -> "AllowedRedirect":
        """Parse an operator-configured entry; raises ValueError for entries that would be unsafe."""
        destination = _parse(url)
        if destination.has_query:
            raise ValueError("an allowed redirect must not have a query string")
        if destination.scheme == "http" and destination.host not in _LOOPBACK_HOSTS:
            raise ValueError("plain http is only allowed for loopback hosts; use https")
        return cls(destination)

    def permits(self, candidate: _Destination) -> bool:
        allowed = self.destination
        if (candidate.scheme, candidate.host, candidate.port) != (allowed.scheme, allowed.host, allowed.port):
            return False
        prefix = allowed.path.rstrip("/")
        return candidate.path == allowed.path or candidate.path.startswith(prefix + "/")


class RedirectPolicy:
    """Decides whether a requested redirect URL is one of the configured destinations."""

    def __init__(self, allowed: Iterable[AllowedRedirect]) -> None:
        self._allowed = tuple(allowed)

    @classmethod
    def from_urls(cls, urls: Iterable[str]) -> "RedirectPolicy":
        return cls(AllowedRedirect.parse(url) for url in urls)

    def permits(self, url: str) -> bool:
        try:
            candidate = _parse(url)
        except ValueError:
            return False
        return any(entry.permits(candidate) for entry in self._allowed)

    def require(self, url: str, *, field: str) -> str:
        """Return `url` unchanged when permitted; otherwise raise RedirectNotAllowed naming the field."""
        if not self.permits(url):
            raise RedirectNotAllowed(f"{field} is not one of the configured redirect destinations.")
        return url

    def choose(self, requested: str | None, default: str | None, *, field: str) -> str | None:
        """The requested URL if permitted (else RedirectNotAllowed), or the configured default when none is asked."""
        return default if requested is None else self.require(requested, field=field)
