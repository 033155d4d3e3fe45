"""The webhook function's composition root: the signed-delivery receiver, built once per container."""

import os
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache

from terra_connect.api import wiring
from terra_connect.connections.dynamodb import DynamoDBRegistryStore
from terra_connect.platform.secrets import SecretsManagerCredentials
from terra_connect.settings import WebhookSettings
from terra_connect.webhooks.processor import WebhookProcessor
from terra_connect.webhooks.receiver import WebhookReceiver


@dataclass(frozen=True, slots=True)
class WebhookContainer:
    settings: WebhookSettings
    receiver: WebhookReceiver
    credentials: SecretsManagerCredentials
    store: DynamoDBRegistryStore

    def before_snapshot(self) -> None:
        """SnapStart: no signing secret and no open connection goes into a snapshot."""
        self.credentials.forget()
        self.store.close()


@cache
def get_webhook_container() -> WebhookContainer:
    """Built on first use, then reused by every invocation."""
    return build_webhook_container(os.environ)


def build_webhook_container(env: Mapping[str, str]) -> WebhookContainer:
    settings = WebhookSettings.from_env(env)
    store = wiring.store(settings)
    processor = WebhookProcessor(wiring.registry(store))
    credentials = wiring.credentials(settings)
    return WebhookContainer(
        settings=settings, receiver=WebhookReceiver(credentials, processor), credentials=credentials, store=store
    )


def webhook_receiver() -> WebhookReceiver:
    """The route's receiver, from this container."""
    return get_webhook_container().receiver
