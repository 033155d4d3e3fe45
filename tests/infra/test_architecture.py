"""make build and make deploy agree on the architecture: the wheels built are the wheels the stack runs."""

import json
from pathlib import Path

import pytest
import yaml
from tooling.architecture import chosen, overrides, pin, saved_overrides
from tooling.rehearsal.cfn import Stack
from tooling.template import load_template

SAVED = {
    "JwtIssuer": "",
    "Architecture": "x86_64",
    "AllowedRedirectUrls": "myapp://terra,https://a.example/x",
    "AppleAppUrl": 'say "hi"',
}
# As `sam deploy --guided` saves its answers: Key="value" with quotes escaped (samcli's quote_parameter_values), the
# whole one TOML string.
PAIRS = " ".join('{}="{}"'.format(key, value.replace('"', '\\"')) for key, value in SAVED.items())
GUIDED = f"version = 0.1\n[default.deploy.parameters]\nparameter_overrides = {json.dumps(PAIRS)}\n"


def samconfig(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "samconfig.toml"
    path.write_text(text)
    return path


def test_the_guided_deploys_saved_answers_are_read_back(tmp_path: Path) -> None:
    saved = saved_overrides(samconfig(tmp_path, GUIDED))

    assert saved == SAVED


def test_the_saved_architecture_is_built_unless_none_was_saved(tmp_path: Path) -> None:
    assert chosen(samconfig(tmp_path, GUIDED)) == "x86_64"
    assert chosen(samconfig(tmp_path, "version = 0.1\n")) == load_template()["Parameters"]["Architecture"]["Default"]
    assert chosen(tmp_path / "absent.toml") == "arm64"


def test_the_guided_prompts_default_to_the_saved_answers_with_the_built_architecture(tmp_path: Path) -> None:
    offered = overrides("arm64", samconfig(tmp_path, GUIDED))

    # Read back as sam reads --parameter-overrides: the same answers, but the architecture built.
    again = samconfig(tmp_path, f"[default.deploy.parameters]\nparameter_overrides = '''{offered}'''\n")
    assert saved_overrides(again) == {**saved_overrides(samconfig(tmp_path, GUIDED)), "Architecture": "arm64"}


@pytest.mark.parametrize("architecture", ["arm64", "x86_64"])
def test_the_built_template_accepts_only_the_architecture_its_wheels_were_built_for(
    tmp_path: Path, architecture: str
) -> None:
    built = tmp_path / "template.yaml"
    built.write_text(yaml.safe_dump(load_template(), sort_keys=False))  # sam build writes intrinsics in long form

    pin(tmp_path, architecture)

    pinned = yaml.safe_load(built.read_text())
    other = next(a for a in ("arm64", "x86_64") if a != architecture)
    assert pinned["Parameters"]["Architecture"]["AllowedValues"] == [architecture]
    assert Stack.of(pinned, {}).refused_parameters() == []
    (refusal,) = Stack.of(pinned, {"Architecture": other}).refused_parameters()
    assert refusal.startswith("Architecture")
    assert {k: v for k, v in pinned.items() if k != "Parameters"} == {
        k: v for k, v in load_template().items() if k != "Parameters"
    }


def test_an_architecture_lambda_does_not_offer_is_refused_before_anything_is_built(tmp_path: Path) -> None:
    with pytest.raises(SystemExit, match="ARCH must be one of"):
        pin(tmp_path, "amd64")
