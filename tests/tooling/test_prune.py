"""The artifact prune: removes only what the import audit never saw loaded, and the audit catches a pruned import."""

import json
import subprocess
import sys
from pathlib import Path

from tooling.prune import ARTIFACT_PACKAGES, AUDITED_PACKAGES, PRUNED_MODULES, is_pruned_module, loaded_modules, prune

from tests.support.builders import ROOT

LOADED = frozenset({"aws_lambda_powertools", "aws_lambda_powertools.logging", "idna", "idna.core"})


def make_artifact(root: Path, files: list[str]) -> Path:
    for name in files:
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("# x\n")
    return root


def remaining(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()}


def test_prune_removes_what_was_never_loaded_and_keeps_the_rest(tmp_path: Path) -> None:
    kept = [
        "idna/__init__.py",
        "idna/__pycache__/__init__.cpython-313.pyc",
        "idna/core.py",
        "idna/__pycache__/core.cpython-313.pyc",
        "aws_lambda_powertools/logging/__init__.py",
        "terra_connect/entrypoints/api.py",  # the function's own code is never pruned
        "requests/sessions.py",  # outside the audited packages only the listed modules go
        "charset_normalizer/api.py",
        "idna-3.20.dist-info/licenses/LICENSE.md",
    ]
    removed = [
        "idna/idnadata.py",
        "idna/__pycache__/uts46data.cpython-313.pyc",
        "aws_lambda_powertools/utilities/batch/__init__.py",
        "aws_lambda_powertools/utilities/batch/__pycache__/base.cpython-313.pyc",
        "aws_lambda_powertools/event_handler/openapi/swagger_ui/__init__.py",
        "aws_lambda_powertools/event_handler/openapi/swagger_ui/swagger-ui-bundle.min.js",  # data of a pruned package
        "urllib3/contrib/emscripten/fetch.py",
        "charset_normalizer/md.py",  # shadowed by the compiled extension below
        "idna-3.20.dist-info/RECORD",
        "idna-3.20.dist-info/METADATA",
        "typing_extensions.pyi",
    ]
    root = make_artifact(tmp_path, [*kept, *removed, "charset_normalizer/md.cpython-313-x86_64-linux-gnu.so"])

    freed = prune(root, LOADED)

    assert remaining(root) == {*kept, "charset_normalizer/md.cpython-313-x86_64-linux-gnu.so"}
    assert sum(freed.values()) == 4 * len(removed)  # every removed file held "# x\n"
    assert not (root / "aws_lambda_powertools" / "utilities" / "batch").exists()  # emptied folders go too


def test_the_rule_by_package() -> None:
    assert is_pruned_module("aws_lambda_powertools.utilities.batch", LOADED)
    assert not is_pruned_module("aws_lambda_powertools.logging", LOADED)
    assert not is_pruned_module("requests.adapters", LOADED)  # not audited: kept unless listed
    assert is_pruned_module("requests.help", LOADED)
    assert not is_pruned_module("terra_connect.entrypoints.api", LOADED)
    assert "terra_connect" not in AUDITED_PACKAGES
    assert all(module.split(".")[0] in ARTIFACT_PACKAGES for module in PRUNED_MODULES)


def test_the_manifest_keeps_what_every_function_imports_at_init() -> None:
    loaded = loaded_modules()

    for needed in ("aws_lambda_powertools.event_handler.api_gateway", "aws_lambda_powertools.metrics", "idna.core"):
        assert needed in loaded
    pruned = ("aws_lambda_powertools.event_handler.openapi.swagger_ui", "aws_lambda_powertools.utilities.parameters")
    assert not any(module.startswith(pruned) for module in loaded)


def test_the_audit_plugin_fails_a_session_that_loads_something_pruned(tmp_path: Path) -> None:
    test = tmp_path / "test_loads_pruned.py"
    test.write_text("def test_it():\n    import aws_lambda_powertools.utilities.serialization  # noqa: F401\n")
    output = tmp_path / "audit.json"

    audit = ["-p", "tooling.import_audit", f"--import-audit={output}", "--import-audit-forbid"]
    completed = subprocess.run(  # noqa: S603 - fixed argv
        [sys.executable, "-m", "pytest", "-q", *audit, "-o", "pythonpath=functions .", str(test)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )

    assert completed.returncode != 0
    assert "Pruned from the artifact but loaded: aws_lambda_powertools.utilities.serialization" in completed.stderr
    assert "aws_lambda_powertools.utilities.serialization" in json.loads(output.read_text())["modules"]


# Imported by the functions but not shipped: the python3.13 runtime provides the AWS SDK (botocore and its
# dependencies); requests looks for PySocks and goes without it.
RUNTIME_PROVIDED = frozenset({"botocore", "dateutil", "six", "socks"})


def test_the_functions_import_only_what_the_artifact_ships_or_the_runtime_provides() -> None:
    """pydantic in particular: the API function validates with it; the other functions never import it."""
    env_vars = json.loads((ROOT / "events" / "env.json").read_text())
    handlers = {
        "ApiFunction": "terra_connect.entrypoints.api",
        "WebhookFunction": "terra_connect.entrypoints.webhook",
        "ReconcileFunction": "terra_connect.entrypoints.reconcile",
        "EventsFunction": "terra_connect.entrypoints.lifecycle_events",
    }
    for function, module in handlers.items():
        env = {
            "PATH": "/usr/bin:/bin",
            "PYTHONPATH": str(ROOT / "functions"),
            "AWS_REGION": "us-east-1",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            **env_vars[function],
        }
        script = f"import sys, {module}; print(' '.join(sorted({{m.split('.')[0] for m in sys.modules}})))"
        completed = subprocess.run(  # noqa: S603 - fixed argv
            [sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True
        )
        imported = set(completed.stdout.split())
        # Cython-compiled extensions (charset_normalizer's) register these module names when loaded, and the standard
        # library's zoneinfo (pydantic imports it) reads the interpreter's build configuration module.
        generated = {n for n in imported if n == "cython_runtime" or n.startswith(("_cython_", "_sysconfigdata_"))}
        foreign = imported - ARTIFACT_PACKAGES - RUNTIME_PROVIDED - sys.stdlib_module_names - {"__main__", *generated}
        assert foreign == set(), function
        assert ("pydantic" in imported) is (function == "ApiFunction"), function
