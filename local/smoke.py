"""make smoke: the folder `sam build` produced, run under the Lambda runtime interface, answers every event.

The function runs exactly as Lambda runs it: the Runtime Interface Emulator (shipped inside aws-sam-cli)
drives `python3.13 -m awslambdaric <Handler>` in the built folder, with a runtime virtualenv that holds only
awslambdaric and the SDK the python3.13 runtime provides, and only the variables events/env.json sets.
Secrets Manager is moto's server and Terra is the local simulator, both on 127.0.0.1, reached through the
function's ordinary configuration (TERRA_WIDGET_SESSION_URL, LOCAL_AWS_ENDPOINT_URL).

A function with a `SnapStart` property in the template runs a second time, initialised the way SnapStart
initialises it (local/snapstart_runtime.py: `AWS_LAMBDA_INITIALIZATION_TYPE=snap-start`, a `restore/next`
that the emulator lacks). That pass also checks what a snapshot would hold: no GetSecretValue before it, the
before-snapshot hook logged before it and the after-restore hook after it.
"""

import argparse
import json
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import requests
from tooling.template import load_template, undeclared_variables

from local.aws import CONNECTIONS_TABLE, FAKE_CREDENTIALS, REGION, create_stack_resources, emulated_aws
from local.expectations import EVENTS, event_files, load_expectations, report
from local.processes import stop_process_group
from local.terra_simulator import TerraSimulator

DEV_ID = "smoke-dev-id"
API_KEY = "smoke-api-key"
SIGNING_SECRET = "smoke-signing-secret"  # noqa: S105 - a fake secret for the Terra stand-in
STARTUP_SECONDS = 20.0
GET_SECRET = "secretsmanager.GetSecretValue"  # noqa: S105 - an API operation name
SNAPSTART_RUNTIME = Path(__file__).resolve().parent / "snapstart_runtime.py"
BEFORE_SNAPSHOT_LOG = "Before snapshot: caches emptied, connections closed"
AFTER_RESTORE_LOG = "Restored from a snapshot: random generator reseeded"


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
    *,
    rie: Path,
    python: Path,
    task_root: Path,
    handler: str,
    env: dict[str, str],
    log: Path,
    snapstart_checkpoint: str | None = None,
) -> Iterator[str]:
    """Start the RIE over `task_root`; yields the invocation URL; stops everything it started.

    With `snapstart_checkpoint`, the runtime is initialised as SnapStart does and that URL is called at the
    moment the snapshot would be taken.
    """
    port = free_port()
    runtime = [str(python), "-m", "awslambdaric", handler]
    if snapstart_checkpoint is not None:
        runtime = [sys.executable, str(SNAPSTART_RUNTIME), "--checkpoint", snapstart_checkpoint, "--", *runtime]
    with log.open("wb") as log_file:
        process = subprocess.Popen(  # noqa: S603 - fixed argv, no shell
            [str(rie), "--runtime-interface-emulator-address", f"127.0.0.1:{port}", *runtime],
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
            stop_process_group(process, grace_seconds=5)


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


@contextmanager
def checkpoint_server(record: Callable[[], None]) -> Iterator[str]:
    """A loopback URL that calls `record` on each GET: the moment a SnapStart snapshot would be taken."""

    class Checkpoint(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            record()
            self.send_response(204)
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Checkpoint)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/checkpoint"
    finally:
        server.shutdown()
        server.server_close()


def snapshot_checks(function: str, log_text: str, secret_reads_at_snapshot: list[int]) -> list[tuple[str, str | None]]:
    """What a SnapStart snapshot of `function` would hold, and that the restore hook ran after it."""

    def check(name: str, failure: str | None) -> tuple[str, str | None]:
        return (f"{function} snap-start: {name}", failure)

    before, after = log_text.find(BEFORE_SNAPSHOT_LOG), log_text.find(AFTER_RESTORE_LOG)
    return [
        check(
            "init reached the snapshot once",
            None if len(secret_reads_at_snapshot) == 1 else f"{len(secret_reads_at_snapshot)} checkpoints",
        ),
        check(
            "no secret read before the snapshot",
            None if secret_reads_at_snapshot == [0] else f"GetSecretValue calls: {secret_reads_at_snapshot}",
        ),
        check("before-snapshot hook ran", None if before >= 0 else "its log line is missing"),
        check(
            "after-restore hook ran after it",
            None if 0 <= before < after else "its log line is missing or came first",
        ),
    ]


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
        overrides = {
            "TERRA_SECRET_ARN": create_stack_resources(aws.endpoint, secret).secret_arn,
            "TERRA_WIDGET_SESSION_URL": terra.widget_session_url,
            "TERRA_API_BASE_URL": terra.api_base_url,
            "CONNECTIONS_TABLE": CONNECTIONS_TABLE,
            "LOCAL_AWS_ENDPOINT_URL": aws.endpoint,
        }
        secret_reads_at_checkpoints: list[int] = []  # GetSecretValue calls so far, each time a snapshot is taken
        with checkpoint_server(lambda: secret_reads_at_checkpoints.append(aws.calls[GET_SECRET])) as url:
            for function in sorted({e.function for e in load_expectations()}):
                properties = resources[function]["Properties"]
                passes = [False, True] if "SnapStart" in properties else [False]
                for snapstart in passes:
                    reads_before = aws.calls[GET_SECRET]
                    secret_reads_at_checkpoints.clear()
                    log = log_dir / f"{function}{'-snapstart' if snapstart else ''}.log"
                    with runtime_interface(
                        rie=rie,
                        python=runtime_python,
                        task_root=build_dir / properties["CodeUri"],
                        handler=properties["Handler"],
                        env=function_environment(function, overrides),
                        log=log,
                        snapstart_checkpoint=url if snapstart else None,
                    ) as invocations:
                        for expectation in load_expectations(function):
                            event = expectation.load(SIGNING_SECRET)
                            answer = requests.post(invocations, json=event, timeout=60).json()
                            name = f"{expectation.event}{' (snap-start)' if snapstart else ''}"
                            results.append((name, expectation.check(answer, terra.base_url)))
                    if snapstart:
                        reads = [count - reads_before for count in secret_reads_at_checkpoints]
                        results += snapshot_checks(function, log.read_text(), reads)
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
