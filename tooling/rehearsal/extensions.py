"""AWS::LanguageExtensions as CloudFormation applies it, before the SAM transform: each `Fn::ForEach` expanded,
each `Fn::ToJsonString` made the JSON text it stands for. Nothing else in the template is touched.

SAM CLI has a local pass of its own (`--language-extensions`, what `sam build` and `sam local invoke` use to find the
functions), but it also resolves what only a deployment knows: an `Fn::Sub` naming a resource becomes plain text
with the `${...}` left in it, and every `AWS::StackName` is "local". The deploy rehearsal must check what
CloudFormation receives, and local mode reads the template without the SAM CLI, so both expand the template here.
"""

import json
import re
from collections.abc import Mapping
from typing import Any

from tooling.rehearsal.cfn import NO_VALUE, Stack, Template, references

TRANSFORM = "AWS::LanguageExtensions"
FOR_EACH = "Fn::ForEach::"
# What only the deployment knows: a resource's id or attribute, and the stack's own name and id.
_DEPLOY_TIME = frozenset({"AWS::StackName", "AWS::StackId"})
# Marks where a deploy-time value goes while the text is made (a private-use character no template holds).
_MARK = "\ue000"


def uses_language_extensions(template: Mapping[str, Any]) -> bool:
    transform = template.get("Transform", [])
    return TRANSFORM in ([transform] if isinstance(transform, str) else transform)


def without_transform(template: Template) -> Template:
    """The template as the next transform sees it: AWS::LanguageExtensions no longer declared."""
    transform = template.get("Transform", [])
    remaining = [name for name in ([transform] if isinstance(transform, str) else transform) if name != TRANSFORM]
    rest = {key: value for key, value in template.items() if key != "Transform"}
    return {**rest, "Transform": remaining} if remaining else rest


def expand_for_each(value: Any) -> Any:
    """`value` with every `Fn::ForEach::<loop>` key replaced by the entries it stands for, loops within loops too."""
    if isinstance(value, list):
        return [expand_for_each(item) for item in value]
    if not isinstance(value, dict):
        return value
    expanded: dict[str, Any] = {}
    for key, item in value.items():
        if not key.startswith(FOR_EACH):
            expanded[key] = expand_for_each(item)
            continue
        identifier, collection, fragment = item
        if not isinstance(collection, list):
            raise TypeError(f"{key}: only a literal collection is supported, not {json.dumps(collection)}")
        for element in collection:
            for output_key, output in expand_for_each(_substitute(fragment, identifier, str(element))).items():
                if output_key in expanded:
                    raise ValueError(f"{key}: {output_key} is declared twice")
                expanded[output_key] = output
    return expanded


def _substitute(value: Any, identifier: str, element: str) -> Any:
    """`${identifier}` and `&{identifier}` (alphanumerics only) in every key and string, `Ref: identifier` itself;
    an `Fn::Sub` left with nothing to substitute is its text (a `Ref` or `Fn::GetAtt` may name its target so)."""
    if isinstance(value, str):
        return value.replace(f"${{{identifier}}}", element).replace(
            f"&{{{identifier}}}", re.sub(r"[^A-Za-z0-9]", "", element)
        )
    if isinstance(value, list):
        return [_substitute(item, identifier, element) for item in value]
    if not isinstance(value, dict):
        return value
    if value == {"Ref": identifier}:
        return element
    substituted = {_substitute(k, identifier, element): _substitute(v, identifier, element) for k, v in value.items()}
    text = substituted.get("Fn::Sub")
    if len(substituted) == 1 and isinstance(text, str) and "${" not in text:
        return text
    return substituted


def to_json_string(argument: Any, stack: Stack) -> Any:
    """`Fn::ToJsonString` as CloudFormation resolves it: parameters, conditions and mappings in place, and what only
    the deployment knows (a resource's id or attribute, the stack's name) left to an `Fn::Sub` around the text."""
    resources = stack.template.get("Resources", {})
    variables: dict[str, Any] = {}

    def settle(value: Any) -> Any:
        if isinstance(value, list):
            return [item for item in map(settle, value) if item is not NO_VALUE]
        if isinstance(value, str) and _MARK in value:
            raise ValueError(f"Fn::ToJsonString: {value!r} holds U+E000")
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            ((key, inner),) = value.items()
            if key == "Fn::If":
                return settle(inner[1] if stack.condition(str(inner[0])) else inner[2])
            if key == "Ref" or key.startswith("Fn::"):
                if {reference.target for reference in references(value, "")} & (set(resources) | _DEPLOY_TIME):
                    name = f"Value{len(variables)}"
                    variables[name] = value
                    return f"{_MARK}{name}{_MARK}"
                return stack.resolve(value)
        settled = {key: settle(item) for key, item in value.items()}
        return {key: item for key, item in settled.items() if item is not NO_VALUE}

    text = json.dumps(settle(argument), separators=(",", ":"))
    if not variables:
        return text
    # In the Fn::Sub, a literal ${ is written ${! ; each deploy-time value is one of its variables.
    text = text.replace("${", "${!")
    for name in variables:
        text = text.replace(json.dumps(f"{_MARK}{name}{_MARK}")[1:-1], f"${{{name}}}")
    return {"Fn::Sub": [text, variables]}


def apply(template: Template, stack: Stack) -> Template:
    """The template as AWS::LanguageExtensions hands it on, for the parameter values of `stack`."""
    expanded = expand_for_each(template)
    expanded_stack = Stack(expanded, stack.values, name=stack.name, region=stack.region, account=stack.account)

    def convert(value: Any) -> Any:
        if isinstance(value, list):
            return [convert(item) for item in value]
        if not isinstance(value, dict):
            return value
        if len(value) == 1 and "Fn::ToJsonString" in value:
            return to_json_string(value["Fn::ToJsonString"], expanded_stack)
        return {key: convert(item) for key, item in value.items()}

    sections = {key: convert(value) if key in {"Resources", "Outputs"} else value for key, value in expanded.items()}
    return without_transform(sections)
