"""make smoke: the folder `sam build` produced, run under the Lambda runtime interface, answers every event.

The function runs exactly as Lambda runs it: the Runtime Interface Emulator (shipped inside aws-sam-cli)
drives `python3.13 -m awslambdaric <Handler>` in the built folder, with a runtime virtualenv that holds only
awslambdaric and the SDK the python3.13 runtime provides, and only the variables events/env.json sets.
Secrets Manager is moto's server and Terra is the local simulator, both on 127.0.0.1, reached through the
function's ordinary configuration (TERRA_WIDGET_SESSION_URL, LOCAL_AWS_ENDPOINT_URL).
"""

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import requests

from offline.aws import FAKE_CREDENTIALS, REGION, create_connections_table, emulated_aws, seed_terra_secret
from offline.expectations import EVENTS, event_files, load_expectations, report
from offline.template import load_template, undeclared_variables
from offline.terra_simulator import TerraSimulator

DEV_ID = "smoke-dev-id"
API_KEY = "smoke-api-key"
SIGNING_SECRET = "smoke-signing-secret"  # noqa: S105 - a fake secret for the Terra stand-in
TABLE = "terra-connect-connections"
STARTUP_SECONDS = 20.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(port: int, process: subprocess.Popen[bytes], seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the emulator exited with status {process.returncode}")
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError(f"the emulator did not listen on port {port} within {seconds:.0f} s")


@contextmanager
def runtime_interface(
    *, rie: Path, python: Path, task_root: Path, handler: str, env: dict[str, str], log: Path
) -> Iterator[str]:
    """Start the RIE over `task_root`; yields the invocation URL; stops everything it started."""
    port = free_port()
    with log.open("wb") as log_file:
        process = subprocess.Popen(  # noqa: S603 - fixed argv, no shell
            [
                str(rie),
                "--runtime-interface-emulator-address",
                f"127.0.0.1:{port}",
                str(python),
                "-m",
                "awslambdaric",
                handler,
            ],
            cwd=task_root,
            env=env,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            wait_for_port(port, process, STARTUP_SECONDS)
            yield f"http://127.0.0.1:{port}/2015-03-31/functions/function/invocations"
        finally:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
                try:
                    process.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    os.killpg(process.pid, signal.SIGKILL)
                    process.wait()


def stand_in_settings(variables: dict[str, str], overrides: dict[str, str]) -> dict[str, str]:
    """events/env.json's variables for one function, with those pointing at AWS or Terra replaced."""
    return variables | {name: value for name, value in overrides.items() if name in variables}


def function_environment(function: str, overrides: dict[str, str]) -> dict[str, str]:
    """events/env.json's variables for the function, pointed at the local stand-ins, plus what Lambda provides."""
    variables = stand_in_settings(json.loads((EVENTS / "env.json").read_text())[function], overrides)
    properties = load_template()["Resources"][function]["Properties"]
    timeout = properties.get("Timeout", load_template()["Globals"]["Function"]["Timeout"])
    return {
        **variables,
        **FAKE_CREDENTIALS,
        "AWS_REGION": REGION,
        "AWS_DEFAULT_REGION": REGION,
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "LANG": "C.UTF-8",
        "AWS_LAMBDA_FUNCTION_TIMEOUT": str(timeout),
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(load_template()["Globals"]["Function"]["MemorySize"]),
        "AWS_LAMBDA_FUNCTION_NAME": function,
    }


def run(build_dir: Path, runtime_python: Path, rie: Path, log_dir: Path) -> int:
    problems = undeclared_variables(EVENTS / "env.json")
    if problems:
        print(f"events/env.json sets variables the template does not declare: {problems}")  # noqa: T201
        return 1
    if event_files() != {e.event for e in load_expectations()}:
        print("every file in events/ needs an entry in events/expected.json")  # noqa: T201
        return 1
    resources = load_template(build_dir / "template.yaml")["Resources"]
    results: list[tuple[str, str | None]] = []
    log_dir.mkdir(parents=True, exist_ok=True)
    with TerraSimulator(dev_id=DEV_ID, api_key=API_KEY) as terra, emulated_aws() as aws:
        secret = {"dev_id": DEV_ID, "api_key": API_KEY, "webhook_signing_secret": SIGNING_SECRET}
        create_connections_table(aws.endpoint, TABLE)
        overrides = {
            "TERRA_SECRET_ARN": seed_terra_secret(aws.endpoint, secret),
            "TERRA_WIDGET_SESSION_URL": terra.widget_session_url,
            "TERRA_API_BASE_URL": terra.api_base_url,
            "CONNECTIONS_TABLE": TABLE,
            "LOCAL_AWS_ENDPOINT_URL": aws.endpoint,
        }
        for function in sorted({e.function for e in load_expectations()}):
            properties = resources[function]["Properties"]
            env = function_environment(function, overrides)
            log = log_dir / f"{function}.log"
            with runtime_interface(
                rie=rie,
                python=runtime_python,
                task_root=build_dir / properties["CodeUri"],
                handler=properties["Handler"],
                env=env,
                log=log,
            ) as url:
                for expectation in load_expectations(function):
                    event = expectation.load(SIGNING_SECRET)
                    answer = requests.post(url, json=event, timeout=60).json()
                    results.append((expectation.event, expectation.check(answer, terra.base_url)))
            if any(failure for _, failure in results):
                print(f"--- {log} ---\n{log.read_text()[-4000:]}")  # noqa: T201
    return 1 if report(results) else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--build-dir", type=Path, required=True, help="output folder of `sam build`")
    parser.add_argument("--runtime-python", type=Path, required=True, help="python of the runtime virtualenv")
    parser.add_argument("--rie", type=Path, required=True, help="aws-lambda-rie binary")
    parser.add_argument("--log-dir", type=Path, default=Path(".aws-sam/smoke-logs"))
    args = parser.parse_args()
    return run(args.build_dir.resolve(), args.runtime_python.absolute(), args.rie.resolve(), args.log_dir)


if __name__ == "__main__":
    sys.exit(main())
