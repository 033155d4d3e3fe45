"""The deploy rehearsal's checks (make rehearse) find what a deployment would: loops, shared names, lost changes."""

from typing import Any

import pytest
from tooling.rehearsal import matrix
from tooling.rehearsal.cfn import Stack, Unresolvable
from tooling.rehearsal.checks import (
    ACCOUNT_WIDE_NAMES,
    alias_moves,
    configuration_parameters,
    created_anew,
    cycle_findings,
    cycles,
    fixed_name_findings,
)
from tooling.rehearsal.extensions import apply, expand_for_each
from tooling.template import load_template

from tests.support.builders import ROOT

TWO_STACKS = ("staging", "production")


def alarm(dimension: Any) -> dict[str, Any]:
    return {
        "Type": "AWS::CloudWatch::Alarm",
        "Properties": {"Namespace": "N", "MetricName": "M", "Dimensions": [{"Name": "d", "Value": dimension}]},
    }


def canary(alarm_dimension: Any) -> dict[str, Any]:
    """An API, the alias it invokes, the alias's CodeDeploy update policy, its deployment group and alarm."""
    return {
        "Resources": {
            "Function": {"Type": "AWS::Lambda::Function", "Properties": {}},
            "Version": {"Type": "AWS::Lambda::Version", "Properties": {"FunctionName": {"Ref": "Function"}}},
            "Alias": {
                "Type": "AWS::Lambda::Alias",
                "Properties": {"FunctionVersion": {"Fn::GetAtt": ["Version", "Version"]}},
                "UpdatePolicy": {"CodeDeployLambdaAliasUpdate": {"DeploymentGroupName": {"Ref": "Group"}}},
            },
            "Group": {
                "Type": "AWS::CodeDeploy::DeploymentGroup",
                "Properties": {"AlarmConfiguration": {"Alarms": [{"Name": {"Ref": "Alarm"}}]}},
            },
            "Alarm": alarm(alarm_dimension),
            "Api": {"Type": "AWS::ApiGatewayV2::Api", "Properties": {"Body": {"Fn::Sub": "uri ${Alias}"}}},
        }
    }


def test_an_alarm_on_the_api_that_rolls_back_the_alias_the_api_invokes_is_a_loop_through_the_update_policy() -> None:
    (loop,) = cycles(canary({"Ref": "Api"}))

    assert {edge.source for edge in loop} == {"Alias", "Group", "Alarm", "Api"}
    assert any(edge.label.startswith("Ref in UpdatePolicy") for edge in loop)
    assert cycles(canary({"Ref": "Function"})) == []


def test_depends_on_and_conditions_count_as_dependencies() -> None:
    template = {
        "Conditions": {"A": {"Condition": "B"}, "B": {"Fn::Not": [{"Condition": "A"}]}},
        "Resources": {
            "One": {"Type": "AWS::SNS::Topic", "DependsOn": "Two", "Condition": "A"},
            "Two": {"Type": "AWS::SNS::Topic", "DependsOn": ["One"]},
        },
    }

    messages = [finding.message for finding in cycle_findings(template)]

    assert len(messages) == 2
    assert any("DependsOn" in message for message in messages)
    assert any("Condition A" in message and "Condition B" in message for message in messages)


def test_a_sub_variable_of_its_own_map_is_no_dependency() -> None:
    template = canary({"Ref": "Function"})
    template["Resources"]["Function"]["Properties"] = {"Description": {"Fn::Sub": ["${Alias}", {"Alias": "x"}]}}

    assert cycles(template) == []


def schedule(name: Any) -> dict[str, Any]:
    return {
        "Parameters": {"Enabled": {"Type": "String", "Default": "yes"}},
        "Conditions": {"On": {"Fn::Equals": [{"Ref": "Enabled"}, "yes"]}},
        "Resources": {
            "Schedule": {"Type": "AWS::Scheduler::Schedule", "Condition": "On", "Properties": {"Name": name}},
            "Group": {"Type": "AWS::Logs::LogGroup", "Properties": {"LogGroupName": {"Fn::Sub": "/${AWS::StackName}"}}},
        },
    }


def test_a_name_two_stacks_would_share_is_found_and_one_made_of_the_stack_name_is_not() -> None:
    (finding,) = fixed_name_findings(schedule("Reconcile"), {"Enabled": "yes"}, TWO_STACKS)

    assert "Schedule.Name is 'Reconcile'" in finding.message
    assert (
        fixed_name_findings(schedule({"Fn::Sub": "${AWS::StackName}-reconcile"}), {"Enabled": "yes"}, TWO_STACKS) == []
    )
    assert fixed_name_findings(schedule("Reconcile"), {"Enabled": "no"}, TWO_STACKS) == []  # not created at all


def test_a_resource_type_the_name_check_does_not_know_must_be_classified() -> None:
    template = {"Resources": {"Instance": {"Type": "AWS::EC2::Instance", "Properties": {}}}}

    (finding,) = fixed_name_findings(template, {}, TWO_STACKS)

    assert "AWS::EC2::Instance" in finding.message


def versioned(description: Any, *, level: Any = "INFO") -> dict[str, Any]:
    """A function behind an alias whose version's description is `description`, and a configuration version."""
    return {
        "Parameters": {"LogLevel": {"Type": "String", "Default": "INFO"}},
        "Resources": {
            "Function": {
                "Type": "AWS::Lambda::Function",
                "Properties": {"Environment": {"Variables": {"LOG_LEVEL": level}}},
            },
            "Configuration": {
                "Type": "AWS::AppConfig::HostedConfigurationVersion",
                "Properties": {"Content": {"Fn::Sub": "LogLevel=${LogLevel}"}, "ContentType": "text/plain"},
            },
            "Version": {
                "Type": "AWS::Lambda::Version",
                "Properties": {"FunctionName": {"Ref": "Function"}, "Description": description},
            },
            "Alias": {
                "Type": "AWS::Lambda::Alias",
                "Properties": {
                    "FunctionName": {"Ref": "Function"},
                    "FunctionVersion": {"Fn::GetAtt": ["Version", "Version"]},
                },
            },
        },
    }


def test_a_parameter_change_that_only_updates_the_function_leaves_live_where_it_was() -> None:
    template = versioned("static", level={"Ref": "LogLevel"})

    assert configuration_parameters(template, "Function") == {"LogLevel"}
    assert not alias_moves(Stack.of(template, {}), Stack.of(template, {"LogLevel": "DEBUG"}), "Function")


def test_a_description_that_follows_a_replaced_resource_publishes_a_new_version_and_moves_live() -> None:
    template = versioned({"Fn::Sub": "configuration ${Configuration.VersionNumber}"}, level={"Ref": "LogLevel"})
    before, after = Stack.of(template, {}), Stack.of(template, {"LogLevel": "DEBUG"})

    assert created_anew(before, after) == {"Configuration", "Version"}  # Content and Description are create-only
    assert alias_moves(Stack.of(template, {}), Stack.of(template, {"LogLevel": "DEBUG"}), "Function")
    assert not alias_moves(Stack.of(template, {}), Stack.of(template, {"LogLevel": "INFO"}), "Function")


def test_a_new_version_logical_id_moves_live() -> None:
    before = versioned("static")
    after = versioned("static")
    after["Resources"]["Version2"] = after["Resources"].pop("Version")
    after["Resources"]["Alias"]["Properties"]["FunctionVersion"] = {"Fn::GetAtt": ["Version2", "Version"]}

    assert alias_moves(Stack.of(before, {}), Stack.of(after, {}), "Function")


PARAMETERS = {
    "Parameters": {
        "Issuer": {"Type": "String", "Default": "", "AllowedPattern": "^(https://[^\\s]+)?$"},
        "Audience": {"Type": "String", "Default": ""},
        "Level": {"Type": "String", "Default": "INFO", "AllowedValues": ["INFO", "WARNING"]},
        "Days": {"Type": "Number", "Default": 30, "MinValue": 1},
    },
    "Rules": {
        "AudienceWithIssuer": {
            "RuleCondition": {"Fn::Not": [{"Fn::Equals": [{"Ref": "Issuer"}, ""]}]},
            "Assertions": [
                {"Assert": {"Fn::Not": [{"Fn::Equals": [{"Ref": "Audience"}, ""]}]}, "AssertDescription": "!"}
            ],
        }
    },
    "Mappings": {"Levels": {"WARNING": {"Lambda": "WARN"}, "INFO": {"Lambda": "INFO"}}},
}


def test_each_for_each_stands_for_its_entries_with_the_identifier_in_keys_strings_and_refs() -> None:
    loops = {
        "Fn::ForEach::Groups": [
            "Name",
            ["ApiFunction", "web-hook"],
            {
                "&{Name}Group": {
                    "Type": "AWS::Logs::LogGroup",
                    "Properties": {"LogGroupName": {"Fn::Sub": "/${AWS::StackName}/${Name}"}, "Tag": {"Ref": "Name"}},
                },
                "Fn::ForEach::Alarms": [
                    "Kind",
                    ["Errors"],
                    {
                        "&{Name}${Kind}": {"Ref": {"Fn::Sub": "&{Name}Group"}},
                        "&{Name}${Kind}Text": {"Fn::Sub": "${Kind}!"},
                    },
                ],
            },
        ],
        "Plain": {"Ref": "Name"},  # outside the loop the identifier is nothing
    }

    assert expand_for_each(loops) == {
        "ApiFunctionGroup": {
            "Type": "AWS::Logs::LogGroup",
            "Properties": {"LogGroupName": {"Fn::Sub": "/${AWS::StackName}/ApiFunction"}, "Tag": "ApiFunction"},
        },
        "ApiFunctionErrors": {"Ref": "ApiFunctionGroup"},
        "ApiFunctionErrorsText": "Errors!",
        "webhookGroup": {
            "Type": "AWS::Logs::LogGroup",
            "Properties": {"LogGroupName": {"Fn::Sub": "/${AWS::StackName}/web-hook"}, "Tag": "web-hook"},
        },
        "webhookErrors": {"Ref": "webhookGroup"},
        "webhookErrorsText": "Errors!",
        "Plain": {"Ref": "Name"},
    }
    with pytest.raises(ValueError, match="declared twice"):
        expand_for_each({"Fn::ForEach::Twice": ["X", ["a", "a"], {"Same": {}}]})


def test_to_json_string_resolves_what_the_transform_knows_and_leaves_the_rest_to_the_deployment() -> None:
    template: dict[str, Any] = {
        "Transform": ["AWS::LanguageExtensions", "AWS::Serverless-2016-10-31"],
        "Parameters": {"Level": {"Type": "String", "Default": "INFO"}, "On": {"Type": "String", "Default": "no"}},
        "Conditions": {"IsOn": {"Fn::Equals": [{"Ref": "On"}, "yes"]}},
        "Resources": {
            "Alarm": {"Type": "AWS::CloudWatch::Alarm", "Properties": {}},
            "Board": {
                "Type": "AWS::CloudWatch::Dashboard",
                "Properties": {
                    "DashboardBody": {
                        "Fn::ToJsonString": {
                            "level": {"Ref": "Level"},
                            "region": {"Fn::Sub": "${AWS::Region}"},
                            "text": "a literal ${x}",
                            "alarms": [
                                {"Fn::GetAtt": ["Alarm", "Arn"]},
                                {"Fn::If": ["IsOn", "on", {"Ref": "AWS::NoValue"}]},
                            ],
                            "stack": {"Fn::If": ["IsOn", "x", {"Ref": "AWS::StackName"}]},
                        }
                    }
                },
            },
        },
    }

    applied = apply(template, Stack.of(template, {"Level": "DEBUG"}))

    assert applied["Transform"] == ["AWS::Serverless-2016-10-31"]
    text, variables = applied["Resources"]["Board"]["Properties"]["DashboardBody"]["Fn::Sub"]
    assert variables == {"Value0": {"Fn::GetAtt": ["Alarm", "Arn"]}, "Value1": {"Ref": "AWS::StackName"}}
    assert text == (
        '{"level":"DEBUG","region":"us-east-1","text":"a literal ${!x}","alarms":["${Value0}"],"stack":"${Value1}"}'
    )
    body = Stack.of(applied, {}, name="prod").resolve(applied["Resources"]["Board"]["Properties"]["DashboardBody"])
    assert body == Stack.of(template, {"Level": "DEBUG"}, name="prod").resolve(
        template["Resources"]["Board"]["Properties"]["DashboardBody"]
    )
    plain = apply(template, Stack.of(template, {"On": "yes"}))["Resources"]["Board"]["Properties"]["DashboardBody"]
    assert "Fn::Sub" in plain  # the alarm's ARN is still the deployment's to fill in


@pytest.mark.parametrize(
    ("overrides", "refused"),
    [
        ({}, []),
        ({"Issuer": "https://id.example.com", "Audience": "app"}, []),
        ({"Issuer": "http://id.example.com", "Audience": "app"}, ["Issuer"]),
        ({"Issuer": "https://id.example.com"}, ["rule AudienceWithIssuer"]),
        ({"Level": "DEBUG"}, ["Level"]),
        ({"Days": "0"}, ["Days"]),
    ],
)
def test_parameters_cloudformation_would_refuse_are_found(overrides: dict[str, str], refused: list[str]) -> None:
    refusals = Stack.of(PARAMETERS, overrides).refused_parameters()

    assert [refusal.split(":")[0] for refusal in refusals] == refused


def test_values_resolve_as_cloudformation_resolves_them() -> None:
    stack = Stack.of(PARAMETERS, {"Level": "WARNING", "Audience": "a, b"}, name="prod")

    assert stack.resolve({"Fn::FindInMap": ["Levels", {"Ref": "Level"}, "Lambda"]}) == "WARN"
    assert stack.resolve({"Fn::Split": [",", {"Fn::Join": ["", {"Fn::Split": [" ", {"Ref": "Audience"}]}]}]}) == [
        "a",
        "b",
    ]
    assert stack.resolve({"Fn::Sub": ["${AWS::StackName}-${x}-${!Literal}", {"x": {"Ref": "Days"}}]}) == (
        "prod-30-${Literal}"
    )
    assert stack.resolve([{"Ref": "AWS::NoValue"}, {"Fn::Select": [1, ["a", "b"]]}]) == ["b"]
    with pytest.raises(Unresolvable):
        stack.resolve({"Fn::GetAZs": ""})


def test_the_rehearsal_deploys_every_parameter_set_the_docs_offer() -> None:
    sets = {case.name: case.parameters for case in matrix.CASES}
    template = load_template()

    assert sets["defaults"] == {}
    assert sets["snapstart"] == {"SnapStart": "true"}
    assert sets["gradual"]["DeploymentStrategy"] != "AllAtOnce"
    assert sets["snapstart-gradual"]["SnapStart"] == "true"
    assert sets["alarm-email"]["AlarmEmail"]
    assert not sets["bus-by-name"]["EventBusName"].startswith("arn:")
    assert sets["bus-by-arn"]["EventBusName"].startswith("arn:")
    assert {"JwtIssuer", "JwtAudience"} <= set(sets["own-issuer"])
    assert sets["x86-64"] == {"Architecture": "x86_64"}
    assert sets["reconciliation-off"] == {"ReconcileEnabled": "false"}
    for name, parameters in sets.items():
        assert set(parameters) <= set(template["Parameters"]), name
        assert Stack.of(template, parameters).refused_parameters() == [], name


@pytest.mark.parametrize("parameter", sorted(matrix.OTHER_VALUES))
def test_each_second_value_differs_from_the_default_and_cloudformation_accepts_it(parameter: str) -> None:
    template = load_template()
    overrides = {**matrix.COMPANIONS.get(parameter, {}), parameter: matrix.OTHER_VALUES[parameter]}

    assert str(template["Parameters"][parameter].get("Default")) != matrix.OTHER_VALUES[parameter]
    assert Stack.of(template, overrides).refused_parameters() == []


def test_the_name_check_knows_every_resource_type_the_templates_declare_directly() -> None:
    templates = [
        load_template(ROOT / name) for name in ("template.yaml", "notifications.yaml", "monitoring.yaml", "data.yaml")
    ]
    declared = {r["Type"] for template in templates for r in template["Resources"].values()}
    declared -= {"AWS::Serverless::Function"}
    declared -= {"AWS::Serverless::HttpApi"}  # transformed into AWS::ApiGatewayV2::Api and Stage, which it knows
    declared -= {"AWS::Serverless::Application"}  # transformed into AWS::CloudFormation::Stack, which it knows

    assert declared <= set(ACCOUNT_WIDE_NAMES)
