"""python -m tooling.rehearsal --checkov PATH [--template template.yaml] [--output DIR]: rehearse `sam deploy` for
every parameter set of tooling/rehearsal/matrix.py; prints every finding and exits 1 if there is any."""

import argparse
import json
import sys
import time
from collections import Counter
from importlib.metadata import version
from pathlib import Path
from typing import Any

from tooling.rehearsal import matrix
from tooling.rehearsal.cfn import Stack, Unresolvable
from tooling.rehearsal.checks import (
    Finding,
    alias_moves,
    configuration_parameters,
    cycle_findings,
    fixed_name_findings,
    functions_behind_aliases,
)
from tooling.rehearsal.sam import Transformed, load, transform
from tooling.rehearsal.scanners import start_cfn_lint, start_checkov

ROOT = Path(__file__).resolve().parents[2]
STACK_NAMES = ("terra-connect-staging", "terra-connect")
Findings = dict[str, list[Finding]]


def file_name(transformed: Transformed) -> str:
    return transformed.name.replace("/", "--") + ".json"


def rehearse_case(template_path: Path, case: matrix.Case, findings: Findings) -> list[Transformed]:
    """Transform one parameter set (with its nested templates) and run the in-process checks on each."""
    source = load(template_path)
    stack = Stack.of(source, case.parameters)
    unknown = sorted(set(case.parameters) - set(source.get("Parameters", {})))
    findings[case.name] = [Finding("parameters", f"no such parameter: {name}") for name in unknown]
    findings[case.name] += [Finding("parameters", refusal) for refusal in stack.refused_parameters()]
    try:
        transformed = transform(case.name, template_path, case.parameters)
    except Exception as error:  # any translator failure is this case's finding
        findings[case.name].append(Finding("transform", f"{type(error).__name__}: {error}"))
        return []
    for each in transformed:
        values = Stack.of(each.template, each.parameters).values
        findings.setdefault(each.name, [])
        findings[each.name] += cycle_findings(each.template)
        findings[each.name] += fixed_name_findings(each.template, values, STACK_NAMES)
    return transformed


def other_value(parameter: str, definition: dict[str, Any]) -> str | None:
    if parameter in matrix.OTHER_VALUES:
        return matrix.OTHER_VALUES[parameter]
    default = str(definition.get("Default"))
    return next((str(v) for v in definition.get("AllowedValues", []) if str(v) != default), None)


def rehearse_versions(template_path: Path, defaults: Transformed) -> tuple[Findings, int]:
    """Change each parameter a function behind an alias reads, one at a time: `live` must move every time."""
    findings: list[Finding] = []
    checked = 0
    before_values = Stack.of(defaults.template, defaults.parameters).values
    changed_templates: dict[str, Transformed] = {}  # one transform per parameter, whichever functions read it
    for function in sorted(functions_behind_aliases(defaults.template)):
        for parameter in sorted(configuration_parameters(defaults.template, function)):
            value = other_value(parameter, defaults.template["Parameters"][parameter])
            if value is None:
                findings.append(Finding("version", f"{parameter}: name a second value in tooling/rehearsal/matrix.py"))
                continue
            overrides = {**matrix.COMPANIONS.get(parameter, {}), parameter: value}
            if parameter not in changed_templates:
                changed_templates[parameter] = transform(f"version-{parameter}", template_path, overrides)[0]
            changed = changed_templates[parameter]
            before = Stack(defaults.template, dict(before_values))
            after = Stack.of(changed.template, overrides)
            checked += 1
            try:
                moves = alias_moves(before, after, function)
            except Unresolvable as error:
                findings.append(Finding("version", f"{function}, {parameter}: cannot tell ({error})"))
                continue
            if not moves:
                findings.append(
                    Finding("version", f"changing {parameter} publishes no new {function} version: live keeps the old")
                )
    return {"version": findings}, checked


def report(findings: Findings, transformed: list[Transformed], checked: int, seconds: float) -> int:
    kinds = Counter(finding.check for each in findings.values() for finding in each)
    print(  # noqa: T201
        f"Deploy rehearsal: {len(matrix.CASES)} parameter sets, {len(transformed)} templates after the transform "
        f"(samtranslator {version('aws-sam-translator')}, SAM CLI {version('aws-sam-cli')}); "
        f"{checked} parameter changes checked to reach live"
    )
    for name, each in findings.items():
        for finding in each:
            print(f"  {name}: {finding.check}: {finding.message}")  # noqa: T201
    total = sum(kinds.values())
    summary = ", ".join(f"{kind} {count}" for kind, count in sorted(kinds.items())) or "none"
    print(f"Findings: {total} ({summary}). Took {seconds:.1f} s.")  # noqa: T201
    return 1 if total else 0


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--template", type=Path, default=ROOT / "template.yaml")
    parser.add_argument("--output", type=Path, default=ROOT / ".aws-sam" / "rehearsal")
    parser.add_argument("--checkov", type=Path, required=True, help="the checkov executable")
    arguments = parser.parse_args(argv)
    started = time.monotonic()
    arguments.output.mkdir(parents=True, exist_ok=True)
    for stale in arguments.output.glob("*.json"):
        stale.unlink()
    findings: Findings = {}
    transformed: list[Transformed] = []
    for case in matrix.CASES:
        transformed += rehearse_case(arguments.template, case, findings)
    files = []
    for each in transformed:
        files.append(arguments.output / file_name(each))
        files[-1].write_text(json.dumps(each.template, indent=1))
    scans = [start_cfn_lint(files), start_checkov(arguments.checkov, arguments.output)] if files else []
    checked = 0
    defaults = next((each for each in transformed if each.name == "defaults"), None)
    if defaults is not None:
        version_findings, checked = rehearse_versions(arguments.template, defaults)
        findings.update(version_findings)
    names = {file_name(each): each.name for each in transformed}
    for scan in scans:
        for file, found in scan.findings().items():
            findings.setdefault(names.get(file, file), []).extend(found)
    return report(findings, transformed, checked, time.monotonic() - started)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
