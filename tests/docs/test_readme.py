"""What README.md and docs/ promise, held to the code: every error code, every stack parameter, every sample event,
every make target, every link."""

import re

from local.expectations import event_files
from tooling.template import load_template

from terra_connect.health_data import errors as data_errors
from terra_connect.http.problems import _DESCRIPTIONS
from terra_connect.kernel import errors
from tests.support.builders import ROOT

README = (ROOT / "README.md").read_text()
API_DOC = (ROOT / "docs" / "api.md").read_text()
DEPLOY_DOC = (ROOT / "docs" / "deploy.md").read_text()
LOCAL_MODE_DOC = (ROOT / "docs" / "local-mode.md").read_text()
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def _error_codes() -> set[tuple[int, str]]:
    """(status, code) of every error the service answers; a class that sets a status but no code of its own
    (UpstreamUnavailable) is only a base for others."""
    return {
        (value.status, value.code)
        for value in (*vars(errors).values(), *vars(data_errors).values())
        if isinstance(value, type)
        and issubclass(value, errors.ServiceError)
        and not ("status" in vars(value) and "code" not in vars(value))
    }


def test_the_error_table_lists_exactly_the_codes_the_service_can_answer_under_their_statuses() -> None:
    rows = re.findall(r"^\| (\d{3}) \| `([a-z_]+)` \|", API_DOC, flags=re.MULTILINE)

    assert {(int(status), code) for status, code in rows} == _error_codes()


def test_the_openapi_document_names_every_code_under_its_status() -> None:
    for status, code in _error_codes():
        assert code in _DESCRIPTIONS[status], (status, code)


def test_the_parameter_table_lists_every_stack_parameter() -> None:
    documented = set(re.findall(r"^\| `([A-Za-z]+)` \|", DEPLOY_DOC, flags=re.MULTILINE))

    assert set(load_template()["Parameters"]) <= documented


def test_local_mode_shows_a_sam_local_invoke_command_for_every_event() -> None:
    shown = set(re.findall(r"sam local invoke [A-Za-z]+Function -e events/([a-z0-9-]+\.json)", LOCAL_MODE_DOC))

    assert shown == event_files()


def test_the_readme_is_one_screenful_of_pitch_picture_commands_and_links() -> None:
    assert len(README.splitlines()) <= 250
    for command in ("make dev", "make test", "make deploy"):
        assert command in README, command


def _make_targets() -> set[str]:
    return set(re.findall(r"^([a-z][a-z0-9-]*):", (ROOT / "Makefile").read_text(), flags=re.MULTILINE))


def test_every_make_command_the_documents_show_is_a_target() -> None:
    targets = _make_targets()
    for document in DOCUMENTS:
        # A command: in inline code, at the start of a line of a code block, or after `&&` or `=`.
        named = set(re.findall(r"(?:`|^|&& |=\S* )make ([a-z][a-z0-9-]*)", document.read_text(), flags=re.MULTILINE))
        assert named <= targets, (document.name, named - targets)


def _anchor(heading: str) -> str:
    """A heading's anchor as GitHub makes it: lower case, punctuation dropped, spaces as hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def test_every_link_between_the_documents_reaches_a_file_and_heading() -> None:
    for document in DOCUMENTS:
        for target in re.findall(r"\]\(([^)\s]+)\)", document.read_text()):
            if target.startswith(("http://", "https://", "mailto:")):
                continue
            path, _, anchor = target.partition("#")
            linked = (document.parent / path).resolve() if path else document
            assert linked.exists(), (document.name, target)
            if anchor:
                headings = re.findall(r"^#+ (.+)$", linked.read_text(), flags=re.MULTILINE)
                assert anchor in {_anchor(h) for h in headings}, (document.name, target)
