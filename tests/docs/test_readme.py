"""README promises that tests hold it to: every error code, every stack parameter."""

import re

from offline.expectations import event_files
from offline.template import load_template

from terra_connect.http.problems import _DESCRIPTIONS
from terra_connect.kernel import errors
from tests.support.builders import ROOT

README = (ROOT / "README.md").read_text()


def _error_codes() -> set[tuple[int, str]]:
    """(status, code) of every error the service answers; a class that sets a status but no code of its own
    (UpstreamUnavailable) is only a base for others."""
    return {
        (value.status, value.code)
        for value in vars(errors).values()
        if isinstance(value, type)
        and issubclass(value, errors.ServiceError)
        and not ("status" in vars(value) and "code" not in vars(value))
    }


def test_the_error_table_lists_exactly_the_codes_the_service_can_answer_under_their_statuses() -> None:
    rows = re.findall(r"^\| (\d{3}) \| `([a-z_]+)` \|", README, flags=re.MULTILINE)

    assert {(int(status), code) for status, code in rows} == _error_codes()


def test_the_openapi_document_names_every_code_under_its_status() -> None:
    for status, code in _error_codes():
        assert code in _DESCRIPTIONS[status], (status, code)


def test_the_parameter_table_lists_every_stack_parameter() -> None:
    documented = set(re.findall(r"^\| `([A-Za-z]+)` \|", README, flags=re.MULTILINE))

    assert set(load_template()["Parameters"]) <= documented


def test_the_readme_shows_a_sam_local_invoke_command_for_every_event() -> None:
    shown = set(re.findall(r"sam local invoke [A-Za-z]+Function -e events/([a-z0-9-]+\.json)", README))

    assert shown == event_files()
