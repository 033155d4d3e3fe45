"""The API function's composition root: settings and long-lived clients, built once per container."""

import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cache

from terra_connect.api import wiring
from terra_connect.connections.dynamodb import DynamoDBRegistryStore
from terra_connect.connections.service import ConnectionsService
from terra_connect.erasure.service import ErasureService
from terra_connect.platform.observability import observe_stale_prefill, observe_terra_attempt, observe_widget_url_found
from terra_connect.platform.secrets import SecretsManagerCredentials
from terra_connect.providers.service import ProvidersService
from terra_connect.sdk.tokens import SdkTokenService
from terra_connect.settings import Settings
from terra_connect.sync.reconciler import SyncService
from terra_connect.terra.client import TerraClient
from terra_connect.widget_sessions.service import WidgetSessionService


@dataclass(frozen=True, slots=True)
class Container:
    settings: Settings
    widget_sessions: WidgetSessionService
    connections: ConnectionsService
    sync: SyncService
    erasure: ErasureService
    sdk_tokens: SdkTokenService
    providers: ProvidersService
    credentials: SecretsManagerCredentials
    terra: TerraClient
    store: DynamoDBRegistryStore

    def before_snapshot(self) -> None:
        """SnapStart: nothing read from Secrets Manager or Terra, and no open connection, goes into a snapshot."""
        self.credentials.forget()
        self.providers.forget()
        self.terra.close()
        self.store.close()


@cache
def get_container() -> Container:
    """The API function's container: built on first use, then reused by every invocation."""
    return build_container(os.environ)


def build_container(env: Mapping[str, str], *, sleep: Callable[[float], None] = time.sleep) -> Container:
    """Wire settings, adapters and services; the HTTP session inside TerraClient keeps connections warm."""
    settings = Settings.from_env(env)
    credentials = wiring.credentials(settings)
    terra = TerraClient(
        widget_session_url=settings.terra_widget_session_url,
        api_base_url=settings.terra_api_base_url,
        credentials=credentials,
        observe=observe_terra_attempt,
        on_widget_url_found=observe_widget_url_found,
        sleep=sleep,
    )
    store = wiring.store(settings)
    registry = wiring.registry(store)
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
        erasure=ErasureService(registry, store, terra),
        sdk_tokens=SdkTokenService(terra, store),
        providers=providers,
        credentials=credentials,
        terra=terra,
        store=store,
    )
