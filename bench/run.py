"""make bench: warm latency, cold start, artifact size and memory, side by side, and the data path
(bench/data_path.py), written to docs/performance.md.

Everything runs on 127.0.0.1: Terra is the project's simulator serving HTTPS with a certificate made here
(so TLS handshakes cost what they cost, and the simulator counts them), Secrets Manager is moto's server
(which counts GetSecretValue calls). Each variant runs in its own fresh process, a stand-in for one Lambda
container, with the Lambda runtime stand-in's Python and the built artifact first on sys.path.

    python -m bench.run --build-dir .aws-sam/build-x86_64 --runtime-python .venv-lambda-runtime/bin/python
    python -m bench.run ... --quick     # a short run that proves the benchmark still works (CI)
"""

import argparse
import io
import json
import os
import platform
import re
import shutil
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import trustme
from local.aws import (
    CONNECTIONS_TABLE,
    FAKE_CREDENTIALS,
    REGION,
    EmulatedAws,
    create_stack_resources,
    emulated_aws,
)
from local.expectations import load_expectations
from local.terra_simulator import Fault, TerraSimulator
from tooling.template import ROOT, load_template

from bench import data_path, data_report
from terra_connect.connections.registry import ConnectionRegistry
from terra_connect.connections.table_client import ConnectionsTable
from terra_connect.entrypoints.shared import RegistryStores
from terra_connect.webhooks.processor import WebhookProcessor

BENCH = Path(__file__).resolve().parent
EVENT = ROOT / "events" / "widget-session.json"
LIST_EVENT = ROOT / "events" / "connections-list.json"
SYNC_EVENT = ROOT / "events" / "connections-sync.json"
DEV_ID = "bench-dev-id"
API_KEY = "bench-api-key"
HANDLER = "terra_connect.entrypoints.api.lambda_handler"
NAIVE_HANDLER = "naive_handler.lambda_handler"
MINIMAL_HANDLER = "minimal_handler.lambda_handler"
WIDGET_PATH = "/api/widget/session"
GET_SECRET = "secretsmanager.GetSecretValue"  # noqa: S105 - an API operation name
QUERY = "DynamoDB_20120810.Query"
# Terra's 400 refusing a pre-filled id that names none of them: the function retries without the pre-fill.
STALE_PREFILL = {"status": "error", "message": "connected_uids refused"}
WEBHOOK_HANDLER = "terra_connect.entrypoints.webhook.lambda_handler"
SIGNING_SECRET = "bench-signing-secret"  # noqa: S105 - a fake secret for the Terra stand-in
TARGETS = {
    "warm_overhead_us": 250.0,
    "cold_vs_reference": 0.75,
    "cold_vs_minimal": 2.3,
    "import_vs_minimal": 1.7,
    "speedup": 3.0,
    "secret_reads_per_ttl": 1,
    "handshakes_per_container": 1,
    "zipped_mb": 5.0,
}


def built_handler(build_dir: Path, function: str) -> str:
    """The function's handler as that build's template names it: the reference commit's modules may live elsewhere."""
    handler: str = load_template(build_dir / "template.yaml")["Resources"][function]["Properties"]["Handler"]
    return handler


@dataclass(frozen=True)
class Percentiles:
    p50: float
    p90: float
    p99: float

    @classmethod
    def of(cls, latencies_ns: list[int]) -> "Percentiles":
        cuts = statistics.quantiles([n / 1000 for n in latencies_ns], n=100, method="inclusive")
        return cls(p50=cuts[49], p90=cuts[89], p99=cuts[98])


@dataclass(frozen=True)
class WarmRun:
    name: str
    invocations: int
    latency_us: Percentiles
    handshakes: int
    secret_reads: int  # during the warm invocations only
    registry_reads: int  # DynamoDB Query calls, first invocation included
    max_rss_kb: int


class Bench:
    def __init__(
        self, *, build_dir: Path, runtime_python: Path, scratch: Path, terra: TerraSimulator, aws: EmulatedAws
    ):
        self.runtime_python = runtime_python
        self.scratch = scratch
        self.terra = terra
        self.aws = aws
        artifact = build_dir / "ApiFunction"
        # As `make build` ships it (with bytecode), and as plain `sam build` would (without).
        self.compiled = scratch / "compiled"
        shutil.copytree(artifact, self.compiled)
        self.plain = scratch / "plain"
        shutil.copytree(artifact, self.plain, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        self.yardstick = scratch / "minimal"
        self.yardstick.mkdir()
        shutil.copy(BENCH / "minimal_handler.py", self.yardstick)
        shutil.copy(BENCH / "naive_handler.py", self.compiled)  # a user's handler, shipped with the same libraries
        secret = {"dev_id": DEV_ID, "api_key": API_KEY, "webhook_signing_secret": SIGNING_SECRET}
        secret_arn = create_stack_resources(aws.endpoint, secret).secret_arn
        self._seed_connection()
        # The webhook function's variables in events/env.json are a subset of these: one environment serves both.
        env_file: dict[str, str] = json.loads((ROOT / "events" / "env.json").read_text())["ApiFunction"]
        self.env = {
            **env_file,
            **FAKE_CREDENTIALS,
            "PATH": "/usr/local/bin:/usr/bin:/bin",
            "LANG": "C.UTF-8",
            "AWS_REGION": REGION,
            "AWS_DEFAULT_REGION": REGION,
            "TERRA_SECRET_ARN": secret_arn,
            "TERRA_WIDGET_SESSION_URL": terra.widget_session_url,
            "TERRA_API_BASE_URL": terra.api_base_url,
            "CONNECTIONS_TABLE": CONNECTIONS_TABLE,
            "LOCAL_AWS_ENDPOINT_URL": aws.endpoint,
            "REQUESTS_CA_BUNDLE": str(scratch / "ca.pem"),
            "PYTHONDONTWRITEBYTECODE": "1",  # /var/task is read-only in Lambda: nothing is cached between starts
            "BENCH_DEV_ID": DEV_ID,
            "BENCH_API_KEY": API_KEY,
            "BENCH_TERRA_BODY": json.dumps(
                {
                    "auth_success_redirect_url": env_file["DEFAULT_SUCCESS_REDIRECT_URL"],
                    "auth_failure_redirect_url": env_file["DEFAULT_FAILURE_REDIRECT_URL"],
                }
            ),
        }

    def _seed_connection(self) -> None:
        """The bench caller has one connected wearable, known to Terra too: the widget pre-fill sends its id."""
        claims = json.loads(EVENT.read_text())["requestContext"]["authorizer"]["jwt"]["claims"]
        user = self.terra.add_user("GARMIN", claims["sub"])
        os.environ.update({**FAKE_CREDENTIALS, "AWS_REGION": REGION, "AWS_DEFAULT_REGION": REGION})
        stores = RegistryStores.over(
            ConnectionsTable(CONNECTIONS_TABLE, retention=timedelta(days=30), endpoint_url=self.aws.endpoint)
        )
        auth = {"type": "auth", "status": "success", "user": user.as_terra()}
        WebhookProcessor(ConnectionRegistry(stores.records, stores.erasures, stores.deliveries)).process(
            auth, None, int(time.time())
        )

    def worker(
        self,
        task_root: Path,
        handler: str | None,
        invocations: int,
        status: int = 201,
        *,
        event: Path = EVENT,
        env: dict[str, str] | None = None,
        fresh_subjects: bool = False,
    ) -> dict[str, Any]:
        result = self.scratch / "result.json"
        command = [
            str(self.runtime_python),
            str(BENCH / "worker.py"),
            "--task-root", str(task_root),
            "--event", str(event),
            "--invocations", str(invocations),
            "--result", str(result),
            "--expect-status", str(status),
        ]  # fmt: skip
        if handler:
            command += ["--handler", handler]
        if fresh_subjects:
            command.append("--fresh-subjects")
        subprocess.run(command, env=self.env | (env or {}), check=True, cwd=task_root)  # noqa: S603 - fixed argv
        measured: dict[str, Any] = json.loads(result.read_text())
        return measured

    def warm(
        self,
        name: str,
        task_root: Path,
        handler: str | None,
        invocations: int,
        *,
        event: Path = EVENT,
        status: int = 201,
        env: dict[str, str] | None = None,
        fresh_subjects: bool = False,
        faults: Fault | None = None,
    ) -> WarmRun:
        self.terra.connections = 0
        self.aws.calls.clear()
        if faults is not None:
            self.terra.inject(faults, times=invocations + 1)
        measured = self.worker(
            task_root, handler, invocations, status, event=event, env=env, fresh_subjects=fresh_subjects
        )
        self.terra.clear()
        reads_in_first_invocation = 1 if handler else 0
        return WarmRun(
            name=name,
            invocations=invocations,
            latency_us=Percentiles.of(measured["latencies_ns"]),
            handshakes=self.terra.connections,
            secret_reads=max(0, self.aws.calls[GET_SECRET] - reads_in_first_invocation),
            registry_reads=self.aws.calls[QUERY],
            max_rss_kb=measured["max_rss_kb"],
        )

    def import_time_us(self, task_root: Path, module: str, runs: int) -> float:
        """Median cumulative import time of `module` from `python -X importtime`, each in a fresh process."""
        samples = []
        for _ in range(runs):
            completed = subprocess.run(  # noqa: S603 - fixed argv
                [str(self.runtime_python), "-X", "importtime", "-c", f"import {module}"],
                env={**self.env, "PYTHONPATH": str(task_root)},
                cwd=task_root,
                capture_output=True,
                text=True,
                check=True,
            )
            match = re.search(rf"\|\s*(\d+) \|\s*{re.escape(module)}\s*$", completed.stderr, re.MULTILINE)
            if not match:
                raise RuntimeError(f"no import time for {module}: {completed.stderr[-500:]}")
            samples.append(float(match.group(1)))
        return statistics.median(samples)

    def cold_starts(self, variants: dict[str, tuple[Path, str]], runs: int) -> dict[str, tuple[float, float]]:
        """Median (import, first invocation) seconds of each variant over fresh processes.

        The variants take turns (one fresh process of each per round), so a change in the machine's load during
        the run weighs on all of them alike and the ratios between them stay honest.
        """
        auth = next(e for e in load_expectations() if e.event == "terra-webhook-auth.json")
        webhook_event = self.scratch / "webhook-auth.json"
        samples: dict[str, tuple[list[float], list[float]]] = {name: ([], []) for name in variants}
        for _ in range(runs):
            for name, (task_root, handler) in variants.items():
                webhook = "webhook" in name  # this build's webhook handler, or the reference's (another module)
                status = 200 if handler == MINIMAL_HANDLER or webhook else 201
                event = EVENT
                if webhook:  # Terra's signed `auth` delivery, signed now
                    webhook_event.write_text(json.dumps(auth.load(SIGNING_SECRET)))
                    event = webhook_event
                measured = self.worker(task_root, handler, 0, status, event=event)
                samples[name][0].append(measured["import_s"])
                samples[name][1].append(measured["first_invocation_s"])
        return {name: (statistics.median(i), statistics.median(f)) for name, (i, f) in samples.items()}


def cold_stages(bench: "Bench", task_root: Path, runs: int) -> tuple[dict[str, float], int, float]:
    """Median seconds of each stage of the API function's init (bench/stages.py), over fresh processes; and how
    many classes the product's modules build with `@dataclass`, with the median seconds that takes."""
    samples: dict[str, list[float]] = {}
    classes, dataclass_seconds = 0, []
    for _ in range(runs):
        completed = subprocess.run(  # noqa: S603 - fixed argv
            [str(bench.runtime_python), str(BENCH / "stages.py"), str(task_root)],
            env=bench.env,
            cwd=task_root,
            capture_output=True,
            text=True,
            check=True,
        )
        measured = json.loads(completed.stdout)
        for name, seconds in measured["stages"].items():
            samples.setdefault(name, []).append(seconds)
        classes = measured["dataclasses"]
        dataclass_seconds.append(measured["dataclass_s"])
    medians = {name: statistics.median(values) for name, values in samples.items()}
    return medians, classes, statistics.median(dataclass_seconds)


@dataclass(frozen=True)
class Artifact:
    """A function folder zipped the way `sam deploy` packages it (deflate)."""

    archive: bytes
    unzipped: int
    files: int

    @classmethod
    def of(cls, folder: Path) -> "Artifact":
        buffer = io.BytesIO()
        unzipped = files = 0
        with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            for path in sorted(folder.rglob("*")):
                if path.is_file():
                    archive.write(path, path.relative_to(folder))
                    unzipped += path.stat().st_size
                    files += 1
        return cls(buffer.getvalue(), unzipped, files)

    @property
    def zipped(self) -> int:
        return len(self.archive)


def unpack_seconds(artifacts: dict[str, Artifact], scratch: Path, runs: int) -> dict[str, float]:
    """Median seconds to unpack each zip into an empty folder (as Lambda does before a cold start's init), the
    artifacts taking turns."""
    samples: dict[str, list[float]] = {name: [] for name in artifacts}
    target = scratch / "unpacked"
    for _ in range(runs):
        for name, artifact in artifacts.items():
            started = time.perf_counter()
            with zipfile.ZipFile(io.BytesIO(artifact.archive)) as archive:
                archive.extractall(target)
            samples[name].append(time.perf_counter() - started)
            shutil.rmtree(target)
    return {name: statistics.median(values) for name, values in samples.items()}


def machine() -> str:
    cpu = "unknown CPU"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        found = re.search(r"model name\s*:\s*(.+)", cpuinfo.read_text())
        cpu = found.group(1).strip() if found else cpu
    return f"{cpu}, {os.cpu_count()} cores, {platform.system()} {platform.release()}, {platform.machine()}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--build-dir", type=Path, required=True)
    parser.add_argument("--runtime-python", type=Path, required=True)
    parser.add_argument("--quick", action="store_true", help="few iterations; proves the benchmark runs")
    parser.add_argument(
        "--reference-build",
        type=Path,
        required=True,
        help="sam build output of the reference commit (make reference-build)",
    )
    parser.add_argument(
        "--unpruned-build",
        type=Path,
        required=True,
        help="the same build before tooling/prune.py (make build-local keeps it)",
    )
    parser.add_argument("--reference", default="reference", help="the reference's git ref, for the report")
    parser.add_argument("--output", type=Path, help="write the report here (make bench: docs/performance.md)")
    args = parser.parse_args()
    invocations, cold_runs = (50, 2) if args.quick else (2000, 11)

    authority = trustme.CA()
    certificate = authority.issue_cert("127.0.0.1", "localhost")
    tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    certificate.configure_cert(tls)
    with (
        tempfile.TemporaryDirectory() as scratch_dir,
        TerraSimulator(dev_id=DEV_ID, api_key=API_KEY, tls=tls) as terra,
        emulated_aws() as aws,
    ):
        scratch = Path(scratch_dir)
        authority.cert_pem.write_to_path(str(scratch / "ca.pem"))
        reference = args.reference_build.resolve()
        unpruned = args.unpruned_build.resolve() / "ApiFunction"
        bench = Bench(
            build_dir=args.build_dir.resolve(),
            runtime_python=args.runtime_python.absolute(),
            scratch=scratch,
            terra=terra,
            aws=aws,
        )
        warm = [
            bench.warm("floor: one keep-alive requests.Session().post", bench.compiled, None, invocations),
            bench.warm(
                "terra-connect, widget session without pre-fill (legacy endpoint)",
                bench.compiled,
                HANDLER,
                invocations,
                env={"TERRA_WIDGET_SESSION_URL": terra.legacy_widget_session_url},
            ),
            bench.warm("naive handler (bench/naive_handler.py)", bench.compiled, NAIVE_HANDLER, invocations),
            bench.warm("terra-connect, widget session with registry pre-fill", bench.compiled, HANDLER, invocations),
            bench.warm(
                "terra-connect, GET /v1/connections (registry only, no Terra call)",
                bench.compiled,
                HANDLER,
                invocations,
                event=LIST_EVENT,
                status=200,
            ),
            bench.warm(
                "terra-connect, widget session whose pre-fill Terra refuses (400, retried without it)",
                bench.compiled,
                HANDLER,
                invocations,
                faults=Fault(status=400, body=STALE_PREFILL, path=WIDGET_PATH, body_key="connected_uids"),
            ),
            bench.warm(
                "terra-connect, POST /v1/connections/sync (Terra userInfo, then the registry)",
                bench.compiled,
                HANDLER,
                invocations,
                event=SYNC_EVENT,
                status=200,
                fresh_subjects=True,
            ),
            bench.warm(
                "terra-connect, POST /v1/connections/sync within 30 s (the registry answers)",
                bench.compiled,
                HANDLER,
                invocations,
                event=SYNC_EVENT,
                status=200,
            ),
        ]
        cold: dict[str, dict[str, Any]] = {
            "import_us": {
                "handler, no .pyc": bench.import_time_us(bench.plain, "terra_connect.entrypoints.api", cold_runs),
                "handler, .pyc": bench.import_time_us(bench.compiled, "terra_connect.entrypoints.api", cold_runs),
                "minimal (boto3 only)": bench.import_time_us(bench.yardstick, "minimal_handler", cold_runs),
            },
            "first_s": bench.cold_starts(
                {
                    "handler, no .pyc": (bench.plain, HANDLER),
                    "handler, .pyc": (bench.compiled, HANDLER),
                    "handler, .pyc, before pruning": (unpruned, HANDLER),
                    "reference handler, .pyc": (reference / "ApiFunction", built_handler(reference, "ApiFunction")),
                    "webhook handler, .pyc": (bench.compiled, WEBHOOK_HANDLER),
                    "reference webhook handler, .pyc": (
                        reference / "WebhookFunction",
                        built_handler(reference, "WebhookFunction"),
                    ),
                    "minimal (boto3 only)": (bench.yardstick, MINIMAL_HANDLER),
                },
                cold_runs,
            ),
        }
        stages, classes, dataclass_seconds = cold_stages(bench, bench.compiled, cold_runs)
        cold["stages_s"] = stages
        cold["dataclasses"] = {"classes": classes, "seconds": dataclass_seconds}
        sizes = {
            "without .pyc": Artifact.of(bench.plain),
            "with .pyc (make build)": Artifact.of(bench.compiled),
            "with .pyc, before pruning": Artifact.of(unpruned),
            f"reference ({args.reference}), with .pyc": Artifact.of(reference / "ApiFunction"),
        }
        cold["unpack_s"] = unpack_seconds(
            {"before pruning": sizes["with .pyc, before pruning"], "pruned": sizes["with .pyc (make build)"]},
            scratch,
            cold_runs,
        )
    # After the API's stack is gone: the data path starts its own emulated AWS (moto's state is per process).
    data = data_path.measure(**(data_path.QUICK if args.quick else data_path.FULL))
    report = render(
        warm, cold, sizes, invocations=invocations, cold_runs=cold_runs, quick=args.quick, reference=args.reference
    )
    report += "\n" + "\n".join(data_report.render(data))
    print(report)  # noqa: T201
    if args.output:
        args.output.write_text(report)
    return 0


def render(
    warm: list[WarmRun],
    cold: dict[str, dict[str, Any]],
    sizes: dict[str, Artifact],
    *,
    invocations: int,
    cold_runs: int,
    quick: bool,
    reference: str,
) -> str:
    floor, product, naive, prefilled, listing, healed, synced, recent = warm
    pruned, unpruned, unpack = sizes["with .pyc (make build)"], sizes["with .pyc, before pruning"], cold["unpack_s"]
    unpruned_cold = sum(cold["first_s"]["handler, .pyc, before pruning"])
    overhead = product.latency_us.p50 - floor.latency_us.p50
    speedup = naive.latency_us.p50 / product.latency_us.p50
    reads_per_1000 = product.secret_reads * 1000 / invocations
    zipped_mb = sizes["with .pyc (make build)"].zipped / 1e6
    imports = cold["import_us"]
    firsts = cold["first_s"]
    yardstick_us = imports["minimal (boto3 only)"]
    yardstick_cold = sum(firsts["minimal (boto3 only)"])
    product_cold = sum(firsts["handler, .pyc"])
    api_ratio = product_cold / sum(firsts["reference handler, .pyc"])
    webhook_ratio = sum(firsts["webhook handler, .pyc"]) / sum(firsts["reference webhook handler, .pyc"])
    vs_minimal = product_cold / yardstick_cold
    import_vs_minimal = imports["handler, .pyc"] / yardstick_us

    def ok(met: bool) -> str:
        return "met" if met else "**missed**"

    lines = [
        "# Performance",
        "",
        f"Measured {datetime.now(UTC):%Y-%m-%d} on {machine()}, Python {platform.python_version()}.",
        "One run, one machine, everything on 127.0.0.1: Terra is the project's simulator over HTTPS (a certificate",
        "made for the run, so every TLS handshake is real and counted at the server), Secrets Manager is moto's",
        "server (which counts GetSecretValue). Each row is a fresh process standing in for one Lambda container,",
        "loading the built artifact with the runtime's Python. Handler log lines go to /dev/null.",
        "",
        "Reproduce: `make bench` (writes this file). CI runs `make bench-quick`, which only proves it still works.",
        *(["", "**Quick run: too few iterations for the figures to mean much.**"] if quick else []),
        "",
        "## Targets",
        "",
        "| Target | Measured | |",
        "|---|---|---|",
        f"| API function init + first invocation ≤ 0.75x the reference ({reference}) | {api_ratio:.2f}x "
        f"| {ok(api_ratio <= TARGETS['cold_vs_reference'])} |",
        f"| Webhook function init + first invocation ≤ 0.75x the reference | {webhook_ratio:.2f}x "
        f"| {ok(webhook_ratio <= TARGETS['cold_vs_reference'])} |",
        f"| API function init + first invocation ≤ 2.3x the boto3-only handler | {vs_minimal:.2f}x "
        f"| {ok(vs_minimal <= TARGETS['cold_vs_minimal'])} |",
        f"| API handler import ≤ 1.7x the boto3-only handler's (`-X importtime`, .pyc) | {import_vs_minimal:.2f}x "
        f"| {ok(import_vs_minimal <= TARGETS['import_vs_minimal'])} |",
        f"| Warm overhead over the floor at p50 ≤ 250 µs | {overhead:,.0f} µs "
        f"| {ok(overhead <= TARGETS['warm_overhead_us'])} |",
        f"| ≥ 3x faster than the naive handler on warm requests (p50) | {speedup:.1f}x "
        f"| {ok(speedup >= TARGETS['speedup'])} |",
        f"| ≤ 1 Secrets Manager call per cache TTL (300 s) | {product.secret_reads} in {invocations:,} warm "
        f"invocations ({reads_per_1000:g} per 1,000) "
        f"| {ok(product.secret_reads <= TARGETS['secret_reads_per_ttl'])} |",
        f"| Exactly 1 TLS handshake per container | {product.handshakes} for {invocations + 1:,} invocations | "
        f"{ok(product.handshakes == TARGETS['handshakes_per_container'])} |",
        f"| Zipped artifact ≤ 5 MB | {zipped_mb:.2f} MB | {ok(zipped_mb <= TARGETS['zipped_mb'])} |",
        "",
        f"## Warm invocations ({invocations:,} per row, after one untimed first invocation)",
        "",
        "| Variant | p50 µs | p90 µs | p99 µs | TLS handshakes | GetSecretValue | DynamoDB Query | Peak RSS |",
        "|---|---|---|---|---|---|---|---|",
        *(
            f"| {run.name} | {run.latency_us.p50:,.0f} | {run.latency_us.p90:,.0f} | {run.latency_us.p99:,.0f} "
            f"| {run.handshakes} | {run.secret_reads} | {run.registry_reads} | {run.max_rss_kb / 1024:.0f} MiB |"
            for run in warm
        ),
        "",
        f"The handler costs {overhead:,.0f} µs over the bare request at p50 "
        f"({product.latency_us.p50 / floor.latency_us.p50:.2f}x the floor) and is {speedup:.1f}x faster than the "
        "naive handler, which pays a GetSecretValue round trip and a new TCP + TLS connection on every call.",
        "",
        "With the current widget endpoint the handler first reads the caller's connections (one DynamoDB Query)",
        f"to pre-fill the widget: {prefilled.latency_us.p50 - product.latency_us.p50:,.0f} µs more at p50 here.",
        "That is mostly moto's server answering the Query (listing connections, which calls only the registry,",
        f"takes {listing.latency_us.p50:,.0f} µs); what DynamoDB itself costs cannot be measured on this machine.",
        "The read is the feature (the widget shows what is already connected), so the targets are measured on the",
        "path without it;",
        "the legacy endpoint, which ignores `connected_uids`, skips the read.",
        "",
        "When Terra refuses the pre-fill (`400`), the function retries once without it:",
        f"{healed.latency_us.p50 - prefilled.latency_us.p50:,.0f} µs more at p50 than the pre-filled path: a second "
        f"Terra round trip (about the floor row's {floor.latency_us.p50:,.0f} µs,",
        f"on the same kept-alive connection: {healed.handshakes} TLS handshake for the container), plus the spread of "
        "moto's answers between rows.",
        "",
        f"`POST /v1/connections/sync` with a real sync takes {synced.latency_us.p50:,.0f} µs at p50 here: the claim "
        "on the caller's sync marker,",
        "Terra's `userInfo`, then the listing (every invocation of that row comes from another user, as real syncs"
        " would).",
        f"Inside the 30 s window it answers from the registry in {recent.latency_us.p50:,.0f} µs. As with the "
        "listing, moto's server is most of both.",
        "",
        f"## Cold start (median of {cold_runs} fresh processes per row, the rows taking turns)",
        "",
        "| What | Time |",
        "|---|---|",
        *(f"| Import, `-X importtime`: {name} | {us / 1000:,.1f} ms |" for name, us in imports.items()),
        *(
            f"| Init + first invocation: {name} | {imp * 1000:,.0f} ms + {first * 1000:,.0f} ms |"
            for name, (imp, first) in firsts.items()
        ),
        "",
        f"Against the reference build ({reference}, the code before the cold-start work, built the same way and "
        f"measured in this run): the API function's init + first invocation is {api_ratio:.2f}x, the webhook "
        f"function's {webhook_ratio:.2f}x.",
        "",
        f"The handler's import is {import_vs_minimal:.2f}x that of a handler importing only "
        f"boto3 with bytecode shipped, {imports['handler, no .pyc'] / yardstick_us:.1f}x without. Lambda's "
        "`/var/task` is read-only, so without shipped `.pyc` files every cold start compiles every module it imports; "
        "`make build` compiles them for Python 3.13 (`--invalidation-mode unchecked-hash`).",
        f"Init plus first invocation takes {product_cold / yardstick_cold:.1f}x as long as the minimal handler's; the "
        "first invocation reads the secret and opens the one TLS connection the container keeps.",
        "",
        f"### Where the API function's init goes (median of {cold_runs} fresh processes, bench/stages.py)",
        "",
        "Each stage imports one layer on top of the ones before it, so it counts only what they did not import.",
        "",
        "| Stage | ms | share |",
        "|---|---|---|",
        *(
            f"| {name} | {seconds * 1000:,.1f} | {seconds / sum(cold['stages_s'].values()):.0%} |"
            for name, seconds in cold["stages_s"].items()
        ),
        f"| total | {sum(cold['stages_s'].values()) * 1000:,.1f} | |",
        "",
        "botocore alone is about what the boto3-only handler's whole init costs. Removed from the cold start: boto3 "
        "and s3transfer, a second botocore session, botocore's listing of every service it ships (the session's "
        "loader searches a folder linking only the product's three services and botocore's shared data files), "
        "pydantic's search for plugins through every installed distribution, and from the webhook, reconciliation "
        "and events functions pydantic, requests and the API's models. What remains: botocore (the runtime's SDK); "
        "Powertools' event handler, whose package imports every resolver (AppSync's asyncio included) and every "
        "event data class and cannot be imported in part; requests; pydantic and Powertools' data validation, which "
        "validate every request; the API's models, built at import (init runs with a full vCPU, a 512 MB "
        "invocation gets about a third of one, and SnapStart snapshots what init built); the product's own modules, "
        "where `@dataclass` building their "
        f"{cold['dataclasses']['classes']} classes takes {cold['dataclasses']['seconds'] * 1000:.1f} ms "
        f"({cold['dataclasses']['seconds'] * 1000 / max(cold['dataclasses']['classes'], 1):.2f} ms each); and the "
        "two clients, most of whose time is botocore parsing its endpoint data (once, for both). The first "
        "invocation adds Powertools' reading of the route's signature (once per route and container).",
        "",
        "## Artifact",
        "",
        "| Build | Zipped | Unzipped | Files |",
        "|---|---|---|---|",
        *(
            f"| {name} | {artifact.zipped / 1e6:.2f} MB | {artifact.unzipped / 1e6:.2f} MB | {artifact.files:,} |"
            for name, artifact in sizes.items()
        ),
        "",
        "boto3 is not shipped: the python3.13 runtime provides it (see `functions/requirements.txt`).",
        "",
        "### What pruning buys (tooling/prune.py and the import audit)",
        "",
        "| | Before pruning | Pruned |",
        "|---|---|---|",
        f"| Zipped | {unpruned.zipped / 1e6:.2f} MB | {pruned.zipped / 1e6:.2f} MB |",
        f"| Files | {unpruned.files:,} | {pruned.files:,} |",
        f"| Unpacking the zip (median of {cold_runs}, the two taking turns) "
        f"| {unpack['before pruning'] * 1000:,.0f} ms | {unpack['pruned'] * 1000:,.0f} ms |",
        f"| Init + first invocation (the cold start rows above) | {unpruned_cold * 1000:,.0f} ms "
        f"| {product_cold * 1000:,.0f} ms |",
        "",
        "A module no function imports costs nothing once the code runs, so pruning leaves init and the first "
        "invocation as they were (the two rows differ by the run's noise). What it buys is the package Lambda "
        "downloads and unpacks before every cold start's init, which no Init Duration shows: "
        f"{1 - pruned.zipped / unpruned.zipped:.0%} fewer bytes zipped and {1 - pruned.files / unpruned.files:.0%} "
        "fewer files to write, with pydantic shipped (its 1.x copy, the unused Powertools utilities, Swagger UI's "
        "bundle, pip's records). That is why it stays, with its guard: every build reruns the event and error-path "
        "suites against the pruned artifact (the import audit; skipped when that very artifact passed before) and "
        "fails if anything pruned was loaded. What the guard cannot cover is a module loaded only on a path no test "
        "takes; `make audit-manifest` records a new need.",
        "",
        "## Notes",
        "",
        "- Clients are built at init, not on first use: Lambda bills the init phase the same, and with SnapStart",
        "  what init builds is in the snapshot.",
        "- What remains of the warm overhead: Powertools' data validation (a request middleware reading the path,",
        "  query string, headers, cookies and body against what the route declares, and a response middleware),",
        "  the answer's serialisation by pydantic, Powertools' routing, its logger's per-invocation context, the EMF",
        "  metrics flush (one JSON document printed per invocation), the Terra client's request building and answer",
        "  parsing. The routes read the caller, deadline and services directly: Powertools' `Depends()` re-read",
        "  every dependency's type hints on every request (about 55 µs); the handler sets the correlation id from",
        "  the event itself, where `correlation_id_path` runs a JMESPath search on every request.",
        "- Wrapping Terra's Python SDK was not measured: it is not a dependency of this project.",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
