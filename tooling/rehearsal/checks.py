"""What only a deployment would otherwise show, read from the template CloudFormation receives.

- cycles: CloudFormation refuses a template whose resources depend on each other in a loop, counting every Ref,
  Fn::GetAtt, Fn::Sub, DependsOn and Condition, in properties and in UpdatePolicy alike;
- fixed names: a physical name that does not change with the stack's name makes a second stack in the same account
  and region fail on it;
- unpublished configuration: a parameter change that leaves the function's published version in place never
  reaches `live`, since the alias keeps pointing at the old version.
"""

import json
from collections import defaultdict, deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from tooling.rehearsal.cfn import Reference, Stack, Template, Unresolvable, parameters_read, resource_references


@dataclass(frozen=True)
class Finding:
    check: str
    message: str


@dataclass(frozen=True)
class Edge:
    source: str
    target: str
    label: str


# --- cycles ---------------------------------------------------------------------------------------------------


def dependency_edges(template: Template) -> list[Edge]:
    """Every dependency CloudFormation orders creation by: resource -> resource, resource -> condition (its
    Condition, an Fn::If's), condition -> condition. Parameters cannot depend on anything, so they are left out."""
    resources_ = template.get("Resources", {})
    conditions = template.get("Conditions", {})

    def node(reference: Reference) -> str | None:
        if reference.kind in {"If", "Condition"}:
            return f"Condition {reference.target}" if reference.target in conditions else None
        return reference.target if reference.target in resources_ else None

    edges = []
    for name, resource in resources_.items():
        for reference in resource_references(resource):
            target = node(reference)
            if target is not None:
                edges.append(Edge(name, target, f"{reference.kind} in {reference.where}"))
    for name, definition in conditions.items():
        for reference in resource_references({"Properties": definition}):
            target = node(reference)
            if target is not None:
                edges.append(Edge(f"Condition {name}", target, reference.kind))
    return edges


def cycles(template: Template) -> list[list[Edge]]:
    """Each dependency loop once: the shortest loop through every resource or condition that is on one."""
    outgoing: dict[str, list[Edge]] = defaultdict(list)
    for edge in dependency_edges(template):
        outgoing[edge.source].append(edge)
    found: dict[frozenset[str], list[Edge]] = {}
    for start in sorted(outgoing):
        loop = _shortest_loop(start, outgoing)
        if loop:
            found.setdefault(frozenset(edge.source for edge in loop), loop)
    return list(found.values())


def _shortest_loop(start: str, outgoing: Mapping[str, list[Edge]]) -> list[Edge]:
    came_by: dict[str, Edge] = {}
    queue = deque([start])
    while queue:
        node = queue.popleft()
        for edge in outgoing.get(node, []):
            if edge.target == start:
                path = [edge]
                while path[0].source != start:
                    path.insert(0, came_by[path[0].source])
                return path
            if edge.target not in came_by:
                came_by[edge.target] = edge
                queue.append(edge.target)
    return []


def describe_loop(loop: list[Edge]) -> str:
    steps = [loop[0].source] + [f"-({edge.label})-> {edge.target}" for edge in loop]
    return " ".join(steps)


def cycle_findings(template: Template) -> list[Finding]:
    return [Finding("cycle", describe_loop(loop)) for loop in cycles(template)]


# --- physical names -------------------------------------------------------------------------------------------

# The properties that name a resource in the whole account and region (IAM roles: the whole account). A name that
# is unique only within a parent (an alias within its function, a stage within its API) cannot collide between
# stacks, since the parents differ; those types list nothing. A type missing here is a finding: classify it.
ACCOUNT_WIDE_NAMES: dict[str, tuple[str, ...]] = {
    "AWS::ApiGatewayV2::Api": ("Name",),
    "AWS::ApiGatewayV2::Stage": (),
    "AWS::AppConfig::Application": ("Name",),
    "AWS::AppConfig::ConfigurationProfile": (),
    "AWS::AppConfig::HostedConfigurationVersion": (),
    "AWS::Athena::NamedQuery": (),  # names need not be unique: each query has its own id
    "AWS::Athena::WorkGroup": ("Name",),
    "AWS::CloudFormation::Stack": (),  # a nested stack's own template is rehearsed on its own
    "AWS::CloudWatch::Alarm": ("AlarmName",),
    "AWS::CloudWatch::Dashboard": ("DashboardName",),
    "AWS::CodeDeploy::Application": ("ApplicationName",),
    "AWS::CodeDeploy::DeploymentGroup": (),
    "AWS::Cognito::UserPool": ("UserPoolName",),
    "AWS::Cognito::UserPoolClient": (),
    "AWS::Cognito::UserPoolDomain": ("Domain",),
    "AWS::Cognito::UserPoolResourceServer": (),
    "AWS::DynamoDB::Table": ("TableName",),
    "AWS::Events::EventBus": ("Name",),
    "AWS::Events::Rule": ("Name",),
    "AWS::Glue::Database": ("DatabaseInput",),  # its Name, in the account's catalog
    "AWS::Glue::Table": (),  # named within its database
    "AWS::IAM::ManagedPolicy": ("ManagedPolicyName",),
    "AWS::IAM::Policy": (),
    "AWS::IAM::Role": ("RoleName",),
    "AWS::KMS::Alias": ("AliasName",),
    "AWS::KMS::Key": (),
    "AWS::Lambda::Alias": (),
    "AWS::Lambda::EventSourceMapping": (),
    "AWS::Lambda::Function": ("FunctionName",),
    "AWS::Lambda::Permission": (),
    "AWS::Lambda::Version": (),
    "AWS::S3::Bucket": ("BucketName",),
    "AWS::S3::BucketPolicy": (),
    "AWS::Logs::LogGroup": ("LogGroupName",),
    "AWS::Scheduler::Schedule": ("Name",),
    "AWS::Scheduler::ScheduleGroup": ("Name",),
    "AWS::SecretsManager::Secret": ("Name",),
    "AWS::SNS::Subscription": (),
    "AWS::SNS::Topic": ("TopicName",),
    "AWS::SNS::TopicPolicy": (),
    "AWS::SQS::Queue": ("QueueName",),
    "AWS::SQS::QueuePolicy": (),
}


def fixed_name_findings(template: Template, values: Mapping[str, str], stack_names: tuple[str, str]) -> list[Finding]:
    """Names that come out the same for two stacks of this template in one account and region."""
    first, second = (Stack(template, dict(values), name=name) for name in stack_names)
    findings = []
    for logical_id, resource in template.get("Resources", {}).items():
        kind = resource["Type"]
        if kind not in ACCOUNT_WIDE_NAMES:
            findings.append(Finding("fixed name", f"{logical_id} ({kind}): which property names it in the account?"))
            continue
        if not first.exists(logical_id):
            continue
        for prop in ACCOUNT_WIDE_NAMES[kind]:
            if prop not in resource.get("Properties", {}):
                continue
            raw = resource["Properties"][prop]
            names = first.resolve(raw), second.resolve(raw)
            if names[0] == names[1]:
                findings.append(Finding("fixed name", f"{logical_id}.{prop} is {names[0]!r} in every stack"))
    return findings


# --- configuration changes and the published version --------------------------------------------------------


@cache
def create_only_properties(resource_type: str) -> tuple[tuple[str, ...], ...]:
    """Properties whose change makes CloudFormation replace the resource, from the resource schemas cfn-lint ships."""
    schemas = resources.files("cfnlint") / "data" / "schemas"
    providers = json.loads((schemas / "providers" / "us-east-1.json").read_text())
    if resource_type not in providers:
        return ()
    schema = json.loads((schemas / "resources" / f"{providers[resource_type]}.json").read_text())
    return tuple(tuple(path.removeprefix("/properties/").split("/")) for path in schema.get("createOnlyProperties", []))


def _value_at(stack: Stack, properties: Mapping[str, Any], path: tuple[str, ...]) -> Any:
    if path[0] not in properties:
        return None
    value = stack.resolve(properties[path[0]])
    for key in path[1:]:
        value = value.get(key) if isinstance(value, dict) else None
    return value


def created_anew(
    before: Stack,
    after: Stack,
    create_only: Callable[[str], Iterable[tuple[str, ...]]] = create_only_properties,
) -> set[str]:
    """The resources an update from `before` to `after` creates: new logical ids, and resources replaced because
    a create-only property changes - including through the id or attribute of a resource that is itself new."""
    old = before.template["Resources"]
    new = after.template["Resources"]
    present = [name for name in new if after.exists(name)]
    fresh = {
        name for name in present if name not in old or old[name]["Type"] != new[name]["Type"] or not before.exists(name)
    }
    changed = True
    while changed:
        changed = False
        after.generations = dict.fromkeys(fresh, 1)
        for name in present:
            if name in fresh:
                continue
            for path in create_only(new[name]["Type"]):
                try:
                    was = _value_at(before, old[name].get("Properties", {}), path)
                    now = _value_at(after, new[name].get("Properties", {}), path)
                except Unresolvable:
                    continue
                if was != now:
                    fresh.add(name)
                    changed = True
                    break
    return fresh


def functions_behind_aliases(template: Template) -> dict[str, str]:
    """Function logical id -> the logical id of the alias that serves its traffic."""
    return {
        resource["Properties"]["FunctionName"]["Ref"]: name
        for name, resource in template.get("Resources", {}).items()
        if resource["Type"] == "AWS::Lambda::Alias" and "Ref" in resource["Properties"].get("FunctionName", {})
    }


def configuration_parameters(template: Template, function: str) -> set[str]:
    """The parameters the function's configuration (environment, logging, architecture, SnapStart...) reads."""
    return parameters_read(template, template["Resources"][function].get("Properties", {}))


def alias_moves(before: Stack, after: Stack, function: str) -> bool:
    """Whether the update publishes a new version of `function` and points its alias at it."""
    alias = functions_behind_aliases(after.template)[function]
    fresh = created_anew(before, after)
    after.generations = dict.fromkeys(fresh, 1)
    was, now = (
        stack.resolve(stack.template["Resources"][alias]["Properties"]["FunctionVersion"]) for stack in (before, after)
    )
    return bool(was != now)
