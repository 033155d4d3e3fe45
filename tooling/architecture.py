"""The architecture `make build` builds wheels for and `make deploy` deploys, kept the same.

`sam build` resolves the template's Architecture parameter when it picks the wheels (charset_normalizer and others
ship compiled code for one architecture), while `sam deploy --guided` asks for the parameter again, afterwards.
So make chooses it once: ARCH=..., else the Architecture the last guided deploy saved in samconfig.toml, else the
template's default. The build then declares it in the built template (.aws-sam/build/template.yaml, what `sam
deploy` deploys): its only allowed value, so a different answer at the prompt is refused by CloudFormation before
anything changes, instead of shipping wheels that cannot load. The guided prompts are offered the saved
parameters with that architecture as their defaults.

    python -m tooling.architecture chosen                  # ARCH's default
    python -m tooling.architecture overrides x86_64        # --parameter-overrides for the guided deploy
    python -m tooling.architecture pin .aws-sam/build x86_64
"""

import re
import sys
import tomllib
from pathlib import Path
from typing import Any

import yaml

from tooling.template import ROOT, load_template

SAMCONFIG = ROOT / "samconfig.toml"
# `Key="value"` (quotes inside escaped), as sam writes parameter_overrides, or `Key=value` as people type it.
_OVERRIDE = re.compile(r"""([A-Za-z0-9]+)=("(?:\\.|[^"\\])*"|'(?:\\.|[^'\\])*'|\S*)""")


def saved_overrides(samconfig: Path = SAMCONFIG) -> dict[str, str]:
    """The parameter values the last `sam deploy --guided` saved (default environment), if any."""
    if not samconfig.exists():
        return {}
    config: dict[str, Any] = tomllib.loads(samconfig.read_text())
    saved = config.get("default", {}).get("deploy", {}).get("parameters", {}).get("parameter_overrides", "")
    text = " ".join(saved) if isinstance(saved, list) else str(saved)
    return {key: _unquote(value) for key, value in _OVERRIDE.findall(text)}


def _unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        return re.sub(r"\\(.)", r"\1", value[1:-1])
    return value


def chosen(samconfig: Path = SAMCONFIG) -> str:
    """The architecture to build for when ARCH is not given."""
    default = str(load_template()["Parameters"]["Architecture"]["Default"])
    return saved_overrides(samconfig).get("Architecture", default)


def overrides(architecture: str, samconfig: Path = SAMCONFIG) -> str:
    """The saved parameters with this architecture, in sam's --parameter-overrides syntax."""
    values = {**saved_overrides(samconfig), "Architecture": architecture}
    return " ".join('{}="{}"'.format(key, value.replace('"', '\\"')) for key, value in values.items())


def pin(build_dir: Path, architecture: str) -> None:
    """Make the built template accept only the architecture its wheels were built for."""
    allowed = load_template()["Parameters"]["Architecture"]["AllowedValues"]
    if architecture not in allowed:
        raise SystemExit(f"ARCH must be one of {', '.join(allowed)}, not {architecture!r}")
    path = build_dir / "template.yaml"
    template = yaml.safe_load(path.read_text())
    template["Parameters"]["Architecture"].update(
        Default=architecture,
        AllowedValues=[architecture],
        ConstraintDescription=(
            f"this build holds {architecture} wheels: build for the other architecture with make deploy ARCH=..."
        ),
    )
    path.write_text(yaml.safe_dump(template, sort_keys=False, width=120))


def main(argv: list[str]) -> int:
    match argv:
        case ["chosen"]:
            print(chosen())  # noqa: T201
        case ["overrides", architecture]:
            print(overrides(architecture))  # noqa: T201
        case ["pin", build_dir, architecture]:
            pin(Path(build_dir), architecture)
        case _:
            print(__doc__, file=sys.stderr)  # noqa: T201
            return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
