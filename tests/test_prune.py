"""The artifact prune: removes only what the import audit never saw loaded, and the audit catches a pruned import."""

import json
import subprocess
import sys
from pathlib import Path

from offline.prune import ARTIFACT_PACKAGES, AUDITED_PACKAGES, PRUNED_MODULES, is_pruned_module, loaded_modules, prune

from tests.support import ROOT

LOADED = frozenset({"pydantic", "pydantic.main", "aws_lambda_powertools", "aws_lambda_powertools.logging"})


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
        "pydantic/__init__.py",
        "pydantic/__pycache__/__init__.cpython-313.pyc",
        "pydantic/main.py",
        "pydantic/__pycache__/main.cpython-313.pyc",
        "aws_lambda_powertools/logging/__init__.py",
        "terra_connect/api/handler.py",  # the function's own code is never pruned
        "requests/sessions.py",  # outside the audited packages only the listed modules go
        "charset_normalizer/api.py",
        "pydantic-2.14.3.dist-info/licenses/LICENSE",
    ]
    removed = [
        "pydantic/v1/__init__.py",
        "pydantic/v1/__pycache__/main.cpython-313.pyc",
        "pydantic/mypy.py",
        "aws_lambda_powertools/event_handler/openapi/swagger_ui/__init__.py",
        "aws_lambda_powertools/event_handler/openapi/swagger_ui/swagger-ui-bundle.min.js",  # data of a pruned package
        "urllib3/contrib/emscripten/fetch.py",
        "charset_normalizer/md.py",  # shadowed by the compiled extension below
        "pydantic-2.14.3.dist-info/RECORD",
        "pydantic-2.14.3.dist-info/METADATA",
        "pydantic_core/core_schema.pyi",
    ]
    root = make_artifact(tmp_path, [*kept, *removed, "charset_normalizer/md.cpython-313-x86_64-linux-gnu.so"])

    freed = prune(root, LOADED)

    assert remaining(root) == {*kept, "charset_normalizer/md.cpython-313-x86_64-linux-gnu.so"}
    assert sum(freed.values()) == 4 * len(removed)  # every removed file held "# x\n"
    assert not (root / "pydantic" / "v1").exists()  # emptied folders go too


def test_the_rule_by_package() -> None:
    assert is_pruned_module("pydantic.networks", LOADED)
    assert not is_pruned_module("pydantic.main", LOADED)
    assert not is_pruned_module("requests.adapters", LOADED)  # not audited: kept unless listed
    assert is_pruned_module("requests.help", LOADED)
    assert not is_pruned_module("terra_connect.api.handler", LOADED)
    assert "terra_connect" not in AUDITED_PACKAGES
    assert all(module.split(".")[0] in ARTIFACT_PACKAGES for module in PRUNED_MODULES)


def test_the_manifest_keeps_what_every_function_imports_at_init() -> None:
    loaded = loaded_modules()

    for needed in ("aws_lambda_powertools.event_handler.api_gateway", "pydantic.main", "pydantic._internal._fields"):
        assert needed in loaded
    pruned = ("pydantic.v1", "aws_lambda_powertools.utilities.parameters")
    assert not any(module.startswith(pruned) for module in loaded)


def test_the_audit_plugin_fails_a_session_that_loads_something_pruned(tmp_path: Path) -> None:
    test = tmp_path / "test_loads_pruned.py"
    test.write_text("def test_it():\n    import pydantic.v1  # noqa: F401\n")
    output = tmp_path / "audit.json"

    audit = ["-p", "offline.import_audit", f"--import-audit={output}", "--import-audit-forbid"]
    completed = subprocess.run(  # noqa: S603 - fixed argv
        [sys.executable, "-m", "pytest", "-q", *audit, "-o", "pythonpath=functions .", str(test)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )

    assert completed.returncode != 0
    assert "Pruned from the artifact but loaded: pydantic.v1" in completed.stderr
    assert "pydantic.v1" in json.loads(output.read_text())["modules"]
