"""The composition roots: settings and long-lived clients, built once per container, one per function."""

import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cache

from terra_connect.adapters.credentials import SecretsManagerCredentials
from terra_connect.adapters.dynamodb_registry import DynamoDBRegistryStore
from terra_connect.adapters.terra import TerraClient
from terra_connect.api.observability import (
    observe_stale_prefill,
    observe_terra_attempt,
    observe_unverified_sdk_connection,
    observe_widget_url_found,
)
from terra_connect.domain.connections_service import ConnectionsService
from terra_connect.domain.providers import ProvidersService
from terra_connect.domain.reconciliation import Reconciler, SyncService
from terra_connect.domain.registry import ConnectionRegistry
from terra_connect.domain.sdk import SdkBinding, SdkTokenService
from terra_connect.domain.webhook_receiver import WebhookReceiver
from terra_connect.domain.webhooks import WebhookProcessor
from terra_connect.domain.widget_sessions import WidgetSessionService
from terra_connect.settings import CommonSettings, ReconcilerSettings, Settings, WebhookSettings


@dataclass(frozen=True, slots=True)
class Container:
    settings: Settings
    widget_sessions: WidgetSessionService
    connections: ConnectionsService
    sync: SyncService
    sdk_tokens: SdkTokenService
    providers: ProvidersService


@dataclass(frozen=True, slots=True)
class WebhookContainer:
    settings: WebhookSettings
    receiver: WebhookReceiver


@dataclass(frozen=True, slots=True)
class ReconcilerContainer:
    settings: ReconcilerSettings
    reconciler: Reconciler


@cache
def get_container() -> Container:
    """The API function's container: built on first use, then reused by every invocation."""
    return build_container(os.environ)


@cache
def get_webhook_container() -> WebhookContainer:
    return build_webhook_container(os.environ)


@cache
def get_reconciler_container() -> ReconcilerContainer:
    return build_reconciler_container(os.environ)


def _credentials(settings: CommonSettings) -> SecretsManagerCredentials:
    return SecretsManagerCredentials(
        settings.terra_secret_arn,
        max_age_seconds=settings.secret_cache_ttl_seconds,
        endpoint_url=settings.local_aws_endpoint_url,
    )


def _store(settings: CommonSettings) -> DynamoDBRegistryStore:
    return DynamoDBRegistryStore(
        settings.connections_table,
        retention=settings.history_retention,
        endpoint_url=settings.local_aws_endpoint_url,
    )


def _registry(store: DynamoDBRegistryStore) -> ConnectionRegistry:
    """Every registry binds SDK connections to the tokens issued: webhooks, syncs and reconciliation alike."""
    return ConnectionRegistry(store, SdkBinding(store, observe_unverified_sdk_connection))


def build_container(env: Mapping[str, str], *, sleep: Callable[[float], None] = time.sleep) -> Container:
    """Wire settings, adapters and services; the HTTP session inside TerraClient keeps connections warm."""
    settings = Settings.from_env(env)
    terra = TerraClient(
        widget_session_url=settings.terra_widget_session_url,
        api_base_url=settings.terra_api_base_url,
        credentials=_credentials(settings),
        observe=observe_terra_attempt,
        on_widget_url_found=observe_widget_url_found,
        sleep=sleep,
    )
    store = _store(settings)
    registry = _registry(store)
    widget_sessions = WidgetSessionService(
        terra,
        settings.redirect_policy,
        default_success_redirect_url=settings.default_success_redirect_url,
        default_failure_redirect_url=settings.default_failure_redirect_url,
        apple_app_url=settings.apple_app_url,
        samsung_app_url=settings.samsung_app_url,
        # The legacy endpoint ignores connected_uids: no registry read on its path.
        registry=None if settings.legacy_widget_endpoint else registry,
        on_stale_prefill=observe_stale_prefill,
    )
    providers = ProvidersService(terra)
    connections = ConnectionsService(
        registry,
        terra,
        settings.redirect_policy,
        providers=providers,
        default_success_redirect_url=settings.default_success_redirect_url,
        default_failure_redirect_url=settings.default_failure_redirect_url,
    )
    return Container(
        settings=settings,
        widget_sessions=widget_sessions,
        connections=connections,
        sync=SyncService(registry, terra, connections),
        sdk_tokens=SdkTokenService(terra, store),
        providers=providers,
    )


def build_webhook_container(env: Mapping[str, str]) -> WebhookContainer:
    settings = WebhookSettings.from_env(env)
    processor = WebhookProcessor(_registry(_store(settings)))
    return WebhookContainer(settings=settings, receiver=WebhookReceiver(_credentials(settings), processor))


def build_reconciler_container(
    env: Mapping[str, str], *, sleep: Callable[[float], None] = time.sleep
) -> ReconcilerContainer:
    settings = ReconcilerSettings.from_env(env)
    terra = TerraClient(
        api_base_url=settings.terra_api_base_url,
        credentials=_credentials(settings),
        observe=observe_terra_attempt,
        sleep=sleep,
    )
    store = _store(settings)
    reconciler = Reconciler(_registry(store), store, terra, sleep=sleep)
    return ReconcilerContainer(settings=settings, reconciler=reconciler)
