"""What the artifact ships that no function ever loads, removed after `sam build`.

    python -m tooling.prune .aws-sam/build        # every *Function folder in it; prints what it removed
    python -m tooling.prune .aws-sam/build --keep-unpruned DIR   # first copies each folder to DIR (make bench)

In the audited packages a module goes when tooling/loaded-modules.txt does not list it; elsewhere only the modules
and file kinds listed below go, each with why nothing loads it. The proof is an audit: tooling/import_audit.py runs
every event in events/ and the error-path suites, recording every module and file loaded (`make audit-manifest`
writes the list), and the build reruns those tests against the pruned artifact itself (`--import-audit-forbid`), so
it fails the day code starts needing something pruned.
"""

import argparse
import fnmatch
import shutil
import sys
from pathlib import Path

# The packages the artifact ships (functions/requirements.txt and the function's own code): the audit's scope.
ARTIFACT_PACKAGES = frozenset(
    {
        "annotated_types",
        "aws_lambda_powertools",
        "certifi",
        "charset_normalizer",
        "idna",
        "jmespath",
        "pydantic",
        "pydantic_core",
        "requests",
        "terra_connect",
        "typing_extensions",
        "typing_inspection",
        "urllib3",
    }
)

# In these packages, every module the audit never saw loaded goes: tooling/loaded-modules.txt lists those it saw
# (`make audit-manifest` rewrites it; the build fails when it is out of date).
AUDITED_PACKAGES = frozenset({"aws_lambda_powertools", "pydantic", "annotated_types", "typing_inspection", "idna"})
MANIFEST = Path(__file__).with_name("loaded-modules.txt")

# Elsewhere, only these: the rest of the HTTP stack's lazy imports (SOCKS proxies, say) stay, even though no test
# takes those paths. (idna's international host-name tables go: every host the functions call is configured,
# ASCII, and checked at init.)
PRUNED_MODULES: dict[str, str] = {
    "urllib3.contrib.emscripten": "urllib3 inside a browser (Pyodide)",
    "urllib3.http2.connection": "urllib3's opt-in HTTP/2 connections, never turned on",
    "charset_normalizer.cli": "the normalizer command-line tool",
    "charset_normalizer.__main__": "the normalizer command-line tool",
    "requests.help": "the `python -m requests.help` bug-report tool",
    "certifi.__main__": "certifi's command-line tool",
    "certifi.tests": "certifi's own tests",
}

# Files no module loads: pip's install records and type stubs, and console scripts Lambda never runs.
PRUNED_FILES: dict[str, str] = {
    "*.dist-info/RECORD": "pip's list of installed files, for `pip uninstall` (licences stay)",
    "*.dist-info/METADATA": "package descriptions, read only through importlib.metadata, which nothing calls at run "
    "time",
    "*.pyi": "type stubs, read by type checkers only",
    "*.dist-info/sboms/*": "software bills of materials, for auditors",
    "bin/*": "console scripts of the dependencies",
    "*.data/scripts/*": "console scripts of the dependencies",
}


def loaded_modules() -> frozenset[str]:
    return frozenset(line for line in MANIFEST.read_text().splitlines() if line and not line.startswith("#"))


def is_pruned_module(name: str, loaded: frozenset[str] | None = None) -> bool:
    if name.split(".", 1)[0] in AUDITED_PACKAGES:
        return name not in (loaded_modules() if loaded is None else loaded)
    return any(name == pruned or name.startswith(pruned + ".") for pruned in PRUNED_MODULES)


def is_pruned_file(path: str, loaded: frozenset[str] | None = None) -> bool:
    """A file that pruning removes (module files are judged by module name, see is_pruned_module): the
    pure-Python fallback of a compiled module, the listed file kinds, and data inside a package that goes."""
    normalized = "/" + path.replace("\\", "/").lstrip("/")
    if normalized.endswith(".py") and list(Path(path).parent.glob(Path(path).stem + ".cpython-*.so")):
        return True  # the extension module is what imports
    if any(fnmatch.fnmatch(normalized, f"*/{pattern}") for pattern in PRUNED_FILES):
        return True
    package = _package_of(normalized)
    return package is not None and is_pruned_module(package, loaded)


def _package_of(path: str) -> str | None:
    """The package whose folder holds `path` (searched from the first folder named like a shipped package)."""
    parts = path.split("/")[:-1]
    starts = [i for i, part in enumerate(parts) if part in ARTIFACT_PACKAGES]
    if not starts:
        return None
    return ".".join(part for part in parts[starts[0] :] if part != "__pycache__")


def module_of(task_root: Path, path: Path) -> str | None:
    """The module a .py or __pycache__ .pyc file under task_root holds."""
    relative = path.relative_to(task_root)
    parts = list(relative.parts)
    if path.suffix == ".pyc" and len(parts) >= 2 and parts[-2] == "__pycache__":
        parts = [*parts[:-2], path.name.split(".", 1)[0]]
    elif path.suffix == ".py":
        parts[-1] = path.stem
    else:
        return None
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def prune(task_root: Path, loaded: frozenset[str] | None = None) -> dict[str, int]:
    """Remove what nothing loads from one function's folder; bytes removed, by top-level package or file kind."""
    loaded = loaded_modules() if loaded is None else loaded
    removed: dict[str, int] = {}
    for path in sorted(p for p in task_root.rglob("*") if p.is_file()):
        module = module_of(task_root, path)
        if module is not None and is_pruned_module(module, loaded):
            kind = module.split(".", 1)[0]
        elif is_pruned_file(str(path), loaded):
            kind = next((pattern for pattern in PRUNED_FILES if fnmatch.fnmatch(str(path), f"*/{pattern}")), "fallback")
        else:
            continue
        removed[kind] = removed.get(kind, 0) + path.stat().st_size
        path.unlink()
    for folder in sorted((p for p in task_root.rglob("*") if p.is_dir()), key=lambda p: -len(p.parts)):
        if not any(folder.iterdir()):
            folder.rmdir()
    return removed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("build_dir", type=Path, help="the output folder of sam build")
    parser.add_argument("--keep-unpruned", type=Path, metavar="DIR", help="copy each function folder here first")
    args = parser.parse_args()
    functions = sorted(p for p in args.build_dir.glob("*Function") if p.is_dir())
    if not functions:
        print(f"no function folders in {args.build_dir}", file=sys.stderr)  # noqa: T201
        return 1
    for function in functions:
        if args.keep_unpruned:  # what pruning buys is measured against it (make bench)
            shutil.rmtree(args.keep_unpruned / function.name, ignore_errors=True)
            shutil.copytree(function, args.keep_unpruned / function.name, symlinks=True)
        removed = prune(function)
        detail = ", ".join(f"{kind} {size / 1e6:.2f} MB" for kind, size in sorted(removed.items()))
        print(f"{function.name}: removed {sum(removed.values()) / 1e6:.2f} MB unpacked ({detail})")  # noqa: T201
    return 0


if __name__ == "__main__":
    sys.exit(main())
