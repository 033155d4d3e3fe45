"""template.yaml as plain data: CloudFormation's short tags become their long forms ({"Ref": ...}), and each
Fn::ForEach the entries it stands for (tooling/rehearsal/extensions.py)."""

import json
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from tooling.rehearsal.cfn import Stack
from tooling.rehearsal.extensions import expand_for_each

ROOT = Path(__file__).resolve().parent.parent


class _CloudFormationLoader(yaml.SafeLoader):
    pass


def _tag(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    name = "Ref" if suffix == "Ref" else f"Fn::{suffix}"
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
        if suffix == "GetAtt":
            value = value.split(".", 1)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
    return {name: value}


_CloudFormationLoader.add_multi_constructor("!", _tag)


@cache
def load_template(path: Path = ROOT / "template.yaml") -> dict[str, Any]:
    document: dict[str, Any] = expand_for_each(yaml.load(path.read_text(), Loader=_CloudFormationLoader))  # noqa: S506 - a SafeLoader
    return document


def resources_of_type(kind: str) -> dict[str, dict[str, Any]]:
    return {name: r for name, r in load_template()["Resources"].items() if r["Type"] == kind}


def function_environment(logical_id: str) -> set[str]:
    """Variable names the template gives a function: its own plus the Globals section's."""
    template = load_template()
    own = template["Resources"][logical_id]["Properties"].get("Environment", {}).get("Variables", {})
    shared = template.get("Globals", {}).get("Function", {}).get("Environment", {}).get("Variables", {})
    return set(own) | set(shared)


def nested_template(logical_id: str) -> dict[str, Any]:
    """The template of a nested stack template.yaml creates from a local file (`Location: data.yaml`)."""
    return load_template(ROOT / load_template()["Resources"][logical_id]["Properties"]["Location"])


def policy_statements(logical_id: str, *, nested: bool = True) -> list[Any]:
    """Every statement a function's role gets from the template: its own policies' and those of the managed
    policies it names, the stack's own (`- !Ref ReadTerraSecret`) or a nested stack's output
    (`- !GetAtt Data.Outputs.IngestDataPolicyArn`, left out when not `nested`: they resolve in that stack only),
    each as written (a conditional one as its Fn::If)."""
    resources = load_template()["Resources"]
    statements: list[Any] = []
    for policy in resources[logical_id]["Properties"].get("Policies", []):
        document = policy
        if set(policy) == {"Ref"}:
            document = resources[policy["Ref"]]["Properties"]["PolicyDocument"]
        elif set(policy) == {"Fn::GetAtt"}:
            if not nested:
                continue
            stack, output = policy["Fn::GetAtt"]
            child = nested_template(stack)
            name = child["Outputs"][output.removeprefix("Outputs.")]["Value"]["Ref"]
            document = child["Resources"][name]["Properties"]["PolicyDocument"]
        statements += document["Statement"]
    return statements


def undeclared_variables(env_file: Path) -> dict[str, set[str]]:
    """Variables an env-vars file sets that the template does not declare: `sam local invoke` drops them."""
    variables: dict[str, dict[str, str]] = json.loads(env_file.read_text())
    missing = {function: set(values) - function_environment(function) for function, values in variables.items()}
    return {function: names for function, names in missing.items() if names}


def authorization_scopes(*, own_user_pool: bool) -> frozenset[str]:
    """The scopes the HTTP API's default JWT authorizer requires, one of which a token must carry, as deployed with
    the stack's own user pool or with an issuer of the operator's (JwtIssuer)."""
    template = load_template()
    (api,) = resources_of_type("AWS::Serverless::HttpApi").values()
    auth = api["Properties"]["Auth"]
    authorizer = auth["Authorizers"][auth["DefaultAuthorizer"]]
    issuer = {} if own_user_pool else {"JwtIssuer": "https://issuer.example", "JwtAudience": "app"}
    return frozenset(Stack.of(template, issuer).resolve(authorizer.get("AuthorizationScopes", [])))
