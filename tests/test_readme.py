"""README promises that tests hold it to: every error code, every stack parameter."""

import re

from offline.expectations import event_files
from offline.template import load_template

from terra_connect.domain import errors
from tests.support import ROOT

README = (ROOT / "README.md").read_text()


def _error_codes() -> set[str]:
    codes = set()
    for value in vars(errors).values():
        if isinstance(value, type) and issubclass(value, errors.ServiceError):
            codes.add(value.code)
    return codes


def test_the_error_table_lists_exactly_the_codes_the_service_can_answer() -> None:
    documented = set(re.findall(r"^\| \d{3} \| `([a-z_]+)` \|", README, flags=re.MULTILINE))

    assert documented == _error_codes()


def test_the_parameter_table_lists_every_stack_parameter() -> None:
    documented = set(re.findall(r"^\| `([A-Za-z]+)` \|", README, flags=re.MULTILINE))

    assert set(load_template()["Parameters"]) <= documented


def test_the_readme_shows_a_sam_local_invoke_command_for_every_event() -> None:
    shown = set(re.findall(r"sam local invoke [A-Za-z]+Function -e events/([a-z0-9-]+\.json)", README))

    assert shown == event_files()
