"""The generated part of docs/security.md: figures and both matrices, from the tests' own parameter lists.

python -m tests.docs.security_doc --write   (make docs)
"""

import argparse
import re
import sys
from typing import Any

import yaml
from tooling.template import ROOT, load_template

from tests.api.test_openapi import GENERATED_REQUESTS
from tests.api.test_webhooks import REJECTED
from tests.support.fault_matrix import FAULTS
from tests.support.hostile_inputs import HOSTILE_INPUTS

SECURITY_DOC = ROOT / "docs" / "security.md"
START = "<!-- generated: make docs -->"
END = "<!-- end of generated part -->"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _answer(status: int, code: str | None, retry_after: str | None) -> str:
    text = f"{status} `{code}`" if code else f"{status} (recovered)"
    return text + (f", Retry-After {retry_after}" if retry_after else "")


TEMPLATES = ("template.yaml", "notifications.yaml", "monitoring.yaml")


def _reason(text: str, check: str) -> str:
    """YAML drops comments, so a cfn-lint check's reason is read from its line (`- W1001 # reason`)."""
    found = re.search(rf"- {check} # (.+)", text)
    return found.group(1) if found else ""


def scanner_skips() -> list[tuple[str, str, str, str]]:
    """(tool, check, resource, reason) for every finding the templates skip, with the reason they give; a check
    .cfnlintrc.yaml skips (for every template) is skipped on each function."""
    skips: list[tuple[str, str, str, str]] = []
    for template in TEMPLATES:
        raw = (ROOT / template).read_text()
        where = "" if template == "template.yaml" else f"{template}: "
        for name, resource in load_template(ROOT / template)["Resources"].items():
            metadata: dict[str, Any] = resource.get("Metadata", {})
            for skip in metadata.get("checkov", {}).get("skip", []):
                skips.append(("checkov", skip["id"], f"{where}{name}", skip["comment"]))
            for check in metadata.get("cfn-lint", {}).get("config", {}).get("ignore_checks", []):
                own_lines = raw[raw.index(f"\n  {name}:\n") :]
                skips.append(("cfn-lint", check, f"{where}{name}", _reason(own_lines, check)))
    settings = (ROOT / ".cfnlintrc.yaml").read_text()
    functions = [name for name, r in load_template()["Resources"].items() if r["Type"] == "AWS::Serverless::Function"]
    for check in yaml.safe_load(settings).get("ignore_checks", []):
        skips += [("cfn-lint", check, f"{name} (.cfnlintrc.yaml)", _reason(settings, check)) for name in functions]
    return skips


def render() -> str:
    skips = scanner_skips()
    lines = [
        START,
        "",
        "## Figures",
        "",
        "| What | Count | Reproduce |",
        "|---|---|---|",
        f"| Hostile requests tried, each refused with its 4xx and no upstream call | {len(HOSTILE_INPUTS)} | "
        "`.venv/bin/python -m pytest tests/api/test_hostile_inputs.py` |",
        f"| Faults injected (Terra, Secrets Manager, DynamoDB), each mapped to its answer | {len(FAULTS)} | "
        "`.venv/bin/python -m pytest tests/api/test_fault_matrix.py` |",
        "| Requests generated from docs/openapi.json (valid and invalid), unexpected 500s: 0 | "
        f"{GENERATED_REQUESTS} | `.venv/bin/python -m pytest tests/api/test_openapi.py` |",
        f"| Forged or broken webhook signatures, each refused with 401 and nothing stored | {len(REJECTED)} | "
        "`.venv/bin/python -m pytest tests/api/test_webhooks.py` |",
        "| Tests that also sweep every log record for secrets | all of them | `make unit` |",
        f"| Scanner findings (cfn-lint serverless rules, checkov), all skipped with a reason below; open | "
        f"{len(skips)}; 0 | `make scan` |",
        "",
        "## Hostile-input matrix",
        "",
        "| Case | Category | Request | Answer |",
        "|---|---|---|---|",
        *(f"| `{c.id}` | {c.category} | {_cell(c.description)} | {c.status} `{c.code}` |" for c in HOSTILE_INPUTS),
        "",
        "## Fault matrix",
        "",
        "| Fault | Source | What happens | Answer | Terra attempts | Secret reads |",
        "|---|---|---|---|---|---|",
        *(
            f"| `{f.id}` | {f.source} | {_cell(f.description)} | {_answer(f.status, f.code, f.retry_after)} "
            f"| {f.terra_calls} | {f.secret_reads} |"
            for f in FAULTS
        ),
        "",
        "## Scanner findings skipped in the templates",
        "",
        "| Tool | Check | Resource | Why |",
        "|---|---|---|---|",
        *(f"| {tool} | {check} | {resource} | {_cell(reason)} |" for tool, check, resource, reason in skips),
        "",
        END,
    ]
    return "\n".join(lines)


def updated(document: str) -> str:
    before, _, rest = document.partition(START)
    _, _, after = rest.partition(END)
    return before + render() + after


def main() -> int:
    parser = argparse.ArgumentParser(description="Regenerate the tables in docs/security.md.")
    parser.add_argument("--write", action="store_true")
    document = SECURITY_DOC.read_text()
    if parser.parse_args().write:
        SECURITY_DOC.write_text(updated(document))
    else:
        sys.stdout.write(render())
    return 0


if __name__ == "__main__":
    sys.exit(main())
