"""The stack watches itself: every function's alarms, and custom-metric alarms on metrics the code really emits.

The alarms a gradual deploy rolls back on are in template.yaml; every other alarm and the dashboard in
monitoring.yaml, the topic in notifications.yaml (nested stacks template.yaml creates). Each alarm is read in the
stack that creates it, with what template.yaml passes that stack.
"""

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
import responses
from tooling.rehearsal.cfn import NO_VALUE, Stack
from tooling.template import load_template

from terra_connect.kernel import errors
from terra_connect.platform.observability import REJECTION_KINDS
from tests.support.builders import (
    ROOT,
    WIDGET_URL,
    ApiAnswer,
    FakeLambdaContext,
    api_event,
    emf_documents,
    webhook_event,
)

SILENCE_IS_THE_FAILURE = {"ReconcileNotRunningAlarm"}
ALARM_TEMPLATES = ("template.yaml", "monitoring.yaml", "data.yaml")
ROLLBACK_KINDS = ("ServerErrorRate", "Errors", "Throttles")
OPERATIONS = (ROOT / "docs" / "operations.md").read_text()


def resources(template: str = "template.yaml") -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = load_template(ROOT / template)["Resources"]
    return found


@dataclass(frozen=True)
class Deployment:
    """template.yaml deployed with some parameters, and the Monitoring stack it creates with what it passes."""

    main: Stack
    monitoring: Stack
    data: Stack

    def stack_of(self, alarm: str) -> Stack:
        if alarm in resources():
            return self.main
        return self.monitoring if alarm in resources("monitoring.yaml") else self.data


def nested_stack(main: Stack, logical_id: str) -> Stack:
    """The nested stack `logical_id` of `main`, with what `main` passes it (its outputs as placeholders)."""
    properties = resources()[logical_id]["Properties"]
    passed = {
        name: ",".join(value) if isinstance(value, list) else str(value)
        for name, value in main.resolve(properties["Parameters"]).items()
    }
    return Stack.of(load_template(ROOT / properties["Location"]), passed, name=main.physical(logical_id))


TERRA_ROLE = "arn:aws:iam::760292141147:role/EC2_Instance_Perms"


def deployed(**parameters: str) -> Deployment:
    main = Stack.of(load_template(), parameters)
    return Deployment(main, nested_stack(main, "Monitoring"), nested_stack(main, "Data"))


def alarms() -> dict[str, dict[str, Any]]:
    """Every alarm of the stack, template.yaml's, monitoring.yaml's and data.yaml's, by logical id."""
    return {
        name: r["Properties"]
        for template in ALARM_TEMPLATES
        for name, r in resources(template).items()
        if r["Type"] == "AWS::CloudWatch::Alarm"
    }


def test_each_alarm_is_in_one_template_only() -> None:
    main, nested, data = (
        {name for name, r in resources(t).items() if r["Type"] == "AWS::CloudWatch::Alarm"} for t in ALARM_TEMPLATES
    )

    assert not main & nested
    assert not main & data
    assert not nested & data
    assert main == {f"{f}{kind}Alarm" for f in ("ApiFunction", "WebhookFunction") for kind in ROLLBACK_KINDS}


def watched(alarm: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    """(namespace, metric, dimensions) of every metric an alarm reads, alone or in metric math."""
    if "MetricName" in alarm:
        return [(alarm["Namespace"], alarm["MetricName"], {d["Name"]: d["Value"] for d in alarm["Dimensions"]})]
    return [
        (m["Namespace"], m["MetricName"], {d["Name"]: d["Value"] for d in m["Dimensions"]})
        for query in alarm["Metrics"]
        if "MetricStat" in query
        for m in [query["MetricStat"]["Metric"]]
    ]


def test_every_function_has_an_errors_and_a_throttles_alarm() -> None:
    functions = [name for name, r in resources().items() if r["Type"] == "AWS::Serverless::Function"]
    assert functions == [
        "ApiFunction",
        "WebhookFunction",
        "ReconcileFunction",
        "EventsFunction",
        "IngestFunction",
        "BackfillFunction",
    ]
    deployment = deployed()
    for function in functions:
        lambda_metrics = {
            metric
            for name, alarm in alarms().items()
            for namespace, metric, dimensions in watched(alarm)
            if namespace == "AWS/Lambda"
            and deployment.stack_of(name).resolve(dimensions) == {"FunctionName": deployment.main.physical(function)}
        }
        assert {"Errors", "Throttles"} <= lambda_metrics, function


def test_the_required_alarms_exist() -> None:
    metrics = {(ns, metric) for alarm in alarms().values() for ns, metric, _ in watched(alarm)}
    assert {
        ("AWS/ApiGateway", "5xx"),
        ("TerraConnect", "TerraErrors"),
        ("TerraConnect", "WebhookSignatureFailures"),
        ("AWS/DynamoDB", "ReadThrottleEvents"),
        ("AWS/DynamoDB", "WriteThrottleEvents"),
        ("TerraConnect", "ReconciliationRunsCompleted"),
        ("AWS/Lambda", "Invocations"),
        ("AWS/SQS", "ApproximateNumberOfMessagesVisible"),  # lifecycle events that were never published
    } <= metrics


@pytest.mark.parametrize("email", ["", "ops@example.com"])
def test_every_alarm_notifies_the_one_topic_only_when_an_email_is_set_and_a_quiet_stack_does_not_alarm(
    email: str,
) -> None:
    deployment = deployed(AlarmEmail=email)
    topic = [deployment.main.physical("Notifications", "Outputs.AlarmTopicArn")] if email else NO_VALUE
    for name, alarm in alarms().items():
        stack = deployment.stack_of(name)
        assert stack.resolve(alarm["AlarmActions"]) == topic, name
        assert stack.resolve(alarm["OKActions"]) == topic, name
        expected = "breaching" if name in SILENCE_IS_THE_FAILURE else "notBreaching"
        assert alarm["TreatMissingData"] == expected, name
        assert "docs/operations.md#" in json.dumps(stack.resolve(alarm["AlarmDescription"])), name
        # The topic's policy lets alarms named after the stack publish: its own and its nested stacks'.
        assert stack.resolve(alarm["AlarmName"]).startswith(f"{deployment.main.name}-"), name


def test_every_runbook_anchor_an_alarm_names_exists() -> None:
    headings = {
        line[4:].strip().lower().replace(" ", "-") for line in OPERATIONS.splitlines() if line.startswith("### ")
    }
    deployment = deployed()
    for name, alarm in alarms().items():
        description = json.dumps(deployment.stack_of(name).resolve(alarm["AlarmDescription"]))
        anchor = description.split("docs/operations.md#", 1)[1].split('"', 1)[0]
        assert anchor in headings, (name, anchor)


def test_the_runbook_names_every_alarm() -> None:
    deployment = deployed()
    for name, alarm in alarms().items():
        stack = deployment.stack_of(name)
        suffix = stack.resolve(alarm["AlarmName"]).removeprefix(f"{stack.name}-")
        assert f"`{suffix}`" in OPERATIONS, (name, suffix)


def test_the_topic_is_encrypted_and_exists_only_with_an_email() -> None:
    application = resources()["Notifications"]
    assert application["Condition"] == "AlarmEmailSet"
    assert application["Properties"]["Parameters"] == {
        "ParentStackName": {"Ref": "AWS::StackName"},
        "AlarmEmail": {"Ref": "AlarmEmail"},
    }
    topic = resources("notifications.yaml")
    assert topic["AlarmTopic"]["Properties"]["KmsMasterKeyId"] == {"Ref": "AlarmTopicKey"}
    assert topic["AlarmTopicKey"]["Properties"]["EnableKeyRotation"] is True
    assert topic["AlarmEmailSubscription"]["Properties"]["Endpoint"] == {"Ref": "AlarmEmail"}
    policy = json.dumps(topic["AlarmTopicPolicy"]["Properties"]["PolicyDocument"])
    assert ":alarm:${ParentStackName}-*" in policy


def refers_to(value: Any, logical_id: str) -> bool:
    return f'"{logical_id}"' in json.dumps(value) or f"${{{logical_id}" in json.dumps(value)


def test_gradual_deployments_roll_back_on_the_functions_alarms_and_compose_with_snapstart() -> None:
    found = resources()
    for function in ("ApiFunction", "WebhookFunction"):
        properties = found[function]["Properties"]
        preference = properties["DeploymentPreference"]
        assert preference["Type"] == {"Ref": "DeploymentStrategy"}
        assert preference["Alarms"] == [{"Ref": f"{function}{kind}Alarm"} for kind in ROLLBACK_KINDS]
        # The HTTP API invokes the alias these alarms guard: an alarm on the API, or on a stack that reads the
        # API's id (Monitoring), would be a dependency loop.
        for trigger in preference["Alarms"]:
            assert not refers_to(found[trigger["Ref"]], "HttpApi"), trigger
            assert not refers_to(found[trigger["Ref"]], "Monitoring"), trigger
        assert properties["AutoPublishAlias"] == "live"  # the alias both CodeDeploy and SnapStart act through
        assert "SnapStart" in properties
    parameter = load_template()["Parameters"]["DeploymentStrategy"]
    assert parameter["Default"] == "AllAtOnce"
    assert {"Canary10Percent5Minutes", "Linear10PercentEvery1Minute"} <= set(parameter["AllowedValues"])


@pytest.mark.parametrize("function", ["ApiFunction", "WebhookFunction"])
def test_the_rollback_5xx_rate_judges_the_version_behind_live_by_its_own_answers_and_failures(function: str) -> None:
    alarm = alarms()[f"{function}ServerErrorRateAlarm"]
    version = {"Fn::GetAtt": [function, "Version.Version"]}  # the version SAM publishes for the function
    alias = {"Fn::Sub": f"${{{function}}}:live"}
    by_version = {"FunctionName": {"Ref": function}, "Resource": alias, "ExecutedVersion": version}

    assert sorted(watched(alarm), key=lambda series: series[1]) == [
        ("AWS/Lambda", "Errors", by_version),
        ("AWS/Lambda", "Invocations", by_version),
        (
            "TerraConnect",
            "ServerErrors",
            {"function_name": {"Ref": function}, "function_version": version, "service": {"Ref": "AWS::StackName"}},
        ),
    ]
    (rate,) = [query for query in alarm["Metrics"] if query["ReturnData"]]
    assert rate["Expression"] == {
        "Fn::Sub": "IF(invocations >= ${ApiServerErrorMinRequests}, "
        "100 * (FILL(answers, 0) + FILL(failures, 0)) / invocations, 0)"
    }
    assert alarm["Threshold"] == {"Ref": "ApiServerErrorRatePercent"}


def test_thresholds_are_parameters_with_defaults() -> None:
    parameters = load_template()["Parameters"]
    for name in (
        "ApiServerErrorRatePercent",
        "ApiServerErrorMinRequests",
        "FunctionErrorsThreshold",
        "TerraFailuresThreshold",
        "WebhookSignatureFailuresThreshold",
        "RegistryThrottleThreshold",
    ):
        assert "Default" in parameters[name], name
        assert parameters[name]["Description"], name


def dashboard(
    reconciliation: str, backfill_days: str = "30", terra_principal: str = ""
) -> tuple[Deployment, dict[str, Any]]:
    """The dashboard's body as deployed; the data stack's alarms, which it gets as that stack's output, in place."""
    deployment = deployed(
        ReconcileEnabled=reconciliation, BackfillDays=backfill_days, TerraDeliveryPrincipalArn=terra_principal
    )
    body = json.loads(
        deployment.monitoring.resolve(resources("monitoring.yaml")["Dashboard"]["Properties"]["DashboardBody"])
    )
    passed = deployment.main.physical("Data", "Outputs.DataAlarms")
    data_alarms = deployment.data.resolve(load_template(ROOT / "data.yaml")["Outputs"]["DataAlarms"]["Value"])
    for widget in body["widgets"]:
        if widget["type"] == "alarm":
            shown = widget["properties"]["alarms"]
            widget["properties"]["alarms"] = [
                a for arn in shown for a in (data_alarms.split(",") if arn == passed else [arn])
            ]
    return deployment, body


@pytest.mark.parametrize(
    ("reconciliation", "backfill_days", "terra_principal"),
    [("true", "30", ""), ("false", "30", ""), ("true", "0", ""), ("true", "30", TERRA_ROLE)],
)
def test_the_dashboard_shows_every_alarm_the_stack_has(
    reconciliation: str, backfill_days: str, terra_principal: str
) -> None:
    deployment, body = dashboard(reconciliation, backfill_days, terra_principal)
    existing = {
        deployment.stack_of(name).physical(name, "Arn") for name in alarms() if deployment.stack_of(name).exists(name)
    }
    shown = [arn for w in body["widgets"] if w["type"] == "alarm" for arn in w["properties"]["alarms"]]

    assert sorted(shown) == sorted(existing)
    # Without backfills, neither the backfill function's two alarms nor its dead-letter queue's exist.
    # Nor, without a principal for Terra's SQS destination, its queue's two.
    assert len(existing) == (
        len(alarms()) - (reconciliation == "false") - 3 * (backfill_days == "0") - 2 * (terra_principal == "")
    )


def test_the_dashboard_body_is_json_with_the_promised_widgets() -> None:
    titles = {w["properties"].get("title") for w in dashboard("true")[1]["widgets"]}
    for title in (
        "API requests and errors",
        "API latency (ms)",
        "Error answers by code (last 3 hours)",
        "Terra latency by operation (ms)",
        "Terra errors by kind",
        "Webhook outcomes",
        "Registry repairs",
        "Cold starts by function",
    ):
        assert title in titles


def emitted(stdout: str) -> set[tuple[str, str, frozenset[tuple[str, str]]]]:
    """(namespace, metric, dimensions) of every metric in the EMF documents a handler printed."""
    series = set()
    for document in emf_documents(stdout):
        for directive in document["_aws"]["CloudWatchMetrics"]:
            for dimension_set in directive["Dimensions"]:
                dimensions = frozenset((name, str(document[name])) for name in dimension_set)
                for metric in directive["Metrics"]:
                    series.add((directive["Namespace"], metric["Name"], dimensions))
    return series


def as_emitted(value: Any) -> str:
    """A dimension value an alarm names, as the tests' handlers emit it: the stack's name is the service, a function
    and its version are what Lambda passes the function (FakeLambdaContext)."""
    if value in ({"Ref": "AWS::StackName"}, {"Ref": "ParentStackName"}):  # monitoring.yaml is passed the name
        return "terra-connect"
    if isinstance(value, dict) and "Ref" in value:
        return FakeLambdaContext.function_name
    if isinstance(value, dict) and "Fn::GetAtt" in value:
        return FakeLambdaContext.function_version
    return str(value)


def alarmed_custom_metrics() -> set[tuple[str, frozenset[tuple[str, str]]]]:
    """Custom metrics the alarms read, with their dimensions as the tests' handlers would emit them."""
    return {
        (metric, frozenset((k, as_emitted(v)) for k, v in dimensions.items()))
        for alarm in alarms().values()
        for namespace, metric, dimensions in watched(alarm)
        if namespace == "TerraConnect"
    }


@pytest.mark.parametrize(
    ("status", "kind"), [(401, "terra_unauthorized"), (403, "terra_unauthorized"), (410, "terra_gone")]
)
def test_terras_key_and_endpoint_rejections_are_counted_under_the_kinds_their_alarms_watch(
    status: int,
    kind: str,
    invoke: Callable[..., ApiAnswer],
    terra: responses.RequestsMock,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", "terra-connect")
    terra.post(WIDGET_URL, status=status, json={"status": "error", "message": "no"})

    assert invoke(api_event()).status == 502

    series = {(metric, dims) for namespace, metric, dims in emitted(capsys.readouterr().out)}
    expected = ("TerraErrors", frozenset({("kind", kind), ("service", "terra-connect")}))
    assert expected in series
    assert expected in alarmed_custom_metrics()


def test_a_bad_signature_is_counted_where_its_alarm_looks(
    deliver: Callable[[dict[str, Any]], ApiAnswer], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", "terra-connect")

    assert deliver(webhook_event({"type": "auth"}, secret="not-the-signing-secret")).status == 401

    expected = ("WebhookSignatureFailures", frozenset({("service", "terra-connect")}))
    assert expected in {(metric, dims) for _, metric, dims in emitted(capsys.readouterr().out)}
    assert expected in alarmed_custom_metrics()


def test_a_5xx_answer_is_counted_by_function_and_version_where_the_rollback_alarm_looks(
    invoke: Callable[..., ApiAnswer],
    terra: responses.RequestsMock,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", "terra-connect")
    terra.post(WIDGET_URL, status=503)

    assert invoke(api_event()).status == 503

    by_version = frozenset(
        {
            ("function_name", FakeLambdaContext.function_name),
            ("function_version", FakeLambdaContext.function_version),
            ("service", "terra-connect"),
        }
    )
    series = {(metric, dims) for _, metric, dims in emitted(capsys.readouterr().out)}
    assert ("ServerErrors", by_version) in series
    assert ("ServerErrors", by_version) in alarmed_custom_metrics()
    assert ("ServerErrors", frozenset({("service", "terra-connect")})) in series  # the stack-wide count stays


def test_a_4xx_answer_is_not_counted_against_the_version(
    invoke: Callable[..., ApiAnswer], capsys: pytest.CaptureFixture[str]
) -> None:
    assert invoke(api_event(body="{")).status == 400

    assert not any(metric == "ServerErrors" for _, metric, _ in emitted(capsys.readouterr().out))


def test_every_terra_errors_kind_an_alarm_watches_is_one_the_code_can_emit() -> None:
    codes = {
        cls.code
        for cls in vars(errors).values()
        if isinstance(cls, type) and issubclass(cls, errors.ServiceError) and cls.code.startswith("terra_")
    }
    kinds = codes | set(REJECTION_KINDS.values())
    watched_kinds = {dict(dims)["kind"] for metric, dims in alarmed_custom_metrics() if metric == "TerraErrors"}
    assert watched_kinds == kinds  # every kind the code can emit is watched, and nothing else
