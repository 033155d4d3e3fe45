"""CloudFormation's reading of a template: what each part refers to, and what a value becomes in a given stack.

Only what the rehearsal's checks need: the intrinsic functions CloudFormation resolves at deploy time (Ref,
Fn::GetAtt, Fn::Sub, Fn::Join, Fn::Select, Fn::Split, Fn::If, Fn::FindInMap, Fn::Base64, and Fn::ToJsonString of
AWS::LanguageExtensions), the condition and rule
functions, and parameter constraints. A resource's physical id and attributes are placeholders that name the stack
and the resource's generation, which is all a check needs to tell two stacks, or two deployments, apart.
"""

import json
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

Template = dict[str, Any]
PSEUDO_PARAMETERS = frozenset(
    {
        "AWS::AccountId",
        "AWS::NotificationARNs",
        "AWS::NoValue",
        "AWS::Partition",
        "AWS::Region",
        "AWS::StackId",
        "AWS::StackName",
        "AWS::URLSuffix",
    }
)
# ${Name} or ${Name.Attribute} in an Fn::Sub string; ${!Literal} is an escaped literal.
_SUB_VARIABLE = re.compile(r"\$\{(?!!)([^}]+)\}")


class Unresolvable(Exception):
    """A value CloudFormation resolves only at deploy time from something the rehearsal does not have."""


class _NoValue:
    """AWS::NoValue: removes the property or list item it stands in."""


NO_VALUE = _NoValue()


@dataclass(frozen=True)
class Reference:
    """One name a template part refers to: `kind` is the intrinsic (Ref, GetAtt, Sub, If, Condition)."""

    target: str
    kind: str
    where: str


def sub_variables(argument: Any) -> tuple[str, dict[str, Any]]:
    """An Fn::Sub's string and its own variables (the long form's map)."""
    if isinstance(argument, str):
        return argument, {}
    text, variables = argument
    return str(text), dict(variables)


def references(value: Any, where: str) -> Iterator[Reference]:
    """Every name `value` refers to through an intrinsic function, with the path where it does."""
    if isinstance(value, list):
        for item in value:
            yield from references(item, where)
    elif isinstance(value, dict):
        if len(value) == 1:
            ((key, argument),) = value.items()
            found = _intrinsic_references(key, argument, where)
            if found is not None:
                yield from found
                return
        for key, item in value.items():
            yield from references(item, f"{where}.{key}")


def _intrinsic_references(key: str, argument: Any, where: str) -> list[Reference] | None:
    """What one intrinsic function refers to, or None when `key` is not one that refers to names."""
    if key == "Ref" and isinstance(argument, str):
        return [Reference(argument, "Ref", where)]
    if key == "Condition" and isinstance(argument, str):
        return [Reference(argument, "Condition", where)]
    if key == "Fn::GetAtt":
        target = argument.split(".", 1)[0] if isinstance(argument, str) else argument[0]
        nested = list(references(argument[1:], where)) if isinstance(argument, list) else []
        return [Reference(str(target), "GetAtt", where), *nested]
    if key == "Fn::If":
        return [Reference(str(argument[0]), "If", where), *references(argument[1:], where)]
    if key == "Fn::Sub":
        text, variables = sub_variables(argument)
        named = [name.split(".", 1)[0] for name in _SUB_VARIABLE.findall(text) if name not in variables]
        return [Reference(base, "Sub", where) for base in named if base not in variables] + list(
            references(variables, where)
        )
    return None


def resource_references(resource: Mapping[str, Any]) -> Iterator[Reference]:
    """What a resource depends on: its properties, update and creation policies, DependsOn and Condition."""
    for section in ("Properties", "UpdatePolicy", "CreationPolicy"):
        yield from references(resource.get(section), section)
    depends_on = resource.get("DependsOn", [])
    for target in [depends_on] if isinstance(depends_on, str) else depends_on:
        yield Reference(target, "DependsOn", "DependsOn")
    if "Condition" in resource:
        yield Reference(str(resource["Condition"]), "Condition", "Condition")


def parameters_read(template: Template, value: Any) -> set[str]:
    """The template parameters `value` depends on, directly or through the conditions its Fn::If names."""
    parameters = template.get("Parameters", {})
    conditions = template.get("Conditions", {})
    found: set[str] = set()
    pending = [value]
    seen_conditions: set[str] = set()
    while pending:
        for reference in references(pending.pop(), ""):
            if reference.target in parameters:
                found.add(reference.target)
            elif reference.kind in {"If", "Condition"} and reference.target not in seen_conditions:
                seen_conditions.add(reference.target)
                pending.append(conditions.get(reference.target))
    return found


def default_physical(stack: str, logical_id: str, attribute: str | None, generation: int) -> str:
    """A placeholder physical id (or attribute): CloudFormation names what it creates after the stack."""
    suffix = f"/{attribute}" if attribute else ""
    return f"{stack}-{logical_id}-generation{generation}{suffix}"


@dataclass
class Stack:
    """One deployment of a template: its parameter values (defaults filled in) and pseudo parameters."""

    template: Template
    values: dict[str, str]
    name: str = "terra-connect"
    region: str = "us-east-1"
    account: str = "123456789012"
    generations: dict[str, int] = field(default_factory=dict)

    @classmethod
    def of(cls, template: Template, overrides: Mapping[str, str], **pseudo: Any) -> "Stack":
        values = {
            name: str(overrides[name]) if name in overrides else _default(parameter)
            for name, parameter in template.get("Parameters", {}).items()
        }
        return cls(template, values, **pseudo)

    def physical(self, logical_id: str, attribute: str | None = None) -> str:
        return default_physical(self.name, logical_id, attribute, self.generations.get(logical_id, 0))

    def condition(self, name: str) -> bool:
        definition = self.template.get("Conditions", {}).get(name)
        if definition is None:
            raise Unresolvable(f"no condition {name}")
        return self.truth(definition)

    def exists(self, logical_id: str) -> bool:
        """Whether the resource is created in this stack (its Condition holds, or it has none)."""
        condition = self.template["Resources"][logical_id].get("Condition")
        return condition is None or self.condition(str(condition))

    def truth(self, value: Any) -> bool:
        """A condition or rule function's value."""
        if isinstance(value, bool):
            return value
        if not (isinstance(value, dict) and len(value) == 1):
            raise Unresolvable(f"not a condition: {json.dumps(value)[:80]}")
        ((key, argument),) = value.items()
        functions: dict[str, Callable[[Any], bool]] = {
            "Condition": lambda a: self.condition(str(a)),
            "Fn::Equals": lambda a: _text(self.resolve(a[0])) == _text(self.resolve(a[1])),
            "Fn::Not": lambda a: not self.truth(a[0]),
            "Fn::And": lambda a: all(self.truth(item) for item in a),
            "Fn::Or": lambda a: any(self.truth(item) for item in a),
            "Fn::Contains": lambda a: _text(self.resolve(a[1])) in [_text(m) for m in self.resolve(a[0])],
        }
        if key not in functions:
            raise Unresolvable(f"condition function {key}")
        return functions[key](argument)

    def resolve(self, value: Any) -> Any:
        """`value` as CloudFormation passes it to the resource: every intrinsic function evaluated."""
        if isinstance(value, list):
            items = [self.resolve(item) for item in value]
            return [item for item in items if item is not NO_VALUE]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            ((key, argument),) = value.items()
            function = self._functions().get(key)
            if function is not None:
                return function(argument)
            if key.startswith("Fn::"):
                raise Unresolvable(f"intrinsic function {key}")
        resolved = {key: self.resolve(item) for key, item in value.items()}
        return {key: item for key, item in resolved.items() if item is not NO_VALUE}

    def _functions(self) -> dict[str, Callable[[Any], Any]]:
        return {
            "Ref": self._ref,
            "Fn::GetAtt": self._get_att,
            "Fn::Sub": self._sub,
            "Fn::Join": lambda a: _text(self.resolve(a[0])).join(_text(i) for i in self.resolve(a[1])),
            "Fn::Select": lambda a: self.resolve(a[1])[int(self.resolve(a[0]))],
            "Fn::Split": lambda a: _text(self.resolve(a[1])).split(_text(self.resolve(a[0]))),
            "Fn::If": lambda a: self.resolve(a[1] if self.condition(str(a[0])) else a[2]),
            "Fn::FindInMap": self._find_in_map,
            "Fn::Base64": lambda a: _text(self.resolve(a)),
            "Fn::ToJsonString": lambda a: json.dumps(self.resolve(a), separators=(",", ":")),
        }

    def _ref(self, name: str) -> Any:
        pseudo = {
            "AWS::NoValue": NO_VALUE,
            "AWS::StackName": self.name,
            "AWS::Region": self.region,
            "AWS::AccountId": self.account,
            "AWS::Partition": "aws",
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::StackId": f"arn:aws:cloudformation:{self.region}:{self.account}:stack/{self.name}/id-of-{self.name}",
            "AWS::NotificationARNs": [],
        }
        if name in pseudo:
            return pseudo[name]
        parameter = self.template.get("Parameters", {}).get(name)
        if parameter is not None:
            value = self.values[name]
            return value.split(",") if "List" in str(parameter.get("Type")) else value
        if name in self.template.get("Resources", {}):
            return self.physical(name)
        raise Unresolvable(f"Ref to unknown {name}")

    def _get_att(self, argument: Any) -> str:
        logical_id, attribute = argument.split(".", 1) if isinstance(argument, str) else argument
        if logical_id not in self.template.get("Resources", {}):
            raise Unresolvable(f"GetAtt of unknown {logical_id}")
        return self.physical(str(logical_id), _text(self.resolve(attribute)))

    def _sub(self, argument: Any) -> str:
        text, variables = sub_variables(argument)
        local = {name: self.resolve(item) for name, item in variables.items()}

        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name in local:
                return _text(local[name])
            if "." in name and name.split(".", 1)[0] in self.template.get("Resources", {}):
                return self._get_att(name)
            return _text(self._ref(name))

        return _SUB_VARIABLE.sub(replace, text).replace("${!", "${")

    def _find_in_map(self, argument: Any) -> Any:
        top, second, third = (_text(self.resolve(item)) for item in argument[:3])
        try:
            return self.template["Mappings"][top][second][third]
        except KeyError:
            raise Unresolvable(f"no mapping {top}/{second}/{third}") from None

    def refused_parameters(self) -> list[str]:
        """Why CloudFormation would refuse these parameter values (constraints and Rules), or nothing."""
        refusals = [
            f"{name}: {why}"
            for name, parameter in self.template.get("Parameters", {}).items()
            for why in _constraint_failures(parameter, self.values[name])
        ]
        for name, rule in self.template.get("Rules", {}).items():
            if "RuleCondition" in rule and not self.truth(rule["RuleCondition"]):
                continue
            refusals += [
                f"rule {name}: {assertion.get('AssertDescription', 'assertion fails')}"
                for assertion in rule.get("Assertions", [])
                if not self.truth(assertion["Assert"])
            ]
        return refusals


def _default(parameter: Mapping[str, Any]) -> str:
    if "Default" not in parameter:
        raise Unresolvable("a parameter without a default needs a value")
    return str(parameter["Default"])


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        raise Unresolvable(f"a string was expected: {json.dumps(value)[:80]}")
    return str(value)


def _constraint_failures(parameter: Mapping[str, Any], value: str) -> list[str]:
    failures = []
    if "AllowedValues" in parameter and value not in [_text(v) for v in parameter["AllowedValues"]]:
        failures.append(f"{value!r} is not one of AllowedValues")
    if "AllowedPattern" in parameter and not re.fullmatch(parameter["AllowedPattern"], value):
        failures.append(f"{value!r} does not match AllowedPattern")
    if len(value) < int(parameter.get("MinLength", 0)) or len(value) > int(parameter.get("MaxLength", 1 << 20)):
        failures.append(f"{value!r} is outside MinLength/MaxLength")
    if parameter.get("Type") == "Number":
        try:
            number = float(value)
        except ValueError:
            return [*failures, f"{value!r} is not a number"]
        if number < float(parameter.get("MinValue", "-inf")) or number > float(parameter.get("MaxValue", "inf")):
            failures.append(f"{value!r} is outside MinValue/MaxValue")
    return failures
