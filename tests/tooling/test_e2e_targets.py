"""make e2e STACK=<name>: what the deployed-stack target reads and makes, against AWS emulated by moto."""

import base64
import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from e2e.targets import aws_target, subject_of
from moto import mock_aws

REGION = "us-east-1"


def unsigned_token(claims: dict[str, Any]) -> str:
    def part(document: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(document).encode()).decode().rstrip("=")

    return f"{part({'alg': 'none'})}.{part(claims)}.sig"


@pytest.fixture
def session(monkeypatch: pytest.MonkeyPatch) -> Iterator[boto3.session.Session]:
    for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}.items():
        monkeypatch.setenv(name, value)
    with mock_aws():
        yield boto3.session.Session(region_name=REGION)


def deploy(
    session: boto3.session.Session, *, signing_secret: str | None = "stack-signing-secret", pool: bool = True
) -> str:
    """A stack with the outputs template.yaml declares (their values made here)."""
    secret = {"dev_id": "d", "api_key": "k"} | ({"webhook_signing_secret": signing_secret} if signing_secret else {})
    arn = session.client("secretsmanager").create_secret(Name="terra", SecretString=json.dumps(secret))["ARN"]
    outputs: dict[str, Any] = {
        "ApiBaseUrl": {"Value": "https://abc.execute-api.us-east-1.amazonaws.com/"},
        "TerraSecretArn": {"Value": arn},
    }
    if pool:
        cognito = session.client("cognito-idp")
        pool_id = cognito.create_user_pool(PoolName="users")["UserPool"]["Id"]
        client_id = cognito.create_user_pool_client(
            UserPoolId=pool_id, ClientName="mobile", ExplicitAuthFlows=["ALLOW_ADMIN_USER_PASSWORD_AUTH"]
        )["UserPoolClient"]["ClientId"]
        outputs |= {"UserPoolId": {"Value": pool_id}, "UserPoolClientId": {"Value": client_id}}
    template = {"Resources": {"Marker": {"Type": "AWS::SNS::Topic"}}, "Outputs": outputs}
    session.client("cloudformation").create_stack(StackName="terra-connect", TemplateBody=json.dumps(template))
    return pool_id if pool else ""


def test_a_deployed_stack_gives_its_url_its_signing_secret_and_short_lived_users(
    session: boto3.session.Session,
) -> None:
    pool_id = deploy(session)

    target = aws_target("terra-connect", session=session)
    token, reference_id = target.new_user()
    _, other_reference_id = target.new_user()

    assert target.api_url == "https://abc.execute-api.us-east-1.amazonaws.com"
    assert target.signing_secret == "stack-signing-secret"
    assert target.users_are_separate
    assert subject_of(token) == reference_id
    assert reference_id != other_reference_id
    users = session.client("cognito-idp").list_users(UserPoolId=pool_id)["Users"]
    assert len(users) == 2
    target.close()  # the run cleans up after itself
    assert session.client("cognito-idp").list_users(UserPoolId=pool_id)["Users"] == []


def test_a_bring_your_own_issuer_stack_runs_with_the_token_given(session: boto3.session.Session) -> None:
    deploy(session, pool=False)
    token = unsigned_token({"sub": "byo-user-7"})

    target = aws_target("terra-connect", session=session, token=token)

    assert target.new_user() == (token, "byo-user-7")
    assert not target.users_are_separate  # one identity: the isolation test is skipped, not faked
    with pytest.raises(RuntimeError, match="E2E_TOKEN"):
        aws_target("terra-connect", session=session)


def test_a_stack_without_a_signing_secret_is_refused_before_anything_runs(session: boto3.session.Session) -> None:
    deploy(session, signing_secret=None)

    with pytest.raises(RuntimeError, match="webhook_signing_secret"):
        aws_target("terra-connect", session=session)
