"""The stored health data (data.yaml, the nested stack Data) and the functions template.yaml runs on it: encryption,
versions, retention that follows the parameters, a dead-letter queue and an alarm for every queue, the Glue table
over the keys the code writes, and each function granted its own part of the data only."""

import fnmatch
import json
import re
from typing import Any

import pytest
from tooling.rehearsal.cfn import Stack
from tooling.template import load_template, nested_template, policy_statements

from terra_connect.health_data.claim_check import FETCHED_PREFIX, TERRA_QUEUE_PREFIX
from terra_connect.health_data.keys import KNOWN_DATA_TYPES, RecordIdentity
from terra_connect.health_data.layout import owner_partition, raw_object_key, record_object_key
from terra_connect.health_data.ordering import CopyOrder
from tests.support.builders import ROOT

DATA = ROOT / "data.yaml"


def data() -> dict[str, Any]:
    return load_template(DATA)


def resource(name: str) -> dict[str, Any]:
    properties: dict[str, Any] = data()["Resources"][name]["Properties"]
    return properties


def of_type(kind: str) -> dict[str, dict[str, Any]]:
    return {name: r for name, r in data()["Resources"].items() if r["Type"] == kind}


def test_the_data_is_encrypted_under_the_stacks_own_rotated_key_and_kept_when_the_stack_goes() -> None:
    bucket = resource("DataBucket")
    (rule,) = bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    key = {"Fn::GetAtt": ["DataKey", "Arn"]}

    assert rule == {
        "ServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": key},
        "BucketKeyEnabled": True,
    }
    assert resource("DataKey")["EnableKeyRotation"] is True
    for table in ("DataTable", "IdempotencyTable"):
        assert resource(table)["SSESpecification"] == {
            "SSEEnabled": True,
            "SSEType": "KMS",
            "KMSMasterKeyId": {"Ref": "DataKey"},
        }
        assert resource(table)["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    for name in ("DataKey", "DataBucket", "DataTable"):
        assert data()["Resources"][name]["DeletionPolicy"] == "Retain", name
        assert data()["Resources"][name]["UpdateReplacePolicy"] == "Retain", name
    assert all(q["Properties"]["SqsManagedSseEnabled"] for q in of_type("AWS::SQS::Queue").values())


def test_the_bucket_is_versioned_private_and_takes_only_tls_and_its_key() -> None:
    bucket = resource("DataBucket")
    statements = {s["Sid"]: s for s in resource("DataBucketPolicy")["PolicyDocument"]["Statement"]}

    assert bucket["VersioningConfiguration"] == {"Status": "Enabled"}
    assert set(bucket["PublicAccessBlockConfiguration"].values()) == {True}
    assert bucket["OwnershipControls"] == {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]}
    assert all(s["Effect"] == "Deny" for s in statements.values())
    assert statements["TlsOnly"]["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    assert statements["NoOtherKey"]["Condition"] == {
        "StringNotEqualsIfExists": {
            "s3:x-amz-server-side-encryption-aws-kms-key-id": {"Fn::GetAtt": ["DataKey", "Arn"]}
        }
    }


def lifecycle(**parameters: str) -> dict[str, dict[str, Any]]:
    stack = Stack.of(data(), {"AlarmTopicArn": "", "ConnectionsTableArn": "arn", "BackfillDays": "30", **parameters})
    rules = stack.resolve(resource("DataBucket")["LifecycleConfiguration"]["Rules"])
    return {rule["Id"]: rule for rule in rules}


@pytest.mark.parametrize(("raw_days", "record_days"), [("30", "0"), ("7", "365"), ("3650", "1")])
def test_retention_follows_the_parameters(raw_days: str, record_days: str) -> None:
    rules = lifecycle(DataRetentionDays=raw_days, RecordRetentionDays=record_days)

    assert rules["raw-payloads"] == {
        "Id": "raw-payloads",
        "Status": "Enabled",
        "Prefix": "raw/",
        "ExpirationInDays": raw_days,
    }
    if record_days == "0":  # kept until erased
        assert "records" not in rules
    else:
        assert rules["records"] == {
            "Id": "records",
            "Status": "Enabled",
            "Prefix": "records/",
            "ExpirationInDays": record_days,
        }
    assert rules["athena-results"]["ExpirationInDays"] == 7
    assert rules["versions"]["NoncurrentVersionExpiration"] == {"NoncurrentDays": 1}
    assert rules["versions"]["AbortIncompleteMultipartUpload"] == {"DaysAfterInitiation": 1}
    assert "Prefix" not in rules["versions"]  # every prefix


def test_the_raw_and_record_keys_the_code_writes_are_under_the_prefixes_the_rules_and_grants_name() -> None:
    identity = RecordIdentity("daily", "GARMIN", "2026-11-16")
    record = record_object_key(
        owner_partition("app-user"), identity, "2026-11-16", CopyOrder(1, 2, "ab" * 32), "p" * 12
    )

    assert raw_object_key("d" * 64, 1_700_000_000_000).startswith("raw/")
    assert record.startswith("records/")


def test_the_glue_table_projects_the_partitions_from_the_keys_the_code_writes() -> None:
    table = resource("RecordsTable")["TableInput"]
    parameters = table["Parameters"]
    template = Stack(data(), {}).resolve(parameters["storage.location.template"])
    bucket = Stack(data(), {}).physical("DataBucket")

    for data_type in sorted(KNOWN_DATA_TYPES):
        identity = RecordIdentity(data_type, "OURA", "summary-1")
        key = record_object_key(owner_partition("u"), identity, "2026-02-28", CopyOrder(5, 6, "cd" * 32), "q" * 12)
        prefix = template.replace("${type}", data_type).replace("${day}", "2026-02-28")
        assert f"s3://{bucket}/{key}".startswith(prefix), key
        assert re.fullmatch(r"[^/]+\.json", key.removeprefix(prefix.removeprefix(f"s3://{bucket}/")))
    assert set(parameters["projection.type.values"].split(",")) == KNOWN_DATA_TYPES
    assert [k["Name"] for k in table["PartitionKeys"]] == ["type", "day"]
    assert (
        parameters["projection.enabled"],
        parameters["projection.type.type"],
        parameters["projection.day.type"],
    ) == (
        "true",
        "enum",
        "date",
    )
    assert parameters["projection.day.format"] == "yyyy-MM-dd"
    assert table["StorageDescriptor"]["SerdeInfo"]["SerializationLibrary"] == "org.apache.hive.hcatalog.data.JsonSerDe"


def test_the_workgroup_enforces_encrypted_results_under_their_prefix_and_a_scan_cutoff() -> None:
    configuration = resource("DataWorkGroup")["WorkGroupConfiguration"]
    query = resource("DailyStepsQuery")

    assert configuration["EnforceWorkGroupConfiguration"] is True
    assert configuration["ResultConfiguration"]["OutputLocation"] == {"Fn::Sub": "s3://${DataBucket}/athena-results/"}
    assert configuration["ResultConfiguration"]["EncryptionConfiguration"] == {
        "EncryptionOption": "SSE_KMS",
        "KmsKey": {"Fn::GetAtt": ["DataKey", "Arn"]},
    }
    assert 10 * 2**20 <= configuration["BytesScannedCutoffPerQuery"] <= 100 * 2**30
    assert "FROM records" in query["QueryString"]
    assert "type = 'daily'" in query["QueryString"]


def test_every_queue_has_a_dead_letter_queue_with_an_alarm_and_outlasts_its_consumer() -> None:
    queues = of_type("AWS::SQS::Queue")
    alarmed = {
        alarm["Properties"]["Dimensions"][0]["Value"]["Fn::GetAtt"][0]
        for alarm in of_type("AWS::CloudWatch::Alarm").values()
        if alarm["Properties"]["Namespace"] == "AWS/SQS"
    }
    sources = {name: q for name, q in queues.items() if "RedrivePolicy" in q["Properties"]}
    dead_letter = {q["Properties"]["RedrivePolicy"]["deadLetterTargetArn"]["Fn::GetAtt"][0] for q in sources.values()}
    timeout = {"IngestQueue": 60, "FetchQueue": 60, "BackfillQueue": 60, "PurgeQueue": 900, "TerraDeliveryQueue": 60}
    functions = load_template()["Resources"]

    assert set(sources) == {"IngestQueue", "FetchQueue", "BackfillQueue", "PurgeQueue", "TerraDeliveryQueue"}
    assert dead_letter | set(sources) == set(queues)  # every other queue is one of theirs
    assert dead_letter <= alarmed
    assert {"IngestQueue", "FetchQueue", "TerraDeliveryQueue"} <= alarmed
    for name, queue in sources.items():
        assert queue["Properties"]["VisibilityTimeout"] >= 6 * timeout[name], name
        assert queue["Properties"]["MessageRetentionPeriod"] == 14 * 24 * 3600
    assert functions["IngestFunction"]["Properties"]["Timeout"] == timeout["IngestQueue"]
    assert functions["BackfillFunction"]["Properties"]["Timeout"] == timeout["BackfillQueue"]
    assert functions["ReconcileFunction"]["Properties"]["Timeout"] == timeout["PurgeQueue"]
    assert queues["BackfillQueue"]["Condition"] == queues["BackfillDeadLetterQueue"]["Condition"] == "BackfillOn"


def test_the_functions_consume_their_queues_reporting_each_failed_message() -> None:
    resources = load_template()["Resources"]
    mappings = {
        name: r["Properties"] for name, r in resources.items() if r["Type"] == "AWS::Lambda::EventSourceMapping"
    }

    def mapping(source: str) -> dict[str, Any]:
        found: list[dict[str, Any]] = [
            m for m in mappings.values() if m["EventSourceArn"] == {"Fn::GetAtt": ["Data", f"Outputs.{source}"]}
        ]
        assert len(found) == 1, source
        return found[0]

    assert (mapping("IngestQueueArn")["FunctionName"], mapping("IngestQueueArn")["BatchSize"]) == (
        {"Ref": "IngestFunction"},
        10,
    )
    assert (mapping("FetchQueueArn")["FunctionName"], mapping("FetchQueueArn")["BatchSize"]) == (
        {"Ref": "IngestFunction"},
        1,
    )
    assert (mapping("BackfillQueueArn")["FunctionName"], mapping("BackfillQueueArn")["BatchSize"]) == (
        {"Ref": "BackfillFunction"},
        1,
    )
    assert (mapping("PurgeQueueArn")["FunctionName"], mapping("PurgeQueueArn")["BatchSize"]) == (
        {"Ref": "ReconcileFunction"},
        1,
    )
    stream = mapping("DataTableStreamArn")
    assert stream["FunctionName"] == {"Ref": "EventsFunction"}
    assert stream["DestinationConfig"] == {
        "OnFailure": {"Destination": {"Fn::GetAtt": ["EventsDeadLetterQueue", "Arn"]}}
    }
    assert all(m["FunctionResponseTypes"] == ["ReportBatchItemFailures"] for m in mappings.values())
    backfill = resources["BackfillFunction"]
    sweep = backfill["Properties"]["Events"]["Sweep"]["Properties"]
    assert backfill["Condition"] == "BackfillOn"
    assert load_template()["Conditions"]["BackfillOn"] == {"Fn::Not": [{"Fn::Equals": [{"Ref": "BackfillDays"}, 0]}]}
    assert (json.loads(sweep["Input"]), sweep["ScheduleExpression"], sweep["OmitName"]) == (
        {"sweep": True},
        "rate(15 minutes)",
        True,
    )
    assert resources["IngestFunction"]["Properties"]["Handler"] == "terra_connect.entrypoints.ingest.lambda_handler"
    assert backfill["Properties"]["Handler"] == "terra_connect.entrypoints.backfill.lambda_handler"


def test_the_read_route_is_behind_the_jwt_authorizer() -> None:
    route = load_template()["Resources"]["ApiFunction"]["Properties"]["Events"]["ReadData"]["Properties"]

    assert (route["Method"], route["Path"]) == ("GET", "/v1/data/{type}")
    assert "Auth" not in route  # the API's default: the JWT authorizer


# --- least privilege ------------------------------------------------------------------------------------------

DATA_POLICIES = {
    "WebhookFunction": "WebhookDataPolicy",
    "ApiFunction": "ApiDataPolicy",
    "IngestFunction": "IngestDataPolicy",
    "BackfillFunction": "BackfillDataPolicy",
    "EventsFunction": "EventsDataPolicy",
    "ReconcileFunction": "PurgeDataPolicy",
}


def statements(policy: str) -> list[dict[str, Any]]:
    found = resource(policy)["PolicyDocument"]["Statement"]
    return [branch for s in found for branch in (s["Fn::If"][1:2] if "Fn::If" in s else [s])]


def actions(statement: dict[str, Any]) -> list[str]:
    action = statement["Action"]
    return [action] if isinstance(action, str) else list(action)


def test_each_function_names_its_own_data_policy_and_no_aws_managed_one() -> None:
    resources = load_template()["Resources"]
    for function, policy in DATA_POLICIES.items():
        named = resources[function]["Properties"]["Policies"]
        assert {"Fn::GetAtt": ["Data", f"Outputs.{policy}Arn"]} in named, function
        assert data()["Outputs"][f"{policy}Arn"]["Value"] == {"Ref": policy}
        assert all(isinstance(p, dict) for p in named), function  # no ARN of an AWS managed policy
    assert nested_template("Data") == data()


@pytest.mark.parametrize("policy", [*DATA_POLICIES.values(), "DataAnalystPolicy"])
def test_every_data_grant_names_its_resources_and_keys_are_used_only_through_s3_or_dynamodb(policy: str) -> None:
    for statement in statements(policy):
        assert statement["Effect"] == "Allow"
        assert all("*" not in action for action in actions(statement)), statement["Sid"]
        resources = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
        assert "*" not in resources, statement["Sid"]
        assert {"Fn::Sub": "${DataBucket.Arn}/*"} not in resources, statement["Sid"]
        if any(action.startswith("kms:") for action in actions(statement)):
            services = statement["Condition"]["StringEquals"]["kms:ViaService"]
            services = services if isinstance(services, list) else [services]
            assert {json.dumps(s).split(".")[0].split('"')[-1] for s in services} <= {"s3", "dynamodb"}
        if (
            any(action.startswith("dynamodb:") for action in actions(statement))
            and "Stream" not in json.dumps(resources)
            and "stream" not in json.dumps(resources)
        ):
            assert "dynamodb:LeadingKeys" in json.dumps(statement.get("Condition")) or resources == [
                {"Fn::GetAtt": ["IdempotencyTable", "Arn"]}
            ], statement["Sid"]


def prefixes(policy: str, action: str) -> set[str]:
    """The bucket prefixes (raw/, records/, athena-results/) on which `policy` grants `action`."""
    found = set()
    for statement in statements(policy):
        if action in actions(statement):
            resources = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
            found |= {r["Fn::Sub"].removeprefix("${DataBucket.Arn}/") for r in resources if "Fn::Sub" in r}
    return found


def leading_keys(policy: str, table: Any) -> set[str]:
    return {
        key
        for statement in statements(policy)
        if statement["Resource"] == table
        or (isinstance(statement["Resource"], list) and table in statement["Resource"])
        for key in statement["Condition"]["ForAllValues:StringLike"]["dynamodb:LeadingKeys"]
    }


def listed_prefixes(policy: str) -> set[str]:
    """The s3:prefix patterns under which `policy` may list the bucket's versions."""
    found: set[str] = set()
    for statement in statements(policy):
        if "s3:ListBucketVersions" in actions(statement):
            assert statement["Resource"] == {"Fn::GetAtt": ["DataBucket", "Arn"]}
            found |= set(statement["Condition"]["StringLike"]["s3:prefix"])
    return found


def test_a_raw_key_that_may_not_exist_yet_is_found_by_a_listing_its_function_may_make() -> None:
    # Without s3:ListBucket, HeadObject on a missing key answers 403: the adapters list versions instead, by prefix.
    for key in (f"{FETCHED_PREFIX}{'a' * 40}.json", f"{TERRA_QUEUE_PREFIX}{'a' * 64}.json"):
        assert any(fnmatch.fnmatch(key, pattern) for pattern in listed_prefixes("IngestDataPolicy")), key
    raw_key = raw_object_key("a" * 64, 1_780_000_000_000)
    assert [fnmatch.fnmatch(raw_key, pattern) for pattern in listed_prefixes("WebhookDataPolicy")] == [True]
    assert not fnmatch.fnmatch("records/x.json", "raw/dt=*")
    granted = {a for policy in DATA_POLICIES.values() for s in statements(policy) for a in actions(s)}
    assert "s3:ListBucket" not in granted  # so the code can never rely on a 404


def test_each_function_reaches_only_the_part_of_the_data_its_work_needs() -> None:
    table = {"Fn::GetAtt": ["DataTable", "Arn"]}

    # The webhook stores raw bodies and queues pointers: it reads nothing, and never the records.
    assert prefixes("WebhookDataPolicy", "s3:PutObject") == {"raw/*"}
    assert prefixes("WebhookDataPolicy", "s3:GetObject") == set()
    assert not any(a.startswith("dynamodb:") for s in statements("WebhookDataPolicy") for a in actions(s))
    # The API reads the caller's own records: their partition, their objects, nothing written.
    assert leading_keys("ApiDataPolicy", table) == {"u#*"}
    assert prefixes("ApiDataPolicy", "s3:GetObjectVersion") == {"records/*"}
    assert not any(
        a.startswith(("s3:Put", "s3:Delete", "dynamodb:Put", "dynamodb:Update", "dynamodb:Delete"))
        for s in statements("ApiDataPolicy")
        for a in actions(s)
    )
    # Ingest writes bodies and records and deletes only versions (a superseded copy), never a whole key.
    assert prefixes("IngestDataPolicy", "s3:PutObject") == {"raw/*", "records/*"}
    assert prefixes("IngestDataPolicy", "s3:DeleteObjectVersion") == {"raw/*", "records/*"}
    assert prefixes("IngestDataPolicy", "s3:GetObjectVersion") == {"raw/*"}
    assert "s3:DeleteObject" not in {a for s in statements("IngestDataPolicy") for a in actions(s)}
    assert leading_keys("IngestDataPolicy", table) == {"u#*", "t#*", "bf#*", "bf-open"}
    assert leading_keys("IngestDataPolicy", {"Ref": "ConnectionsTableArn"}) == {"terra-user#*", "erased#*"}
    # The purge deletes versions (never a whole key, never a put) in the partitions an erased user's data is under.
    assert prefixes("PurgeDataPolicy", "s3:DeleteObjectVersion") == {"raw/*", "records/*"}
    purge_actions = {a for s in statements("PurgeDataPolicy") for a in actions(s)}
    assert not {"s3:DeleteObject", "s3:PutObject", "s3:GetObject", "s3:GetObjectVersion"} & purge_actions
    # Items go in BatchWriteItem's DeleteRequests (data_erasure/dynamodb.py), never one by one.
    assert {a for a in purge_actions if a.startswith("dynamodb:")} == {
        "dynamodb:Query",
        "dynamodb:BatchWriteItem",
        "dynamodb:PutItem",
    }
    assert leading_keys("PurgeDataPolicy", table) == {"u#*", "t#*", "bf#*", "bf-open", "purge#*"}
    assert [a for s in statements("PurgeDataPolicy") if "purge#*" in json.dumps(s) for a in actions(s)] == [
        "dynamodb:PutItem"
    ]
    # The backfill sees backfills only, and hands data Terra answered inline over as the webhook does: it archives
    # the raw body (never reading, deleting or writing a record) and queues a pointer.
    assert leading_keys("BackfillDataPolicy", table) == {"bf#*", "bf-open"}
    backfill_s3 = {a for s in statements("BackfillDataPolicy") for a in actions(s) if a.startswith("s3:")}
    assert backfill_s3 == {"s3:PutObject", "s3:ListBucketVersions"}
    assert prefixes("BackfillDataPolicy", "s3:PutObject") == {"raw/dt=*"}


def test_the_queue_grants_follow_who_sends_and_who_consumes() -> None:
    def queues(policy: str, action: str) -> set[str]:
        return {
            r["Fn::GetAtt"][0]
            for s in statements(policy)
            if action in actions(s)
            for r in (s["Resource"] if isinstance(s["Resource"], list) else [s["Resource"]])
        }

    assert queues("WebhookDataPolicy", "sqs:SendMessage") == {"IngestQueue", "FetchQueue"}
    assert queues("IngestDataPolicy", "sqs:ReceiveMessage") == {"IngestQueue", "FetchQueue", "TerraDeliveryQueue"}
    assert queues("IngestDataPolicy", "sqs:ChangeMessageVisibility") == {
        "IngestQueue",
        "FetchQueue",
        "TerraDeliveryQueue",
    }
    assert "TerraDeliveryQueue" not in queues("IngestDataPolicy", "sqs:SendMessage")  # only Terra sends to it
    assert queues("BackfillDataPolicy", "sqs:ChangeMessageVisibility") == {"BackfillQueue"}
    assert queues("BackfillDataPolicy", "sqs:SendMessage") == {"BackfillQueue", "IngestQueue"}
    assert queues("EventsDataPolicy", "sqs:SendMessage") == {"BackfillQueue"}
    # An erasure (the API's, the operator's) asks for its purge; the purge goes on and queues its second pass.
    assert queues("ApiDataPolicy", "sqs:SendMessage") == {"PurgeQueue"}
    assert queues("PurgeDataPolicy", "sqs:SendMessage") == {"PurgeQueue"}
    assert queues("PurgeDataPolicy", "sqs:ReceiveMessage") == {"PurgeQueue"}
    assert not any(
        "Purge" in q
        for p in DATA_POLICIES.values()
        if p not in {"ApiDataPolicy", "PurgeDataPolicy"}
        for q in queues(p, "sqs:SendMessage")
    )


def test_the_functions_get_every_data_setting_and_the_events_function_its_stream() -> None:
    variables = load_template()["Globals"]["Function"]["Environment"]["Variables"]
    backfill = load_template()["Resources"]["BackfillFunction"]["Properties"]["Environment"]["Variables"]

    assert {
        "DATA_BUCKET",
        "DATA_KEY_ID",
        "DATA_TABLE",
        "IDEMPOTENCY_TABLE",
        "INGEST_QUEUE_URL",
        "FETCH_QUEUE_URL",
        "BACKFILL_QUEUE_URL",
        "PURGE_QUEUE_URL",
        "BACKFILL_DAYS",
        "BACKFILL_TIMEOUT_HOURS",
        "BACKFILL_WITH_SAMPLES",
        "DATA_RETENTION_DAYS",
        "RECORD_RETENTION_DAYS",
        "PAYLOAD_URL_HOSTS",
    } <= set(variables)
    assert variables["BACKFILL_QUEUE_URL"] == {
        "Fn::If": ["BackfillOn", {"Fn::GetAtt": ["Data", "Outputs.BackfillQueueUrl"]}, ""]
    }
    assert backfill["BACKFILL_QUEUE_URL"] == {"Fn::GetAtt": ["Data", "Outputs.BackfillQueueUrl"]}
    assert policy_statements("EventsFunction")  # its data policy resolves


# --- Terra's SQS destination ----------------------------------------------------------------------------------

TERRA_ROLE = "arn:aws:iam::760292141147:role/EC2_Instance_Perms"


def data_stack(principal: str) -> Stack:
    parameters = {"AlarmTopicArn": "", "ConnectionsTableArn": "arn", "BackfillDays": "30", "DataRetentionDays": "30"}
    return Stack.of(data(), {**parameters, "RecordRetentionDays": "0", "TerraDeliveryPrincipalArn": principal})


@pytest.mark.parametrize("principal", ["", TERRA_ROLE])
def test_terra_s_queue_its_dead_letter_queue_alarms_and_mapping_exist_only_with_a_principal(principal: str) -> None:
    stack, main = data_stack(principal), Stack.of(load_template(), {"TerraDeliveryPrincipalArn": principal})
    named = [
        "TerraDeliveryQueue",
        "TerraDeliveryQueuePolicy",
        "TerraDeliveryDeadLetterQueue",
        "TerraDeliveryDeadLetterAlarm",
        "TerraDeliveryBacklogAlarm",
    ]
    alarms = stack.resolve(data()["Outputs"]["DataAlarms"]["Value"]).split(",")

    assert [stack.exists(name) for name in named] == [bool(principal)] * len(named)
    assert main.exists("IngestFunctionTerraDeliveryQueue") == bool(principal)
    assert load_template()["Outputs"]["TerraDeliveryQueueUrl"]["Condition"] == "TerraDeliveryOn"
    assert any("TerraDeliveryDeadLetterAlarm" in arn for arn in alarms) == bool(principal)
    assert any("TerraDeliveryBacklogAlarm" in arn for arn in alarms) == bool(principal)


def test_terra_s_queue_takes_only_what_its_principal_sends_over_tls_under_sqs_managed_keys() -> None:
    queue = resource("TerraDeliveryQueue")
    allow, deny = resource("TerraDeliveryQueuePolicy")["PolicyDocument"]["Statement"]

    assert queue["SqsManagedSseEnabled"] is True
    assert "KmsMasterKeyId" not in queue  # Terra's account needs no KMS grant to send
    assert queue["RedrivePolicy"]["deadLetterTargetArn"] == {"Fn::GetAtt": ["TerraDeliveryDeadLetterQueue", "Arn"]}
    assert resource("TerraDeliveryQueuePolicy")["Queues"] == [{"Ref": "TerraDeliveryQueue"}]
    assert (allow["Effect"], allow["Principal"]) == ("Allow", {"AWS": {"Ref": "TerraDeliveryPrincipalArn"}})
    assert sorted(actions(allow)) == ["sqs:GetQueueUrl", "sqs:SendMessage"]
    assert (deny["Effect"], deny["Principal"], deny["Condition"]) == (
        "Deny",
        "*",
        {"Bool": {"aws:SecureTransport": "false"}},
    )
    for statement in (allow, deny):
        assert statement["Resource"] == {"Fn::GetAtt": ["TerraDeliveryQueue", "Arn"]}


def test_the_ingest_function_consumes_terra_s_queue_one_message_at_a_time_when_it_exists() -> None:
    template = load_template()
    mapping = template["Resources"]["IngestFunctionTerraDeliveryQueue"]
    variables = template["Resources"]["IngestFunction"]["Properties"]["Environment"]["Variables"]
    parameter = template["Parameters"]["TerraDeliveryPrincipalArn"]

    assert mapping["Condition"] == "TerraDeliveryOn"
    assert mapping["Properties"]["EventSourceArn"] == {"Fn::GetAtt": ["Data", "Outputs.TerraDeliveryQueueArn"]}
    assert (mapping["Properties"]["BatchSize"], mapping["Properties"]["FunctionResponseTypes"]) == (
        1,
        ["ReportBatchItemFailures"],
    )
    assert variables["TERRA_DELIVERY_QUEUE_URL"] == {
        "Fn::If": ["TerraDeliveryOn", {"Fn::GetAtt": ["Data", "Outputs.TerraDeliveryQueueUrl"]}, ""]
    }
    assert parameter["Default"] == ""
    pattern = re.compile(parameter["AllowedPattern"])
    for accepted in ("", TERRA_ROLE, "arn:aws:iam::123456789012:root", "arn:aws:iam::123456789012:user/terra"):
        assert pattern.fullmatch(accepted), accepted
    for refused in ("*", "760292141147", "arn:aws:iam::760292141147:role/", "arn:aws:s3:::bucket"):
        assert not pattern.fullmatch(refused), refused
