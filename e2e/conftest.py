"""make e2e: the target (make dev's stack, or STACK=<name> for a deployed one) and HTTP helpers."""

import json
import os
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from local.signing import terra_signature
from local.terra_simulator import SimulatedUser, auth_event

from e2e.targets import Target, aws_target, local_target

TIMEOUT = 30


@pytest.fixture(scope="session")
def target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Target]:
    stack = os.environ.get("STACK")
    if stack:
        chosen = aws_target(stack, token=os.environ.get("E2E_TOKEN") or None)
    else:
        chosen = local_target(Path(tmp_path_factory.mktemp("e2e")) / "make-dev.log")
    try:
        yield chosen
    finally:
        for cleanup in reversed(chosen.cleanups):
            cleanup()
        chosen.close()


class Api:
    """The API as one signed-in user sees it."""

    def __init__(self, target: Target, token: str | None, reference_id: str) -> None:
        self.url = target.api_url
        self.token = token
        self.reference_id = reference_id
        self.signing_secret = target.signing_secret

    def call(self, method: str, path: str, *, token: str | None = "", **kwargs: Any) -> requests.Response:
        headers = dict(kwargs.pop("headers", {}))
        bearer = self.token if token == "" else token
        if bearer:
            headers["Authorization"] = f"Bearer {bearer}"
        return requests.request(method, self.url + path, headers=headers, timeout=TIMEOUT, **kwargs)

    def connections(self) -> list[dict[str, Any]]:
        answer = self.call("GET", "/v1/connections")
        assert answer.status_code == 200, answer.text
        return list(answer.json()["connections"])

    def deliver(
        self, event: dict[str, Any], *, secret: str | None = None, headers: dict[str, str] | None = None
    ) -> requests.Response:
        """Send a webhook as Terra does: the exact bytes, signed now with the destination's secret."""
        raw = json.dumps(event).encode()
        signature = terra_signature(secret or self.signing_secret, raw)
        return requests.post(
            self.url + "/v1/terra/webhooks",
            data=raw,
            headers={"Content-Type": "application/json", "terra-signature": signature, **(headers or {})},
            timeout=TIMEOUT,
        )

    def connect(self, provider: str = "GARMIN") -> str:
        """Complete a connection the way Terra reports one: a signed `auth` for a new Terra user of this user."""
        terra_user_id = f"e2e-{secrets.token_hex(8)}"
        answer = self.deliver(auth_event(SimulatedUser(terra_user_id, provider, self.reference_id)))
        assert answer.status_code == 200, answer.text
        return terra_user_id


def signed_in(target: Target) -> Api:
    token, reference_id = target.new_user()
    api = Api(target, token, reference_id)

    # Whatever a test leaves connected is disconnected at the end of the run (a deployed stack stays clean).
    def disconnect_all() -> None:
        for connection in api.connections():
            api.call("DELETE", f"/v1/connections/{connection['terra_user_id']}")

    target.cleanups.append(disconnect_all)
    return api


@pytest.fixture(scope="session")
def alice(target: Target) -> Api:
    return signed_in(target)


@pytest.fixture(scope="session")
def bob(target: Target) -> Api:
    if not target.users_are_separate:
        pytest.skip("one bring-your-own token stands for every user: no second user to isolate")
    return signed_in(target)
