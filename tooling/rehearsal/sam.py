"""The SAM transform `sam deploy` leaves to CloudFormation, run here with the translator the pinned SAM CLI ships.

AWS::LanguageExtensions first, as CloudFormation applies it (tooling/rehearsal/extensions.py), then the code
`sam validate` runs (samcli's SamTemplateValidator: local CodeUri paths replaced by an S3 location, then
samtranslator). A nested application or stack whose template is a local file (`Location: monitoring.yaml`, as
`sam package` uploads it) is transformed on its own, with the parameters its parent passes, so a template split into
several is rehearsed whole. Runs in the SAM CLI's virtualenv.
"""

import copy
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from samcli.lib.translate.sam_template_validator import SamTemplateValidator
from samcli.yamlhelper import yaml_parse

from tooling.rehearsal import extensions
from tooling.rehearsal.cfn import Stack, Template, Unresolvable

REGION = "us-east-1"
# The translator warns, for every template, about metrics it has no one to publish to and feature toggles it has no
# configuration for: neither is about the template.
logging.getLogger("samtranslator").setLevel(logging.ERROR)
NESTED = {"AWS::Serverless::Application": "Location", "AWS::CloudFormation::Stack": "TemplateURL"}


class _NoManagedPolicies:
    """The template names no AWS managed policy, so the translator never needs IAM's list of them."""

    def load(self) -> dict[str, str]:
        return {}


@dataclass(frozen=True)
class Transformed:
    """One template as CloudFormation receives it; `name` says which (the case, then any nested stack's path)."""

    name: str
    source: Template
    template: Template
    parameters: dict[str, str]


def load(path: Path) -> Template:
    document: Template = yaml_parse(path.read_text())
    return document


def transform(name: str, path: Path, parameters: dict[str, str]) -> list[Transformed]:
    """The template at `path` and every local nested template under it, transformed for these parameter values."""
    source = load(path)
    children = []
    parent_template = extensions.apply(copy.deepcopy(source), Stack.of(source, parameters))
    stack = Stack.of(parent_template, parameters)
    for logical_id, resource in parent_template["Resources"].items():
        location = resource.get("Properties", {}).get(NESTED.get(resource.get("Type", ""), ""))
        if not _is_local(location):
            continue
        if stack.exists(logical_id):  # a nested stack its Condition leaves out is not created, so not rehearsed
            child_parameters = _passed_parameters(stack, resource.get("Properties", {}).get("Parameters", {}))
            children += transform(f"{name}/{logical_id}", path.parent / str(location), child_parameters)
        parent_template["Resources"][logical_id]["Properties"][NESTED[resource["Type"]]] = (
            f"https://s3.{REGION}.amazonaws.com/rehearsal/{name}/{logical_id}.template"
        )
    validator = SamTemplateValidator(
        parent_template,
        _NoManagedPolicies(),
        region=REGION,
        parameter_overrides=parameters,
        language_extensions_enabled=False,
    )
    template: Template = yaml_parse(validator.get_translated_template_if_valid())
    return [Transformed(name, source, template, parameters), *children]


def _is_local(location: Any) -> bool:
    return isinstance(location, str) and not location.startswith(("s3://", "https://", "http://"))


def _passed_parameters(stack: Stack, passed: dict[str, Any]) -> dict[str, str]:
    """What a parent passes its nested stack: parameters and pseudo parameters resolved, a resource's id or
    attribute as the placeholder CloudFormation would fill in."""
    values = {}
    for key, value in passed.items():
        try:
            resolved = stack.resolve(value)
        except Unresolvable:
            resolved = f"resolved-at-deploy-{key}"
        values[key] = ",".join(map(str, resolved)) if isinstance(resolved, list) else str(resolved)
    return values
