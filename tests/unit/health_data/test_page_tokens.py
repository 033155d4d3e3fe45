"""Page tokens carry no secret and are read strictly: a token round-trips, any altered character is refused, a token
is refused by any query but its own, and paging with them lists every record of a range exactly once."""

import base64
import hashlib
import json
from datetime import date, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from terra_connect.health_data import keys, layout
from terra_connect.health_data.keys import RecordIdentity
from terra_connect.health_data.models import RecordPosition
from terra_connect.health_data.ordering import canonical_json
from terra_connect.health_data.page_tokens import MAX_TOKEN_LENGTH, TokenScope, decode_page_token, encode_page_token
from terra_connect.kernel.errors import InvalidPageToken

SCOPE = TokenScope("daily", "2026-01-01", "2026-12-31")
BASE64URL = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
days_2026 = st.integers(min_value=0, max_value=364).map(lambda n: (date(2026, 1, 1) + timedelta(days=n)).isoformat())


@st.composite
def positions(draw: st.DrawFn, data_type: str = "daily", days: st.SearchStrategy[str] = days_2026) -> RecordPosition:
    """The position of a real record: any record key Terra may send, any provider, a day of the range."""
    identity = RecordIdentity(
        data_type,
        keys.provider_code(draw(st.none() | st.text(min_size=1, max_size=70))),
        keys.record_key(draw(st.sampled_from("sdth")), draw(st.text(min_size=1, max_size=300))),
    )
    day = draw(days)
    return RecordPosition(layout.sort_key(identity), layout.day_key(identity, day))


@settings(max_examples=300, deadline=None)
@given(position=positions())
def test_a_token_gives_back_its_position_to_its_own_query(position: RecordPosition) -> None:
    token = encode_page_token(SCOPE, position)

    assert decode_page_token(token, SCOPE) == position
    assert len(token) <= MAX_TOKEN_LENGTH
    assert set(token) <= set(BASE64URL)


@settings(max_examples=500, deadline=None)
@given(position=positions(), data=st.data())
def test_any_altered_character_is_refused(position: RecordPosition, data: st.DataObject) -> None:
    token = encode_page_token(SCOPE, position)
    index = data.draw(st.integers(min_value=0, max_value=len(token) - 1), label="index")
    replacement = data.draw(st.sampled_from(BASE64URL.replace(token[index], "")), label="replacement")

    for altered in (token[:index] + replacement + token[index + 1 :], token[:index] + token[index + 1 :], token + "A"):
        with pytest.raises(InvalidPageToken):
            decode_page_token(altered, SCOPE)


OTHER_QUERIES = {
    "another type": TokenScope("body", "2026-01-01", "2026-12-31"),
    "another start": TokenScope("daily", "2026-01-02", "2026-12-31"),
    "another end": TokenScope("daily", "2026-01-01", "2026-12-30"),
    "a payload": TokenScope("daily", payload_id="0" * 32),
}


@settings(max_examples=200, deadline=None)
@given(position=positions())
def test_a_token_is_refused_by_any_other_query(position: RecordPosition) -> None:
    token = encode_page_token(SCOPE, position)

    for other in OTHER_QUERIES.values():
        with pytest.raises(InvalidPageToken):
            decode_page_token(token, other)


def test_a_payload_query_has_tokens_of_its_own() -> None:
    scope = TokenScope("sleep", payload_id="a" * 32)
    position = RecordPosition("r#sleep#OURA#s:1", "sleep#2020-01-01#OURA#s:1")

    assert decode_page_token(encode_page_token(scope, position), scope) == position
    with pytest.raises(InvalidPageToken):
        decode_page_token(encode_page_token(scope, position), TokenScope("sleep", payload_id="b" * 32))


FORGED = {
    "a day outside the range": RecordPosition("r#daily#GARMIN#d:2025-12-31", "daily#2025-12-31#GARMIN#d:2025-12-31"),
    "keys of another type": RecordPosition("r#body#GARMIN#d:2026-03-01", "body#2026-03-01#GARMIN#d:2026-03-01"),
    "keys of two records": RecordPosition("r#daily#GARMIN#d:2026-03-01", "daily#2026-03-01#OURA#d:2026-03-01"),
    "a day that is none": RecordPosition("r#daily#GARMIN#d:x", "daily#2026-02-30#GARMIN#d:x"),
    "no provider": RecordPosition("r#daily#d:x", "daily#2026-03-01#d:x"),
    "keys too long": RecordPosition("r#daily#GARMIN#" + "k" * 800, "daily#2026-03-01#GARMIN#" + "k" * 800),
}


@pytest.mark.parametrize("position", FORGED.values(), ids=FORGED.keys())
def test_a_well_formed_token_naming_keys_outside_its_query_is_refused(position: RecordPosition) -> None:
    with pytest.raises(InvalidPageToken):
        decode_page_token(encode_page_token(SCOPE, position), SCOPE)


def _raw(document: object, text: str | None = None) -> str:
    encoded = (text if text is not None else json.dumps(document)).encode()
    return base64.urlsafe_b64encode(encoded).rstrip(b"=").decode()


def test_only_the_one_canonical_text_is_read() -> None:
    valid = RecordPosition("r#daily#GARMIN#d:2026-03-01", "daily#2026-03-01#GARMIN#d:2026-03-01")
    token = encode_page_token(SCOPE, valid)
    good = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    body = {k: v for k, v in good.items() if k != "c"}
    canonical = canonical_json(good)
    variants = {
        "spaces": _raw(good, canonical.replace(",", ", ")),
        "padding": _raw(good, canonical) + "==",
        "version true": _raw(None, canonical_json({**body, "v": True, "c": good["c"]})),
        "an extra field": _raw(None, canonical_json({**good, "x": 1})),
        "not an object": _raw([good]),
        "NaN": _raw(None, '{"v":NaN}'),
        "not ascii": base64.urlsafe_b64encode('{"é":1}'.encode()).rstrip(b"=").decode(),
    }

    assert decode_page_token(_raw(None, canonical), SCOPE) == valid  # the same text, encoded again: accepted
    for token in variants.values():
        with pytest.raises(InvalidPageToken):
            decode_page_token(token, SCOPE)


@settings(max_examples=500, deadline=None)
@given(token=st.one_of(st.text(max_size=3000), st.binary(max_size=50), st.integers(), st.none()))
def test_anything_that_is_not_a_token_is_refused_and_nothing_else_is_raised(token: object) -> None:
    with pytest.raises(InvalidPageToken):
        decode_page_token(token, SCOPE)


@settings(max_examples=200, deadline=None)
@given(
    records=st.lists(
        positions(days=st.sampled_from(["2025-12-31", "2026-01-01", "2026-06-15", "2026-12-31"])), max_size=25
    ),
    limit=st.integers(min_value=1, max_value=6),
)
def test_paging_with_tokens_lists_every_record_of_the_range_once(records: list[RecordPosition], limit: int) -> None:
    index = sorted({record.day_key: record for record in records}.values(), key=lambda r: r.day_key.encode())
    low, high = layout.day_key_bounds("daily", SCOPE.start_day or "", SCOPE.end_day or "")
    listed: list[RecordPosition] = []
    token: str | None = None
    while True:
        after = decode_page_token(token, SCOPE) if token else None
        page = [
            r
            for r in index
            if low <= r.day_key <= high and (after is None or r.day_key.encode() > after.day_key.encode())
        ]
        listed += page[:limit]
        if len(page) <= limit:
            break
        token = encode_page_token(SCOPE, page[limit - 1])

    assert listed == [r for r in index if "2026-01-01" <= r.day_key[6:16] <= "2026-12-31"]


def test_keys_of_the_wrong_kind_or_length_are_refused_even_with_a_valid_check() -> None:
    day_key = "daily#2026-03-01#GARMIN#d:x"
    for sort_key, day in ((7, day_key), ("r#daily#GARMIN#" + "k" * 700, day_key), ("r#daily#GARMIN#d:x", None)):
        body = {"v": 1, "t": "daily", "s": "2026-01-01", "e": "2026-12-31", "k": sort_key, "d": day}
        check = hashlib.sha256(canonical_json(body).encode()).hexdigest()[:16]
        token = base64.urlsafe_b64encode(canonical_json({**body, "c": check}).encode()).rstrip(b"=").decode()
        assert len(token) <= MAX_TOKEN_LENGTH
        with pytest.raises(InvalidPageToken):
            decode_page_token(token, SCOPE)
