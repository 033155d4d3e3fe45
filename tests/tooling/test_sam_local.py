"""Reading `sam local invoke`'s output: the result is its last JSON line, and silence is a failure."""

from local.expectations import Expectation
from local.sam_local import last_json_line

EXPECTATION = Expectation(event="widget-session.json", function="ApiFunction", status=401, code="unauthenticated")


def test_the_last_json_object_line_is_the_result() -> None:
    stdout = 'START\n{"level": "INFO"}\n{"statusCode": 401, "body": "{\\"code\\": \\"unauthenticated\\"}"}\n'

    result = last_json_line(stdout)

    assert result["statusCode"] == 401
    assert EXPECTATION.check(result, "http://x/") is None


def test_empty_output_fails_even_though_sam_exited_0() -> None:
    result = last_json_line("")

    assert "no HTTP answer" in (EXPECTATION.check(result, "http://x/") or "")
