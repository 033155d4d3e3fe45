"""make sam-local-invoke: the real `sam local invoke` for every file in events/, checked against events/expected.json.

Runs wherever Docker answers: on a developer's machine against the official Lambda image, and on machines
with no image registry inside a private network namespace against a locally built base image
(scripts/sam-local-invoke sets that up). The function reaches the Terra simulator and moto's server,
which listen on `--bind-host`, through the name host.docker.internal (`sam local invoke --add-host`).
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from local.aws import CONNECTIONS_TABLE, FAKE_CREDENTIALS, REGION, create_stack_resources, emulated_aws
from local.expectations import EVENTS, Expectation, load_expectations, report
from local.smoke import stand_in_settings
from local.terra_simulator import TerraSimulator

DEV_ID = "sam-local-dev-id"
API_KEY = "sam-local-api-key"
SIGNING_SECRET = "sam-local-signing-secret"  # noqa: S105 - a fake secret for the Terra stand-in
CONTAINER_HOST = "host.docker.internal"
INVOKE_SECONDS = 300  # the first invoke builds SAM's runtime image on top of the base image


def last_json_line(text: str) -> dict[str, object]:
    """SAM prints the function's result as the last line of stdout (and exits 0 even when it got none)."""
    for line in reversed(text.strip().splitlines()):
        try:
            document = json.loads(line)
        except ValueError:
            continue
        if isinstance(document, dict):
            return document
    return {"error": "sam printed no result", "stdout": text[-500:]}


def run(
    *, sam: Path, build_dir: Path, architecture: str, bind_host: str, image: str | None, log_dir: Path, jobs: int
) -> int:
    log_dir.mkdir(parents=True, exist_ok=True)
    with (
        TerraSimulator(dev_id=DEV_ID, api_key=API_KEY, host=bind_host, public_host=CONTAINER_HOST) as terra,
        emulated_aws(host=bind_host) as aws,
        tempfile.TemporaryDirectory() as scratch,
    ):
        secret = {"dev_id": DEV_ID, "api_key": API_KEY, "webhook_signing_secret": SIGNING_SECRET}
        port = aws.endpoint.rsplit(":", 1)[1]
        overrides = {
            "TERRA_SECRET_ARN": create_stack_resources(aws.endpoint, secret).secret_arn,
            "TERRA_WIDGET_SESSION_URL": terra.widget_session_url,
            "TERRA_API_BASE_URL": terra.api_base_url,
            "CONNECTIONS_TABLE": CONNECTIONS_TABLE,
            "LOCAL_AWS_ENDPOINT_URL": f"http://{CONTAINER_HOST}:{port}",
        }
        env_vars: dict[str, dict[str, str]] = json.loads((EVENTS / "env.json").read_text())
        env_file = Path(scratch) / "env.json"
        env_file.write_text(json.dumps({fn: stand_in_settings(v, overrides) for fn, v in env_vars.items()}))
        sam_env = {
            **os.environ,
            **FAKE_CREDENTIALS,
            "AWS_REGION": REGION,
            "AWS_DEFAULT_REGION": REGION,
            "SAM_CLI_TELEMETRY": "0",
            "AWS_EC2_METADATA_DISABLED": "true",
        }

        def invoke(expectation: Expectation) -> tuple[str, str | None]:
            event_file = Path(scratch) / expectation.event
            event_file.write_text(json.dumps(expectation.load(SIGNING_SECRET)))
            command = [
                str(sam), "local", "invoke", expectation.function,
                "--template", str(build_dir / "template.yaml"),
                "--event", str(event_file),
                "--env-vars", str(env_file),
                "--add-host", f"{CONTAINER_HOST}:{bind_host}",
                "--parameter-overrides", f"Architecture={architecture}",
                # The templates use AWS::LanguageExtensions; samconfig.toml, which turns it on, is not read for a
                # template outside the project's folder.
                "--language-extensions",
            ]  # fmt: skip
            if image:
                command += ["--invoke-image", image, "--skip-pull-image"]
            completed = subprocess.run(  # noqa: S603 - fixed argv, no shell
                command, env=sam_env, capture_output=True, text=True, timeout=INVOKE_SECONDS, check=False
            )
            (log_dir / f"{expectation.event}.log").write_text(
                completed.stdout + "\n--- stderr ---\n" + completed.stderr
            )
            result = last_json_line(completed.stdout)
            return expectation.event, expectation.check(result, terra.base_url)

        # The first invocation builds SAM's runtime image on top of the base image: alone. Then `jobs` at a time:
        # most of each is SAM's CLI reading the templates and Docker starting a container, not the function (on two
        # cores, 20 events took 221 s one at a time, 118 s two at a time, 88 s three at a time; the slowest
        # invocation stays near 1 s of its 10 s timeout). The events' answers do not depend on their order.
        first, *others = load_expectations()
        results = [invoke(first)]
        with ThreadPoolExecutor(max_workers=jobs) as pool:
            results += pool.map(invoke, others)
    failed = report(results)
    if failed:
        print(f"sam's output for each event is in {log_dir}/")  # noqa: T201
    return 1 if failed else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sam", type=Path, required=True)
    parser.add_argument("--build-dir", type=Path, required=True)
    parser.add_argument("--architecture", required=True, choices=["x86_64", "arm64"], help="of the build")
    parser.add_argument("--bind-host", required=True, help="address the container reaches this machine on")
    parser.add_argument("--image", help="a local base image for --invoke-image (no registry needed)")
    parser.add_argument("--log-dir", type=Path, default=Path(".aws-sam/sam-local-logs"))
    parser.add_argument("--jobs", type=int, default=3, help="invocations at a time, after the first")
    args = parser.parse_args()
    return run(
        sam=args.sam.absolute(),
        build_dir=args.build_dir.resolve(),
        architecture=args.architecture,
        bind_host=args.bind_host,
        image=args.image,
        log_dir=args.log_dir,
        jobs=args.jobs,
    )


if __name__ == "__main__":
    sys.exit(main())
