"""SnapStart: init reads no secret, the snapshot hook empties every cache and closes every connection, and each
restored copy reseeds its random generator. The runtime's hook registry is replaced by a module of the same shape."""

import random
import sys
import types
from collections.abc import Callable
from typing import Any

import pytest
import responses

from terra_connect.http import dependencies
from terra_connect.platform import snapstart
from tests.support.builders import SIGNING_SECRET, ApiAnswer, AwsCalls, api_event, terra_user, webhook_event

Hook = tuple[Callable[..., Any], tuple[Any, ...], dict[str, Any]]


class Registry(types.ModuleType):
    """`snapshot_restore_py` as Lambda's python3.13 runtime ships it: two lists of registered callables."""

    def __init__(self) -> None:
        super().__init__("snapshot_restore_py")
        self.before: list[Hook] = []
        self.after: list[Hook] = []

    def register_before_snapshot(self, func: Callable[..., Any], *args: Any, **kwargs: Any) -> Callable[..., Any]:
        self.before.append((func, args, kwargs))
        return func

    def register_after_restore(self, func: Callable[..., Any], *args: Any, **kwargs: Any) -> Callable[..., Any]:
        self.after.append((func, args, kwargs))
        return func

    def snapshot_and_restore(self) -> None:
        """What the runtime does on a snap-start init: before-snapshot hooks in reverse order, then after-restore."""
        for func, args, kwargs in reversed(self.before):
            func(*args, **kwargs)
        for func, args, kwargs in self.after:
            func(*args, **kwargs)


@pytest.fixture
def runtime_hooks(monkeypatch: pytest.MonkeyPatch) -> Registry:
    registry = Registry()
    monkeypatch.setitem(sys.modules, "snapshot_restore_py", registry)
    return registry


def test_without_the_runtime_module_nothing_is_registered(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "snapshot_restore_py", None)  # import fails, as outside Lambda

    assert snapstart.register(lambda: None) is False


def test_hooks_are_registered_with_the_runtime(runtime_hooks: Registry) -> None:
    calls: list[str] = []

    assert snapstart.register(lambda: calls.append("before")) is True
    runtime_hooks.snapshot_and_restore()

    assert calls == ["before"]
    assert len(runtime_hooks.after) == 1


def test_after_restore_reseeds_the_random_generator() -> None:
    random.seed(7)
    snapshot_draw = random.random()  # noqa: S311 - retry jitter, not a secret
    random.seed(7)  # every copy restored from one snapshot starts from the same state

    snapstart.after_restore()

    assert random.random() != snapshot_draw  # noqa: S311


def test_init_reads_no_secret_and_the_snapshot_keeps_none(settings_env: dict[str, str], aws_calls: AwsCalls) -> None:
    from terra_connect.entrypoints import api  # noqa: PLC0415 - importing an entry module builds it: after the env

    wired = api.build_container(settings_env | {"AWS_DEFAULT_REGION": "us-east-1"})

    assert aws_calls.operations == []  # building the container calls nothing
    wired.credentials.get()
    wired.before_snapshot()
    wired.credentials.get()
    assert aws_calls.count("GetSecretValue") == 2  # what was read before the snapshot was dropped


def closes(obj: Any, label: str, closed: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    """Record that `obj.close()` was called, and still close it."""
    original = obj.close

    def close() -> None:
        closed.append(label)
        original()

    monkeypatch.setattr(obj, "close", close)


def test_the_snapshot_hook_closes_every_connection_and_forgets_what_terra_said(
    runtime_hooks: Registry,
    invoke: Callable[..., ApiAnswer],
    terra: responses.RequestsMock,
    aws_calls: AwsCalls,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert invoke(api_event(method="GET", path="/v1/providers")).status == 200
    wired = dependencies.services()  # the container the routes use
    closed: list[str] = []
    closes(wired.terra._transport.session, "terra", closed, monkeypatch)
    closes(wired.table._client, "dynamodb", closed, monkeypatch)
    closes(wired.credentials._client, "secretsmanager", closed, monkeypatch)

    runtime_hooks.before.clear()  # whatever importing the handler registered: register once, as in Lambda
    snapstart.register(wired.before_snapshot)
    runtime_hooks.snapshot_and_restore()

    assert sorted(closed) == ["dynamodb", "secretsmanager", "terra"]
    assert invoke(api_event(method="GET", path="/v1/providers")).status == 200  # the restored copy works
    assert aws_calls.count("GetSecretValue") == 2  # the secret read again, not taken from the snapshot
    assert len([c for c in terra.calls if str(c.request.url).endswith("/integrations")]) == 2  # the cache was emptied


def test_the_webhook_function_forgets_its_signing_secret_before_a_snapshot(
    runtime_hooks: Registry, deliver: Callable[[dict[str, Any]], ApiAnswer], aws_calls: AwsCalls
) -> None:
    event = {"type": "auth", "status": "success", "user": terra_user("u-snap"), "reference_id": "user-1"}
    assert deliver(webhook_event(event, secret=SIGNING_SECRET)).status == 200

    from terra_connect.entrypoints import webhook  # noqa: PLC0415 - importing an entry module builds it: after the env

    runtime_hooks.before.clear()
    snapstart.register(lambda: webhook.get_webhook_container().before_snapshot())
    runtime_hooks.snapshot_and_restore()

    assert deliver(webhook_event(event, secret=SIGNING_SECRET)).status == 200
    assert aws_calls.count("GetSecretValue") == 2
