"""Where the end-to-end suite runs: make dev's stack (started and stopped here) or a deployed stack (STACK=name).

A target gives the suite only what an app and Terra would have: the API's base URL, access tokens for fresh
users, and the webhook signing secret (to complete a connection as Terra's signed `auth` delivery would, since a
real provider sign-in cannot be automated). Everything else the suite learns over HTTP.
"""

import base64
import json
import os
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests
from local.processes import stop_process_group

ROOT = Path(__file__).resolve().parent.parent
LOCAL_SIGNING_SECRET = "local-signing-secret"
STARTUP_SECONDS = 60.0


def subject_of(token: str) -> str:
    """The token's `sub` claim, read (not verified: the API verifies it) to know the caller's reference_id."""
    payload = token.split(".")[1]
    claims: dict[str, Any] = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    return str(claims["sub"])


@dataclass
class Target:
    """What the suite may use. `new_user()` returns (access token, reference_id) of a user made for this run."""

    name: str
    api_url: str
    signing_secret: str
    new_user: Callable[[], tuple[str, str]]
    close: Callable[[], None] = lambda: None
    users_are_separate: bool = True  # False when one bring-your-own token stands for every user
    cleanups: list[Callable[[], None]] = field(default_factory=list)


def _free_ports(count: int) -> list[int]:
    """`count` different ports free right now (held open together while picked, so none is picked twice)."""
    sockets = [socket.socket() for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [int(sock.getsockname()[1]) for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def local_target(log: Path) -> Target:
    """Start `python -m local.dev` (what make dev runs) on free ports; stop it on close."""
    port, aws_port = _free_ports(2)
    env = {**os.environ, "PORT": str(port), "AWS_PORT": str(aws_port), "PYTHONPATH": f"{ROOT / 'functions'}:{ROOT}"}
    for variable in ("TERRA_DEV_ID", "TERRA_API_KEY", "TERRA_WEBHOOK_SIGNING_SECRET"):
        env.pop(variable, None)  # always the simulator: the suite must not reach the real Terra from CI
    log_file = log.open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "local.dev"],
        cwd=ROOT,
        env=env,
        stdout=log_file,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    api_url = f"http://127.0.0.1:{port}"

    def close() -> None:
        stop_process_group(process, grace_seconds=10)
        log_file.close()

    def new_user() -> tuple[str, str]:
        username = f"e2e-{secrets.token_hex(6)}"
        answer = requests.post(f"{api_url}/dev/token", json={"user": username}, timeout=30)
        answer.raise_for_status()
        token = str(answer.json()["access_token"])
        return token, subject_of(token)

    deadline = time.monotonic() + STARTUP_SECONDS
    while True:
        if process.poll() is not None:
            close()
            raise RuntimeError(f"make dev's stack exited ({process.returncode}); see {log}")
        try:
            requests.post(f"{api_url}/dev/token", json={"user": "e2e-probe"}, timeout=5).raise_for_status()
            break
        except requests.RequestException:
            if time.monotonic() > deadline:
                close()
                raise RuntimeError(
                    f"make dev's stack did not answer within {STARTUP_SECONDS:.0f} s; see {log}"
                ) from None
            time.sleep(0.2)
    return Target("make dev", api_url, LOCAL_SIGNING_SECRET, new_user, close)


def stack_outputs(cloudformation: Any, stack: str) -> dict[str, str]:
    described = cloudformation.describe_stacks(StackName=stack)["Stacks"][0]
    return {output["OutputKey"]: output["OutputValue"] for output in described.get("Outputs", [])}


def aws_target(stack: str, *, session: Any = None, token: str | None = None) -> Target:
    """A deployed stack: its outputs, a short-lived user in its Cognito pool (or `token`, for a bring-your-own
    issuer), and the signing secret from its Terra secret. close() deletes the users it made."""
    if session is None:
        import boto3  # noqa: PLC0415 - only this target needs AWS credentials

        session = boto3.session.Session()
    outputs = stack_outputs(session.client("cloudformation"), stack)
    secret = json.loads(
        session.client("secretsmanager").get_secret_value(SecretId=outputs["TerraSecretArn"])["SecretString"]
    )
    signing_secret = secret.get("webhook_signing_secret")
    if not signing_secret:
        raise RuntimeError("the stack's Terra secret has no webhook_signing_secret: put it in first (docs/deploy.md)")
    api_url = outputs["ApiBaseUrl"].rstrip("/")
    if token:
        reference_id = subject_of(token)
        return Target(
            f"stack {stack} (your token)",
            api_url,
            signing_secret,
            lambda: (token, reference_id),
            users_are_separate=False,
        )
    if "UserPoolId" not in outputs:
        raise RuntimeError("the stack uses your own issuer (JwtIssuer): pass a token in E2E_TOKEN")
    cognito = session.client("cognito-idp")
    pool, client = outputs["UserPoolId"], outputs["UserPoolClientId"]
    made: list[str] = []

    def new_user() -> tuple[str, str]:
        username = f"e2e-{secrets.token_hex(6)}"
        password = f"E2e-{secrets.token_urlsafe(18)}!1a"
        cognito.admin_create_user(UserPoolId=pool, Username=username, MessageAction="SUPPRESS")
        made.append(username)
        cognito.admin_set_user_password(UserPoolId=pool, Username=username, Password=password, Permanent=True)
        answer = cognito.admin_initiate_auth(
            UserPoolId=pool,
            ClientId=client,
            AuthFlow="ADMIN_USER_PASSWORD_AUTH",
            AuthParameters={"USERNAME": username, "PASSWORD": password},
        )
        access = str(answer["AuthenticationResult"]["AccessToken"])
        return access, subject_of(access)

    def close() -> None:
        for username in made:
            cognito.admin_delete_user(UserPoolId=pool, Username=username)
        made.clear()

    return Target(f"stack {stack}", api_url, signing_secret, new_user, close)
