"""The purge's adapters on the emulated AWS (moto): items written by the ingest's own index and in the backfill
store's shape, objects in a versioned bucket. After both passes no version of the erased user's objects is left,
and no item of their partitions; another user's data is whole; the end is one item the events function publishes."""

import json
from typing import Any

import boto3
from local.aws import DataStack

from terra_connect.data_erasure.dynamodb import DynamoDBPurgeIndex
from terra_connect.data_erasure.models import PurgeRequest
from terra_connect.data_erasure.s3 import S3PurgeObjects
from terra_connect.data_erasure.service import PurgeOutcome, PurgeService
from terra_connect.data_erasure.sqs import SqsPurgeRequests
from terra_connect.health_data.dynamodb_index import DynamoDBRecordIndex
from terra_connect.health_data.keys import RecordIdentity
from terra_connect.health_data.models import ObjectVersion, PayloadPart, StoredCopy
from terra_connect.health_data.ordering import CopyOrder
from terra_connect.kernel.deadline import Deadline
from terra_connect.lifecycle_events.data_stream import data_change, is_data_table_record
from tests.support.data_stack import received, stream_records

RECORD_KEY = "records/type=daily/day=2026-01-01/{owner}.json"


def put(stack: DataStack, key: str, body: bytes = b"{}") -> ObjectVersion:
    answer = boto3.client("s3").put_object(Bucket=stack.bucket, Key=key, Body=body)
    return ObjectVersion(key, answer["VersionId"])


def keep(stack: DataStack, index: DynamoDBRecordIndex, owner: str, terra_user_id: str) -> list[ObjectVersion]:
    """A record (two copies of its object, the older still named as superseded), a payload part, data kept under the
    Terra user, and its backfill with its listing - as the ingest and backfill functions write them."""
    older = put(stack, RECORD_KEY.format(owner=owner))
    current = put(stack, RECORD_KEY.format(owner=owner))
    raw = put(stack, f"raw/dt=2026-01-01/{owner}.json")
    fetched = put(stack, f"raw/fetched/{owner}.json")
    identity = RecordIdentity("daily", "GARMIN", "2026-01-01")
    copy = StoredCopy(identity, "2026-01-01", CopyOrder(1, 1, "d" * 64), "p" * 32, current, 2, terra_user_id, 1)
    copy_under_terra_user = StoredCopy(
        identity, "2026-01-01", CopyOrder(1, 1, "d" * 64), "q" * 32, fetched, 2, terra_user_id, 1, superseded=(older,)
    )
    index.commit(f"u#{owner}", copy, replaces=None, owner=None, signed_ms=1)
    index.commit(f"t#{terra_user_id}", copy_under_terra_user, replaces=None, owner=None, signed_ms=1)
    index.put_payload_part(f"u#{owner}", PayloadPart("p" * 32, 0, "daily", ("r#daily#GARMIN#2026-01-01",), raw))
    table = boto3.client("dynamodb")
    plan = {"pk": {"S": f"bf#{terra_user_id}"}, "sk": {"S": "plan"}, "deadline_ms": {"N": "1700000000000"}}
    table.put_item(TableName=stack.table, Item=plan)
    listing = {"pk": {"S": "bf-open"}, "sk": {"S": f"001700000000000#{terra_user_id}"}}
    table.put_item(TableName=stack.table, Item=listing)
    return [older, current, raw, fetched]


def versions(stack: DataStack) -> set[ObjectVersion]:
    answer = boto3.client("s3").list_object_versions(Bucket=stack.bucket)
    entries = [*answer.get("Versions", []), *answer.get("DeleteMarkers", [])]
    return {ObjectVersion(entry["Key"], entry["VersionId"]) for entry in entries}


def items(stack: DataStack) -> set[tuple[str, str]]:
    return {(i["pk"]["S"], i["sk"]["S"]) for i in boto3.client("dynamodb").scan(TableName=stack.table)["Items"]}


def test_after_both_passes_no_version_or_item_of_the_user_remains_and_another_users_do(
    data_stack: DataStack, table: str
) -> None:
    index = DynamoDBRecordIndex(data_stack.table, table)
    keep(stack=data_stack, index=index, owner="alice", terra_user_id="tu-a")
    bobs = keep(stack=data_stack, index=index, owner="bob", terra_user_id="tu-b")
    bobs_items = {item for item in items(data_stack) if item[0].endswith(("bob", "tu-b")) or item[1].endswith("#tu-b")}
    queue = SqsPurgeRequests(data_stack.queue_urls["purge"])
    service = PurgeService(
        DynamoDBPurgeIndex(data_stack.table, clock=lambda: 1_700_000_000_000),
        S3PurgeObjects(data_stack.bucket),
        queue,
        clock=lambda: 1_700_000_000_000,
        page_size=2,
    )
    queue.request(PurgeRequest("e" * 32, "alice", ("tu-a",), 1, "user"))
    start = len(stream_records(data_stack.table))

    outcomes = []
    for _ in range(2):
        (message,) = received(data_stack, "purge")
        boto3.client("sqs").delete_message(
            QueueUrl=data_stack.queue_urls["purge"], ReceiptHandle=message["receiptHandle"]
        )
        outcomes.append(service.purge(PurgeRequest.from_message(message["body"]), Deadline.after(900)))
        if len(outcomes) == 1:
            _undelay(data_stack)

    assert [o.outcome for o in outcomes] == [PurgeOutcome.SECOND_RUN_QUEUED, PurgeOutcome.ERASED]
    assert versions(data_stack) == set(bobs)
    assert items(data_stack) - {("purge#" + "e" * 32, "done")} == bobs_items
    published = [
        entry
        for record in stream_records(data_stack.table, start)
        if is_data_table_record(record, table)
        for entry in data_change(record)
    ]
    ((detail_type, detail),) = published
    assert detail_type == "Wearable Data Erased"
    assert (detail["reference_id"], detail["records_deleted"], detail["objects_deleted"]) == ("alice", 2, 4)
    assert "record" not in json.dumps(detail).replace("records_deleted", "")


def _undelay(stack: DataStack) -> None:
    """The second pass waits 15 minutes on the queue: the emulated queue is told to hand it over now."""
    from moto.core.models import DEFAULT_ACCOUNT_ID  # noqa: PLC0415 - moto's internals, for tests only
    from moto.sqs.models import sqs_backends  # noqa: PLC0415

    name = stack.queue_urls["purge"].rsplit("/", 1)[-1]
    queue: Any = sqs_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].queues[name]
    for message in queue._messages:
        assert message.delayed  # sent with its 15 minutes of delay
        message.delayed_until = 0.0


def test_the_index_tells_the_purge_when_and_by_whom_records_and_payload_parts_were_signed(
    data_stack: DataStack, table: str
) -> None:
    index = DynamoDBRecordIndex(data_stack.table, table)
    current, raw = put(data_stack, RECORD_KEY.format(owner="alice")), put(data_stack, "raw/dt=2026-01-01/a.json")
    identity = RecordIdentity("daily", "GARMIN", "2026-01-01")
    copy = StoredCopy(identity, "2026-01-01", CopyOrder(5, 2_000, "d" * 64), "p" * 32, current, 2, "tu-a2", 1_500)
    index.commit("u#alice", copy, replaces=None, owner=None, signed_ms=2_000)
    index.put_payload_part("u#alice", PayloadPart("p" * 32, 0, "daily", (), raw, None, 2_000, "tu-a2"))
    index.put_payload_part("u#alice", PayloadPart("q" * 32, 0, "daily", (), raw))  # written before parts said when
    purge_index = DynamoDBPurgeIndex(data_stack.table, clock=lambda: 0)

    first = purge_index.page("u#alice", 2)
    rest = purge_index.page("u#alice", 2, first.items[-1].key)

    assert (first.more, rest.more) == (True, False)
    found = {
        item.key.sk: (item.signed_ms, item.terra_user_id, item.received_ms) for item in (*first.items, *rest.items)
    }
    assert found == {
        f"p#{'p' * 32}#0000": (2_000, "tu-a2", None),
        f"p#{'q' * 32}#0000": (None, None, None),
        "r#daily#GARMIN#2026-01-01": (2_000, "tu-a2", 1_500),
    }
    request = PurgeRequest("e" * 32, "alice", ("tu-a",), 1_000, "user")
    assert [request.keeps(item) for item in (*first.items, *rest.items)] == [True, False, True]
