"""Every injected fault maps to its documented status and code, with bounded attempts inside the time budget."""

from collections.abc import Callable

import pytest
import responses

from tests.support.builders import ApiAnswer, AwsCalls
from tests.support.fault_matrix import FAULTS, FaultContext, InjectedFault

LAMBDA_BUDGET_SECONDS = 10.0


def test_the_matrix_injects_at_least_15_faults_from_terra_and_aws() -> None:
    assert len(FAULTS) >= 15
    assert {fault.source for fault in FAULTS} == {"Terra", "Secrets Manager", "DynamoDB"}


@pytest.mark.parametrize("fault", FAULTS, ids=[fault.id for fault in FAULTS])
def test_fault_gets_its_documented_answer(
    invoke: Callable[..., ApiAnswer],
    terra: responses.RequestsMock,
    aws_calls: AwsCalls,
    settings_env: dict[str, str],
    sleeps: list[float],
    fault: InjectedFault,
) -> None:
    fault.arrange(FaultContext(terra, settings_env["TERRA_SECRET_ARN"], aws_calls.failures))
    aws_calls.operations.clear()

    answer = invoke(fault.request(), remaining_ms=int(LAMBDA_BUDGET_SECONDS * 1000))

    assert answer.status == fault.status, answer.body
    if fault.code is None:
        assert answer.json["url"].startswith("https://widget.tryterra.co/")  # recovered: the widget URL
    else:
        assert answer.code == fault.code
    assert answer.headers.get("Retry-After") == fault.retry_after
    assert len(terra.calls) == fault.terra_calls
    assert aws_calls.count("GetSecretValue") == fault.secret_reads
    assert sum(sleeps) < LAMBDA_BUDGET_SECONDS - 1
