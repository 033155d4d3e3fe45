"""docs/security.md shows the matrices and figures the tests actually use, and every skipped finding says why."""

from tests.security_doc import SECURITY_DOC, scanner_skips, updated


def test_the_generated_part_is_current() -> None:
    document = SECURITY_DOC.read_text()

    assert document == updated(document), "docs/security.md is stale: run `make docs`"


def test_every_skipped_scanner_finding_gives_a_reason() -> None:
    skips = scanner_skips()

    assert skips
    for tool, check, resource, reason in skips:
        assert len(reason) > 20, f"{tool} {check} on {resource} is skipped without a reason"
