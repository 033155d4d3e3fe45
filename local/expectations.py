"""events/expected.json: what each event in events/ must get back, checked the same way by every runner."""

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tooling.template import ROOT

from local.signing import terra_signature

EVENTS = ROOT / "events"
NOT_EVENTS = frozenset({"env.json", "expected.json"})


@dataclass(frozen=True)
class Expectation:
    event: str
    function: str
    status: int | None = None  # None: the function answers no HTTP (the scheduled reconciliation)
    report: dict[str, Any] | None = None  # then: fields its result must have
    code: str | None = None
    link: str | None = None  # an answer field whose URL must come from the Terra stand-in
    sign: bool = False  # sign the (webhook) event afresh before sending it

    @property
    def path(self) -> Path:
        return EVENTS / self.event

    def load(self, signing_secret: str) -> dict[str, Any]:
        """The event, ready to send: a webhook signed now with the stand-in's secret when `sign` is set."""
        event: dict[str, Any] = json.loads(self.path.read_text())
        if self.sign:
            event["headers"]["terra-signature"] = terra_signature(signing_secret, event["body"].encode())
        return event

    def check(self, result: Mapping[str, Any], terra_url_prefix: str) -> str | None:
        """None when the Lambda result meets the expectation, else why not."""
        if self.report is None:
            return self._check_http(result, terra_url_prefix)
        missed = {key: result.get(key) for key, value in self.report.items() if result.get(key) != value}
        return f"result {json.dumps(missed)[:300]}, expected {json.dumps(self.report)}" if missed else None

    def _check_http(self, result: Mapping[str, Any], terra_url_prefix: str) -> str | None:
        if "statusCode" not in result:
            return f"no HTTP answer: {json.dumps(result)[:300]}"
        status = result["statusCode"]
        try:
            body = json.loads(result.get("body") or "{}")
        except ValueError:
            return f"status {status}, body is not JSON"
        if status != self.status:
            return f"status {status}, expected {self.status} ({body.get('code', '')})"
        if self.code is not None and body.get("code") != self.code:
            return f"code {body.get('code')!r}, expected {self.code!r}"
        if self.link and not str(body.get(self.link, "")).startswith(terra_url_prefix):
            return f"{self.link} {body.get(self.link)!r} does not come from the Terra stand-in"
        return None


def load_expectations(function: str | None = None) -> list[Expectation]:
    manifest: dict[str, dict[str, Any]] = json.loads((EVENTS / "expected.json").read_text())["events"]
    expectations = [Expectation(event=name, **spec) for name, spec in sorted(manifest.items())]
    return [e for e in expectations if function is None or e.function == function]


def event_files() -> set[str]:
    return {path.name for path in EVENTS.glob("*.json")} - NOT_EVENTS


def report(results: list[tuple[str, str | None]]) -> int:
    """Print one line per event and the closing count; return the number of failures."""
    for name, failure in results:
        print(f"{'PASS' if failure is None else 'FAIL'}  {name}{'' if failure is None else '  ' + failure}")  # noqa: T201
    failed = sum(failure is not None for _, failure in results)
    print(f"{len(results) - failed} passed, {failed} failed")  # noqa: T201
    return failed
