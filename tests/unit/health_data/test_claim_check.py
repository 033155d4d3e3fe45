"""The claim check's keys and pointers: a redelivery lands on the same key, another body or trace id on another;
the pointer survives the queue unchanged and nothing else passes for one; the SQS adapter carries it and holds a
message for later."""

import hashlib
import json
from typing import Any

import boto3
import pytest
from hypothesis import given
from hypothesis import strategies as st

from terra_connect.health_data.claim_check import (
    MalformedPointer,
    Pointer,
    Source,
    claim,
    fetched,
    fetched_key,
    read_pointer,
)
from terra_connect.health_data.errors import DataStoreMisconfigured
from terra_connect.health_data.models import ObjectVersion
from terra_connect.health_data.ordering import DeliveryTime
from terra_connect.health_data.sqs_queue import SqsDeliveryQueue
from tests.unit.health_data.conftest import DataResources

RECEIVED = 1_780_000_000_123  # 2026-05-28 UTC
TIME = DeliveryTime(1_780_000_000_000, 1_780_000_000_000)
tokens = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,60}", fullmatch=True)
bodies = st.binary(max_size=200)


@given(body=bodies, trace=st.none() | tokens, received=st.integers(0, 4_102_444_800_000))
def test_a_redelivery_has_the_same_key_and_pointer(body: bytes, trace: str | None, received: int) -> None:
    first = claim(body, trace_id=trace, time=TIME, received_ms=received)
    again = claim(body, trace_id=trace, time=TIME, received_ms=received)

    assert first == again
    assert first.sha256 == hashlib.sha256(body).hexdigest()
    assert first.size == len(body)
    assert first.key.startswith("raw/dt=")
    assert first.key.endswith(f"/{first.delivery_key[:40]}.json")


@given(body=bodies, other=bodies, trace=tokens, other_trace=tokens)
def test_another_body_or_trace_id_is_another_delivery(body: bytes, other: bytes, trace: str, other_trace: str) -> None:
    key = claim(body, trace_id=trace, time=TIME, received_ms=RECEIVED).delivery_key

    assert (claim(other, trace_id=trace, time=TIME, received_ms=RECEIVED).delivery_key == key) == (other == body)
    assert (claim(body, trace_id=other_trace, time=TIME, received_ms=RECEIVED).delivery_key == key) == (
        other_trace == trace
    )


def test_the_key_is_dated_by_receipt_in_utc_and_names_no_one() -> None:
    claimed = claim(b"{}", trace_id="trace-1", time=TIME, received_ms=RECEIVED, terra_reference="ref-1")

    assert claimed.key.startswith("raw/dt=2026-05-28/")
    assert "trace-1" not in claimed.key
    assert claimed.metadata == {
        "trace-id": "trace-1",
        "terra-reference": "ref-1",
        "ordering-ms": str(TIME.ordering_ms),
        "signed-ms": str(TIME.signed_ms),
        "received-ms": str(RECEIVED),
    }


def test_an_id_that_is_not_terras_never_reaches_a_key_or_metadata() -> None:
    claimed = claim(b"{}", trace_id="bad id\n", time=TIME, received_ms=RECEIVED, terra_reference="ré")

    assert claimed.trace_id is None
    assert claimed.terra_reference is None
    assert claimed.delivery_key == hashlib.sha256(b"{}").hexdigest()
    assert set(claimed.metadata) == {"ordering-ms", "signed-ms", "received-ms"}


def test_a_message_from_terras_queue_is_keyed_by_its_bytes() -> None:
    claimed = claim(b'{"type":"s3_payload"}', trace_id=None, time=TIME, received_ms=RECEIVED, source=Source.TERRA_QUEUE)

    assert claimed.key == f"raw/terra-sqs/{hashlib.sha256(b'{"type":"s3_payload"}').hexdigest()}.json"


pointers = st.builds(
    lambda body, trace, ref, version, event_type, source, o, s: claim(
        body,
        trace_id=trace,
        time=DeliveryTime(o, s),
        received_ms=RECEIVED,
        terra_reference=ref,
        event_type=event_type,
        source=source,
    ).pointer("terra-connect-data", ObjectVersion("raw/dt=2026-05-28/x.json", version)),
    bodies,
    st.none() | tokens,
    st.none() | tokens,
    st.from_regex(r"[A-Za-z0-9._-]{1,40}", fullmatch=True),
    st.none() | st.sampled_from(["daily", "lab_report.completed", "s3_payload"]),
    st.sampled_from(Source),
    st.integers(0, 2**45),
    st.integers(0, 2**45),
)


@given(pointer=pointers)
def test_a_pointer_survives_the_queue_unchanged_and_small(pointer: Pointer) -> None:
    message = pointer.to_message()

    assert read_pointer(message) == pointer
    assert len(message.encode()) < 1024


@pytest.mark.parametrize(
    "change",
    [
        {"v": 2},
        {"source": "elsewhere"},
        {"key": "records/type=daily/x.json"},
        {"sha256": "A" * 64},
        {"delivery_key": "0" * 63},
        {"size": -1},
        {"size": True},
        {"ordering_ms": "1"},
        {"trace_id": "has space"},
        {"type": "<script>"},
        {"version_id": ""},
    ],
)
def test_anything_but_a_pointer_is_malformed(change: dict[str, Any]) -> None:
    good = claim(b"{}", trace_id="t", time=TIME, received_ms=RECEIVED).pointer("b", ObjectVersion("raw/x.json", "v"))
    document = json.loads(good.to_message()) | change

    with pytest.raises(MalformedPointer):
        read_pointer(json.dumps(document))


@pytest.mark.parametrize("message", ["", "[]", "null", "{", '{"v":1}'])
def test_a_message_that_is_no_pointer_at_all_is_malformed(message: str) -> None:
    with pytest.raises(MalformedPointer):
        read_pointer(message)


def test_a_fetched_body_is_the_same_delivery_in_another_object() -> None:
    ping = claim(b'{"type":"s3_payload"}', trace_id="t-1", time=TIME, received_ms=RECEIVED, terra_reference="r")
    pointer = ping.pointer("b", ObjectVersion(ping.key, "v1"))
    body = b'{"type":"daily","data":[]}'
    inner = fetched(pointer, ObjectVersion(fetched_key(pointer), "v2"), body)

    assert inner.payload_id == pointer.payload_id
    assert (inner.trace_id, inner.time, inner.terra_reference) == ("t-1", TIME, "r")
    assert inner.raw.key == f"raw/fetched/{pointer.delivery_key[:40]}.json"
    assert (inner.sha256, inner.size) == (hashlib.sha256(body).hexdigest(), len(body))


def test_the_queue_carries_pointers_and_holds_a_message_for_later(data_aws: DataResources) -> None:
    queue = SqsDeliveryQueue(data_aws.queue_url)
    sqs = boto3.client("sqs")
    pointer = claim(b"{}", trace_id="t", time=TIME, received_ms=RECEIVED).pointer("b", ObjectVersion("raw/x.json", "v"))

    queue.send(pointer)
    received = sqs.receive_message(QueueUrl=data_aws.queue_url, VisibilityTimeout=0)["Messages"][0]
    assert read_pointer(received["Body"]) == pointer

    queue.hold(received["ReceiptHandle"], 600)
    assert sqs.receive_message(QueueUrl=data_aws.queue_url).get("Messages", []) == []
    queue.hold(received["ReceiptHandle"], 0)
    assert len(sqs.receive_message(QueueUrl=data_aws.queue_url)["Messages"]) == 1


def test_a_delayed_pointer_is_not_received_at_once(data_aws: DataResources) -> None:
    queue = SqsDeliveryQueue(data_aws.queue_url)
    pointer = claim(b"{}", trace_id="t", time=TIME, received_ms=RECEIVED).pointer("b", ObjectVersion("raw/x.json", "v"))

    queue.send(pointer, delay_seconds=10_000)  # beyond SQS's 900 s: sent with the longest delay instead
    assert boto3.client("sqs").receive_message(QueueUrl=data_aws.queue_url).get("Messages", []) == []


def test_a_queue_that_does_not_exist_is_a_misconfiguration(data_aws: DataResources) -> None:
    queue = SqsDeliveryQueue(data_aws.queue_url + "-missing")
    pointer = claim(b"{}", trace_id="t", time=TIME, received_ms=RECEIVED).pointer("b", ObjectVersion("raw/x.json", "v"))

    with pytest.raises(DataStoreMisconfigured):
        queue.send(pointer)
