"""The composition roots: settings and long-lived clients, built once per container, one per function."""

import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cache

from terra_connect.adapters.credentials import SecretsManagerCredentials
from terra_connect.adapters.dynamodb_registry import DynamoDBConnectionRegistry
from terra_connect.adapters.terra import TerraClient
from terra_connect.api.observability import observe_terra_attempt
from terra_connect.domain.connections_service import ConnectionsService
from terra_connect.domain.webhook_receiver import WebhookReceiver
from terra_connect.domain.webhooks import WebhookProcessor
from terra_connect.domain.widget_sessions import WidgetSessionService
from terra_connect.settings import Settings, WebhookSettings


@dataclass(frozen=True, slots=True)
class Container:
    settings: Settings
    widget_sessions: WidgetSessionService
    connections: ConnectionsService


@dataclass(frozen=True, slots=True)
class WebhookContainer:
    settings: WebhookSettings
    receiver: WebhookReceiver


@cache
def get_container() -> Container:
    """The API function's container: built on first use, then reused by every invocation."""
    return build_container(os.environ)


@cache
def get_webhook_container() -> WebhookContainer:
    return build_webhook_container(os.environ)


def build_container(env: Mapping[str, str], *, sleep: Callable[[float], None] = time.sleep) -> Container:
    """Wire settings, adapters and services; the HTTP session inside TerraClient keeps connections warm."""
    settings = Settings.from_env(env)
    credentials = SecretsManagerCredentials(
        settings.terra_secret_arn,
        max_age_seconds=settings.secret_cache_ttl_seconds,
        endpoint_url=settings.local_aws_endpoint_url,
    )
    terra = TerraClient(
        widget_session_url=settings.terra_widget_session_url,
        api_base_url=settings.terra_api_base_url,
        credentials=credentials,
        observe=observe_terra_attempt,
        sleep=sleep,
    )
    registry = DynamoDBConnectionRegistry(settings.connections_table, endpoint_url=settings.local_aws_endpoint_url)
    widget_sessions = WidgetSessionService(
        terra,
        settings.redirect_policy,
        default_success_redirect_url=settings.default_success_redirect_url,
        default_failure_redirect_url=settings.default_failure_redirect_url,
        # The legacy endpoint ignores connected_uids: no registry read on its path.
        registry=None if settings.legacy_widget_endpoint else registry,
    )
    connections = ConnectionsService(
        registry,
        terra,
        settings.redirect_policy,
        default_success_redirect_url=settings.default_success_redirect_url,
        default_failure_redirect_url=settings.default_failure_redirect_url,
    )
    return Container(settings=settings, widget_sessions=widget_sessions, connections=connections)


def build_webhook_container(env: Mapping[str, str]) -> WebhookContainer:
    settings = WebhookSettings.from_env(env)
    credentials = SecretsManagerCredentials(
        settings.terra_secret_arn,
        max_age_seconds=settings.secret_cache_ttl_seconds,
        endpoint_url=settings.local_aws_endpoint_url,
    )
    registry = DynamoDBConnectionRegistry(settings.connections_table, endpoint_url=settings.local_aws_endpoint_url)
    return WebhookContainer(settings=settings, receiver=WebhookReceiver(credentials, WebhookProcessor(registry)))
