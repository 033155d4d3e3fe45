"""make fuzz: schemathesis against the whole local stack over HTTP, then every method on every path.

The stack is `make dev`'s: the local gateway (real tokens, API Gateway's answers), the real handlers, moto and
the Terra simulator. Schemathesis runs every phase - examples, coverage, fuzzing, and stateful sequences that follow
the document's links (list -> disconnect, providers -> auth URL) - as a signed-in user with connections to find,
and signs webhook bodies as Terra would (local/fuzz_hooks.py) so they reach the parser.
Then every HTTP method goes to every documented path. The gateway counts what it answered: the run fails on any
5xx, or on fewer requests than `--min-requests`. The figures are written to docs/security.md.

    python -m local.fuzz --output docs/security.md
"""

import argparse
import contextlib
import json
import os
import re
import subprocess
import sys
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import requests
from tooling.template import ROOT

from local.dev import SIMULATOR_SIGNING_SECRET, DevStack, dev_stack
from local.fuzz_hooks import SECRET_VARIABLE
from local.terra_simulator import PROVIDERS

# Read as a file: importing tooling.openapi would import the handlers' modules before local mode sets their settings.
OPENAPI_FILE = ROOT / "docs" / "openapi.json"

METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "TRACE")
CHECKS = (
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_schema_conformance",
    "response_headers_conformance",
    "ignored_auth",
)
LOGS = ROOT / "build" / "fuzz"  # schemathesis.log (its whole report), functions.log (what the handlers logged)
START, END = "<!-- fuzz: written by make fuzz -->", "<!-- end of fuzz -->"


def seed_connections(stack: DevStack, username: str) -> None:
    """Connections for the fuzzing user, so that listing, syncing and disconnecting have something to find."""
    if stack.terra is None:
        raise RuntimeError("fuzzing needs the Terra simulator")
    reference_id = stack.identity.subject(username)
    for provider in PROVIDERS:
        stack.terra.connect(provider, reference_id)


def every_method_on_every_path(stack: DevStack, token: str) -> Counter[int]:
    """What API Gateway answers each HTTP method on each documented path (placeholders filled in)."""
    statuses: Counter[int] = Counter()
    paths = json.loads(OPENAPI_FILE.read_text())["paths"]
    with requests.Session() as session:
        for template in paths:
            path = re.sub(r"\{[a-z_]+\}", "GARMIN", template)
            for method in METHODS:
                for headers in ({}, {"Authorization": f"Bearer {token}"}):
                    answer = session.request(method, stack.api_url + path, headers=headers, timeout=30)
                    statuses[answer.status_code] += 1
    return statuses


def run(examples: int, seed: int) -> tuple[Counter[int], int, int]:
    """(statuses the gateway answered, schemathesis' exit code, test cases it reported)."""
    schemathesis = Path(sys.executable).parent / "schemathesis"
    environment = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join((str(ROOT), os.environ.get("PYTHONPATH", ""))),
        "SCHEMATHESIS_HOOKS": "local.fuzz_hooks",
        SECRET_VARIABLE: SIMULATOR_SIGNING_SECRET,
    }
    LOGS.mkdir(parents=True, exist_ok=True)
    console = sys.stdout
    # The handlers log to stdout, as in Lambda; thousands of requests' worth goes to a file instead of the console.
    with (
        (LOGS / "functions.log").open("w") as function_logs,
        contextlib.redirect_stdout(function_logs),
        # Backfills off: the seeded connections would otherwise each start one, whose stored data is not what this
        # run is about (the data read route is fuzzed all the same).
        dev_stack(0, quiet=True, parameters={"BackfillDays": "0"}) as stack,
    ):
        seed_connections(stack, "fuzz")
        token = stack.token("fuzz")
        completed = subprocess.run(  # noqa: S603 - fixed argv
            [
                str(schemathesis), "run", str(OPENAPI_FILE),
                "--url", stack.api_url,
                "--header", f"Authorization: Bearer {token}",
                "--phases", "examples,coverage,fuzzing,stateful",
                "--max-examples", str(examples),
                "--checks", ",".join(CHECKS),
                "--seed", str(seed),
                "--no-color",
            ],
            capture_output=True,
            text=True,
            check=False,
            cwd=ROOT,
            env=environment,
        )  # fmt: skip
        (LOGS / "schemathesis.log").write_text(completed.stdout + completed.stderr)
        console.write(completed.stdout[-3000:])
        every_method_on_every_path(stack, token)
        found = re.search(r"(\d+) generated", completed.stdout)
        return Counter(stack.gateway.answered), completed.returncode, int(found.group(1)) if found else 0


def render(statuses: Counter[int], cases: int, examples: int, seed: int) -> str:
    total = sum(statuses.values())
    server_errors = sum(count for status, count in statuses.items() if status >= 500)
    rows = "\n".join(f"| {status} | {count:,} |" for status, count in sorted(statuses.items()))
    return f"""{START}

## Fuzzing the running stack

Measured {datetime.now(UTC):%Y-%m-%d} with `make fuzz`, against `make dev`'s stack over HTTP (local gateway with
real tokens, the handlers, moto, the Terra simulator):

- schemathesis, every phase (examples, coverage, fuzzing, stateful sequences that follow the document's links),
  `--max-examples {examples} --seed {seed}`, as a signed-in user with connections, checking
  {", ".join(f"`{c}`" for c in CHECKS)};
- webhook bodies signed with the stack's secret unless the case's headers were generated invalid
  (local/fuzz_hooks.py), so generated events reach the parser and the registry;
- then every method on every path, with and without a token.

Counted at the local gateway: **{total:,} requests, {server_errors} answered 5xx**; schemathesis reported {cases:,} test
cases, all passed. CI runs the same (`make fuzz`) and fails on a 5xx, a failed check or fewer than 5,000 requests.

| Status | Requests |
|---|---|
{rows}

{END}"""


def write(output: Path, block: str) -> None:
    text = output.read_text()
    if START in text:
        text = text[: text.index(START)] + block + text[text.index(END) + len(END) :]
    else:
        text = text.rstrip("\n") + "\n\n" + block + "\n"
    output.write_text(text)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=470, help="schemathesis --max-examples per operation")
    parser.add_argument("--seed", type=int, default=20261124)
    parser.add_argument("--min-requests", type=int, default=5000)
    parser.add_argument("--output", type=Path, help="the document to write the figures into")
    args = parser.parse_args()
    statuses, exit_code, cases = run(args.examples, args.seed)
    total, server_errors = sum(statuses.values()), sum(c for s, c in statuses.items() if s >= 500)
    print(f"{total} requests, {server_errors} answered 5xx, schemathesis exit {exit_code}: {dict(statuses)}")  # noqa: T201
    if args.output:
        write(args.output, render(statuses, cases, args.examples, args.seed))
    if server_errors or total < args.min_requests or exit_code != 0:
        print(f"FAIL: need 0 answers 5xx, at least {args.min_requests} requests and a clean schemathesis run")  # noqa: T201
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
