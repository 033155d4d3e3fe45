"""Which of the artifact's modules and files the functions load: a pytest plugin built on Python's audit hooks.

    python -m tooling.import_audit manifest        # audit the source tree, rewrite tooling/loaded-modules.txt
    python -m tooling.import_audit check DIR       # the same tests against a pruned function folder DIR
    pytest -p tooling.import_audit --import-audit=build/import-audit.json tests/...

Every `import` and `open` audit event of the session, and every module loaded at its end, is recorded for the
packages the artifact ships (not for the test tooling's own), written as JSON at the end. With
`--import-audit-forbid` the session fails if any module or file that tooling/prune.py removes was loaded: run
against the pruned artifact, it is what makes the build fail when code starts needing something pruned.
"""

import argparse
import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tooling.prune import ARTIFACT_PACKAGES, AUDITED_PACKAGES, MANIFEST, is_pruned_file, is_pruned_module

ROOT = Path(__file__).resolve().parent.parent
# Every event in events/, every error path the suite knows (hostile and reported inputs, generated events, Terra
# and AWS failures), each route and the webhook, sync, reconciliation and the SnapStart hooks.
AUDIT_TESTS = (
    "tests/api/test_sample_events.py",
    "tests/api/test_reported_inputs.py",
    "tests/api/test_hostile_inputs.py",
    "tests/api/test_no_server_errors.py",
    "tests/api/test_upstream_errors.py",
    "tests/api/test_request_validation.py",
    "tests/api/test_fault_matrix.py",
    "tests/api/test_secrets_never_logged.py",
    "tests/api/test_widget_sessions.py",
    "tests/api/test_connections.py",
    "tests/api/test_webhooks.py",
    "tests/api/test_sdk.py",
    "tests/api/test_providers.py",
    "tests/unit/providers/test_providers_cache.py",
    "tests/api/test_sync.py",
    "tests/unit/sync/test_sync_service.py",
    "tests/unit/sync/test_reconciler.py",
    "tests/api/test_reconciliation.py",
    "tests/api/test_snapstart.py",
    "tests/unit/lifecycle_events/test_lifecycle_events.py",
    "tests/api/test_webhook_claim_check.py",
    "tests/api/test_ingest_function.py",
    "tests/api/test_backfill_function.py",
    "tests/api/test_data_read_route.py",
    "tests/api/test_data_events.py",
    "tests/api/test_erasure.py",
    "tests/api/test_terra_delivery_queue.py",
)

_modules: set[str] = set()
_files: set[str] = set()
_session_started = False  # pytest reads every distribution's metadata while loading its plugins: not the functions


def _record(event: str, args: tuple[Any, ...]) -> None:
    if event == "import":
        name = args[0]
        if isinstance(name, str) and name.split(".", 1)[0] in ARTIFACT_PACKAGES:
            _modules.add(name)
    elif event == "open":
        path = args[0]
        if not isinstance(path, str):
            return
        if any(f"/{package}/" in path for package in ARTIFACT_PACKAGES) or (_session_started and ".dist-info/" in path):
            _files.add(path)


def pytest_sessionstart(session: pytest.Session) -> None:
    global _session_started  # noqa: PLW0603 - the audit hook's one switch
    _session_started = True


# From the moment pytest loads this plugin (before any conftest or test module is imported) to the end of the
# process: audit hooks cannot be removed.
sys.addaudithook(_record)


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("import audit")
    group.addoption("--import-audit", metavar="PATH", help="write the modules and files loaded, as JSON")
    group.addoption(
        "--import-audit-forbid", action="store_true", help="fail if anything tooling/prune.py removes was loaded"
    )


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    config = session.config
    # importlib.import_module (lazy attributes use it) raises no audit event: what is loaded at the end counts as well.
    _modules.update(name for name in sys.modules if name.split(".", 1)[0] in ARTIFACT_PACKAGES)
    output = config.getoption("--import-audit") or str(Path(config.rootpath, "build", "import-audit.json"))
    worker = getattr(config, "workerinput", None)  # under pytest-xdist each worker records its own share
    if worker is not None:
        Path(f"{output}.{worker['workerid']}").write_text(
            json.dumps({"modules": sorted(_modules), "files": sorted(_files)})
        )
        return
    modules, files = set(_modules), set(_files)
    for share in Path(output).parent.glob(Path(output).name + ".gw*"):
        recorded = json.loads(share.read_text())
        modules.update(recorded["modules"])
        files.update(recorded["files"])
        share.unlink()
    Path(output).parent.mkdir(parents=True, exist_ok=True)
    Path(output).write_text(json.dumps({"modules": sorted(modules), "files": sorted(files)}, indent=1) + "\n")
    if config.getoption("--import-audit-forbid"):
        needed = sorted(m for m in modules if is_pruned_module(m)) + sorted(f for f in files if is_pruned_file(f))
        if needed:
            sys.stderr.write("Pruned from the artifact but loaded: " + ", ".join(needed) + "\n")
            session.exitstatus = pytest.ExitCode.TESTS_FAILED


def run_audit(output: Path, *, task_root: Path | None = None) -> int:
    """The audit tests in a fresh process, on the source tree or with `task_root` (a built function) first."""
    command = [sys.executable, "-m", "pytest", "-q", "-n", "2", "-p", "tooling.import_audit"]
    command += [f"--import-audit={output}", *AUDIT_TESTS]
    if task_root is not None:
        command += ["--import-audit-forbid", "-o", f"pythonpath={task_root} ."]
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    return subprocess.run(command, cwd=ROOT, env=env, check=False).returncode  # noqa: S603 - fixed argv


def write_manifest(audit: Path, manifest: Path = MANIFEST) -> int:
    recorded = json.loads(audit.read_text())["modules"]
    kept = sorted(m for m in recorded if m.split(".", 1)[0] in AUDITED_PACKAGES)
    header = "# Written by `make audit-manifest`: the modules of the pruned packages that the functions load.\n"
    manifest.write_text(header + "".join(f"{name}\n" for name in kept))
    return len(kept)


def _foreign_extensions(task_root: Path) -> str | None:
    """The first compiled extension module in task_root that this machine cannot load, if any."""
    machine = {"x86_64": "x86_64", "aarch64": "aarch64", "arm64": "aarch64"}.get(os.uname().machine, "")
    for extension in task_root.rglob("*.cpython-*.so"):
        if machine not in extension.name:
            return extension.name
    return None


def _digest(task_root: Path) -> str:
    """Identifies an artifact and its audit: every file's path and size, the function code, the tests run."""
    digest = hashlib.sha256()
    for path in sorted(p for p in task_root.rglob("*") if p.is_file()):
        digest.update(f"{path.relative_to(task_root)}:{path.stat().st_size}\n".encode())
        if path.suffix == ".py" and "terra_connect" in path.parts:
            digest.update(path.read_bytes())
    for test in (*AUDIT_TESTS, "tests/conftest.py", "tests/support/builders.py", "tooling/prune.py", MANIFEST.name):
        source = ROOT / test if test != MANIFEST.name else MANIFEST
        digest.update(source.read_bytes())
    return digest.hexdigest()[:16]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("manifest", help="audit the source tree and rewrite tooling/loaded-modules.txt")
    check = commands.add_parser("check", help="run the audit against a pruned function folder")
    check.add_argument("task_root", type=Path)
    args = parser.parse_args()
    output = ROOT / "build" / "import-audit.json"
    if args.command == "manifest":
        status = run_audit(output)
        if status == 0:
            print(f"{MANIFEST.relative_to(ROOT)}: {write_manifest(output)} modules")  # noqa: T201
        return status
    foreign = _foreign_extensions(args.task_root)
    if foreign:
        print(  # noqa: T201
            f"{args.task_root}: not audited on this machine ({foreign} is built for another architecture); "
            "make build-local prunes by the same list and audits it"
        )
        return 0
    stamp = ROOT / ".aws-sam" / f"import-audit-{_digest(args.task_root)}.ok"
    if stamp.exists():
        print(f"{args.task_root}: import audit already passed for this artifact")  # noqa: T201
        return 0
    status = run_audit(output, task_root=args.task_root.resolve())
    if status == 0:
        stamp.parent.mkdir(parents=True, exist_ok=True)
        stamp.touch()
    else:
        print(  # noqa: T201
            f"The pruned artifact in {args.task_root} fails the import audit: if the code now needs a module that "
            "is pruned, run `make audit-manifest` and commit tooling/loaded-modules.txt."
        )
    return status


if __name__ == "__main__":
    sys.exit(main())
