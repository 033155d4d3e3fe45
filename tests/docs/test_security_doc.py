"""docs/security.md shows the matrices and figures the tests actually use, and every skipped finding says why."""

import re

from tests.docs.security_doc import SECURITY_DOC, scanner_skips, updated
from tests.support.builders import ROOT


def test_the_generated_part_is_current() -> None:
    document = SECURITY_DOC.read_text()

    assert document == updated(document), "docs/security.md is stale: run `make docs`"


def test_every_skipped_scanner_finding_gives_a_reason() -> None:
    skips = scanner_skips()

    assert skips
    for tool, check, resource, reason in skips:
        assert len(reason) > 20, f"{tool} {check} on {resource} is skipped without a reason"


def test_every_test_the_threat_model_names_exists() -> None:
    """docs/security.md names, for each attack, the tests that hold it: each of them must be a test that runs."""
    named = re.findall(r"`(tests/[\w/]+\.py)::(\w+)`", SECURITY_DOC.read_text())

    assert len(named) >= 20
    for path, name in named:
        source = (ROOT / path).read_text()
        assert re.search(rf"^def {name}\(", source, re.MULTILINE), f"{path}::{name} is not a test"
