"""cfn-lint and checkov over the transformed templates: one run of each over all of them, side by side.

cfn-lint runs with the serverless rules `make scan` uses. Every error counts, and every warning but W2001 (a
parameter nothing in the transformed template reads: the SAM transform itself consumed it, as it does
DeploymentStrategy). checkov runs over the folder. Scanner skips stay where `make scan` reads them, in each
resource's Metadata, which the transform carries over to the resources it generates.
"""

import json
import os
import subprocess
import sys
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from tooling.rehearsal.checks import Finding

# A parameter the transform consumed (it is resolved into the generated resources) is not unused.
ACCEPTED_CFN_LINT_RULES = frozenset({"W2001"})


@dataclass
class Scan:
    """A scanner started in the background; `findings()` waits for it and reads its report, per template file."""

    process: subprocess.Popen[bytes]
    tool: str

    def findings(self) -> dict[str, list[Finding]]:
        out, err = self.process.communicate()
        if self.tool == "cfn-lint":
            return _cfn_lint_findings(out, err, self.process.returncode)
        return _checkov_findings(out, err)


def start_cfn_lint(files: list[Path]) -> Scan:
    cfn_lint = Path(sys.executable).parent / "cfn-lint"
    command = [str(cfn_lint), *map(str, files), "--format", "json", "--append-rules", "cfn_lint_serverless.rules"]
    return Scan(subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE), "cfn-lint")  # noqa: S603 - fixed argv


def start_checkov(checkov: Path, folder: Path) -> Scan:
    # Offline: no policy download from the vendor, no update check.
    env = {**os.environ, "BC_SKIP_MAPPING": "TRUE", "CKV_SKIP_PACKAGE_UPDATE_CHECK": "true"}
    command = [str(checkov), "--quiet", "--compact", "--skip-download", "--framework", "cloudformation"]
    command += ["-o", "json", "-d", str(folder)]
    return Scan(subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env), "checkov")  # noqa: S603 - fixed argv


def _cfn_lint_findings(out: bytes, err: bytes, status: int) -> dict[str, list[Finding]]:
    # Its exit status is a bit mask of what it found (2 errors, 4 warnings, 8 informational); 1 is a crash.
    try:
        matches = json.loads(out)
    except json.JSONDecodeError:
        matches = None
    if not isinstance(matches, list) or status & 1:
        return {"*": [Finding("cfn-lint", f"did not run (status {status}): {err.decode()[-400:]}")]}
    found: dict[str, list[Finding]] = defaultdict(list)
    for match in matches:
        rule = match["Rule"]["Id"]
        if rule in ACCEPTED_CFN_LINT_RULES or match["Level"] == "Informational":
            continue
        where = "/".join(str(part) for part in match["Location"]["Path"][:2])
        found[Path(match["Filename"]).name].append(Finding("cfn-lint", f"{rule} {where}: {match['Message']}"))
    return found


def _checkov_findings(out: bytes, err: bytes) -> dict[str, list[Finding]]:
    try:
        reports = json.loads(out)
    except json.JSONDecodeError:
        return {"*": [Finding("checkov", f"did not run: {err.decode()[-400:]}")]}
    found: dict[str, list[Finding]] = defaultdict(list)
    for report in reports if isinstance(reports, list) else [reports]:
        if report.get("summary", {}).get("parsing_errors"):
            found["*"].append(Finding("checkov", f"could not parse {report['summary']['parsing_errors']} templates"))
        for check in report.get("results", {}).get("failed_checks", []):
            message = f"{check['check_id']} {check['resource']}: {check['check_name']}"
            found[Path(check["file_path"]).name].append(Finding("checkov", message))
    return found
