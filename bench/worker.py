"""One benchmark "container": a fresh process that imports a handler and invokes it, like a Lambda sandbox.

Runs with the Lambda runtime stand-in's Python (awslambdaric + boto3) and the task root first on sys.path,
so it loads the built artifact exactly as Lambda would. Writes its measurements as JSON to --result.
The handler's own log lines go to /dev/null: shipping them is CloudWatch's cost, not the function's.
"""

import argparse
import importlib
import json
import os
import resource
import sys
import time
from typing import Any


class Context:
    function_name = "terra-connect-ApiFunction"
    function_version = "$LATEST"
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:terra-connect-ApiFunction"
    memory_limit_in_mb = 512
    aws_request_id = "bench"
    log_group_name = "/terra-connect/api-function"
    log_stream_name = "bench"

    def get_remaining_time_in_millis(self) -> int:
        return 10_000


def with_subject(event: dict[str, Any], suffix: str) -> dict[str, Any]:
    """The same request from another user (a copy with another `sub` claim)."""
    copied: dict[str, Any] = json.loads(json.dumps(event))
    claims = copied["requestContext"]["authorizer"]["jwt"]["claims"]
    claims["sub"] = f"{claims['sub']}-{suffix}"
    return copied


def run_handler(
    target: str, event: dict[str, Any], invocations: int, status: int, *, fresh_subjects: bool = False
) -> dict[str, Any]:
    module_name, function_name = target.rsplit(".", 1)
    events = [with_subject(event, str(i)) if fresh_subjects else event for i in range(invocations)]
    started = time.perf_counter()
    handler = getattr(importlib.import_module(module_name), function_name)
    imported = time.perf_counter()
    first = handler(with_subject(event, "first") if fresh_subjects else event, Context())
    first_done = time.perf_counter()
    if first["statusCode"] != status:
        raise SystemExit(f"first invocation answered {first['statusCode']}: {first.get('body')}")
    latencies = []
    for each in events:
        start = time.perf_counter_ns()
        answer = handler(each, Context())
        latencies.append(time.perf_counter_ns() - start)
        if answer["statusCode"] != status:
            raise SystemExit(f"warm invocation answered {answer['statusCode']}: {answer.get('body')}")
    return {"import_s": imported - started, "first_invocation_s": first_done - imported, "latencies_ns": latencies}


def run_floor(event: dict[str, Any], invocations: int) -> dict[str, Any]:
    """The floor: the one HTTPS request the function must make, on a kept-alive connection, and nothing else."""
    import requests  # noqa: PLC0415 - from the task root, like the handler's

    claims = event["requestContext"]["authorizer"]["jwt"]["claims"]
    body = {"reference_id": claims["sub"], **json.loads(os.environ["BENCH_TERRA_BODY"])}
    headers = {"dev-id": os.environ["BENCH_DEV_ID"], "x-api-key": os.environ["BENCH_API_KEY"]}
    url = os.environ["TERRA_WIDGET_SESSION_URL"]
    session = requests.Session()
    session.post(url, json=body, headers=headers, timeout=10).raise_for_status()
    latencies = []
    for _ in range(invocations):
        start = time.perf_counter_ns()
        session.post(url, json=body, headers=headers, timeout=10).json()
        latencies.append(time.perf_counter_ns() - start)
    return {"import_s": 0.0, "first_invocation_s": 0.0, "latencies_ns": latencies}


def peak_rss_kb() -> int:
    """Peak resident memory of this process. /proc's VmHWM is per address space; ru_maxrss can carry over the
    parent's peak across fork and exec, which would report the benchmark driver's memory instead."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--task-root", required=True)
    parser.add_argument("--handler", help="module.function; omit for the floor")
    parser.add_argument("--event", required=True)
    parser.add_argument("--invocations", type=int, required=True)
    parser.add_argument("--result", required=True)
    parser.add_argument("--expect-status", type=int, default=201)
    parser.add_argument("--fresh-subjects", action="store_true", help="every invocation from another user")
    args = parser.parse_args()
    sys.path.insert(0, args.task_root)
    with open(args.event) as file:
        event = json.load(file)
    sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - for the life of the process
    if args.handler:
        result = run_handler(
            args.handler, event, args.invocations, args.expect_status, fresh_subjects=args.fresh_subjects
        )
    else:
        result = run_floor(event, args.invocations)
    result["max_rss_kb"] = peak_rss_kb()
    with open(args.result, "w") as file:
        json.dump(result, file)


if __name__ == "__main__":
    main()
