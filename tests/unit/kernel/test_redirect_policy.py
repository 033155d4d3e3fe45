"""Redirects go only to configured destinations, compared on parsed URLs, never by string prefix."""

from urllib.parse import urlsplit

import pytest
from hypothesis import given
from hypothesis import strategies as st

from terra_connect.kernel.redirects import AllowedRedirect, RedirectPolicy

POLICY = RedirectPolicy.from_urls(
    ["https://app.example.com/terra", "myapp://terra", "com.example.app:/oauth/terra", "http://localhost:8080/cb"]
)

PERMITTED = [
    "https://app.example.com/terra",
    "https://app.example.com/terra/",
    "https://app.example.com/terra/done",
    "https://app.example.com/terra/done?source=widget",
    "https://APP.example.com/terra/done",
    "https://app.example.com:443/terra/done",
    "myapp://terra",
    "myapp://terra/connected",
    "MYAPP://terra/connected",
    "com.example.app:/oauth/terra/done",
    "http://localhost:8080/cb",
]

REFUSED = {
    "userinfo-trick": "https://app.example.com@evil.example/terra",
    "userinfo-with-password": "https://app.example.com:pw@evil.example/terra",
    "look-alike-host": "https://app-example.com/terra",
    "suffix-host": "https://app.example.com.evil.example/terra",
    "parent-domain": "https://example.com/terra",
    "trailing-dot-host": "https://app.example.com./terra",
    "port-change": "https://app.example.com:8443/terra",
    "scheme-downgrade": "http://app.example.com/terra",
    "path-prefix-not-on-segment": "https://app.example.com/terrarium",
    "other-path": "https://app.example.com/account",
    "dot-dot-segment": "https://app.example.com/terra/../admin",
    "dot-segment": "https://app.example.com/terra/./x",
    "encoded-dot-dot": "https://app.example.com/terra/%2e%2e/admin",
    "encoded-slash": "https://app.example.com/terra%2f..%2fadmin",
    "encoded-backslash": "https://app.example.com/terra/%5c%5cevil.example",
    "backslash": "https://app.example.com\\@evil.example/terra",
    "backslash-path": "https://app.example.com/terra\\..\\admin",
    "javascript": "javascript:alert(document.cookie)",
    "javascript-with-authority": "javascript://app.example.com/terra%0aalert(1)",
    "data": "data:text/html,<script>alert(1)</script>",
    "file": "file:///etc/passwd",
    "vbscript": "vbscript:msgbox(1)",
    "leading-space": " https://app.example.com/terra",
    "embedded-tab": "https://app.exa\tmple.com/terra",
    "embedded-newline": "https://app.example.com/terra\n.evil.example",
    "null-byte": "https://app.example.com/terra\x00.evil.example",
    "idn-unicode-host": "https://\u0430pp.example.com/terra",  # Cyrillic a
    "punycode-look-alike": "https://xn--pp-8cd.example.com/terra",
    "fragment": "https://app.example.com/terra#frag",
    "protocol-relative": "//app.example.com/terra",
    "no-scheme": "app.example.com/terra",
    "custom-scheme-other-host": "myapp://evil/terra",
    "other-custom-scheme": "otherapp://terra",
    "custom-scheme-authority-trick": "myapp://terra@evil",
    "empty": "",
    "over-long": "https://app.example.com/terra/" + "a" * 2048,
    "localhost-other-port": "http://localhost:9090/cb",
}


@pytest.mark.parametrize("url", PERMITTED)
def test_configured_destinations_are_permitted(url: str) -> None:
    assert POLICY.permits(url)


@pytest.mark.parametrize("url", REFUSED.values(), ids=REFUSED.keys())
def test_tricks_are_refused(url: str) -> None:
    assert not POLICY.permits(url)


@pytest.mark.parametrize(
    "entry",
    [
        "http://app.example.com/terra",
        "javascript:alert(1)",
        "data:text/html,x",
        "file:///tmp",
        "https://app.example.com/terra?x=1",
        "https://user@app.example.com/terra",
        "not a url",
        "https:///no-host",
    ],
)
def test_unsafe_entries_cannot_be_configured(entry: str) -> None:
    with pytest.raises(ValueError, match=r"."):
        AllowedRedirect.parse(entry)


def test_an_empty_policy_permits_nothing() -> None:
    assert not RedirectPolicy([]).permits("https://app.example.com/terra")


@given(st.text(max_size=200))
def test_any_permitted_url_has_a_configured_scheme_host_and_port(url: str) -> None:
    if POLICY.permits(url):
        parts = urlsplit(url)
        assert parts.scheme.lower() in {"https", "myapp", "com.example.app", "http"}
        assert (parts.hostname or "") in {"app.example.com", "terra", "", "localhost"}
        assert "@" not in parts.netloc


@given(
    st.sampled_from(["https://app.example.com/terra", "myapp://terra"]),
    st.text(alphabet=st.characters(codec="ascii"), max_size=40),
)
def test_appending_text_never_escapes_to_another_host(base: str, suffix: str) -> None:
    url = base + suffix
    if POLICY.permits(url):
        assert urlsplit(url).hostname == urlsplit(base).hostname


@given(
    st.sampled_from(["https://app.example.com/terra", "myapp://terra"]),
    st.from_regex(r"[a-z0-9-]{1,20}", fullmatch=True),
)
def test_any_sub_path_of_a_destination_is_permitted(base: str, segment: str) -> None:
    assert POLICY.permits(f"{base}/{segment}")
