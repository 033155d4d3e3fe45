"""The scheduled reconciliation's composition root."""

import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cache

from terra_connect.api import wiring
from terra_connect.erasure.service import ErasureService
from terra_connect.platform.observability import observe_terra_attempt
from terra_connect.settings import ReconcilerSettings
from terra_connect.sync.reconciler import Reconciler
from terra_connect.terra.client import TerraClient


@dataclass(frozen=True, slots=True)
class ReconcilerContainer:
    settings: ReconcilerSettings
    reconciler: Reconciler
    erasure: ErasureService


@cache
def get_reconciler_container() -> ReconcilerContainer:
    return build_reconciler_container(os.environ)


def build_reconciler_container(
    env: Mapping[str, str], *, sleep: Callable[[float], None] = time.sleep
) -> ReconcilerContainer:
    settings = ReconcilerSettings.from_env(env)
    terra = TerraClient(
        api_base_url=settings.terra_api_base_url,
        credentials=wiring.credentials(settings),
        observe=observe_terra_attempt,
        sleep=sleep,
    )
    store = wiring.store(settings)
    registry = wiring.registry(store)
    reconciler = Reconciler(registry, store, terra, sleep=sleep)
    return ReconcilerContainer(settings=settings, reconciler=reconciler, erasure=ErasureService(registry, store, terra))
