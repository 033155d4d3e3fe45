"""Lambda SnapStart: what must stay out of a snapshot, and what must differ between the copies restored from it.

With SnapStart (the stack's `SnapStart` parameter) Lambda runs the init phase once per published version, snapshots
the memory and restores that snapshot for every new execution environment. So, before the snapshot: nothing read from
Secrets Manager or Terra is kept (init never reads the secret anyway) and every pooled connection is closed (a
restored copy would otherwise share a TLS session with its siblings). After each restore: the random generator is
reseeded, or every copy would draw the same retry jitter and retry in lockstep.

The hooks go through the runtime's `snapshot_restore_py` module. Outside Lambda's python3.13 runtime (tests,
local mode) it may be missing, and there is nothing to register.
"""

import random
from collections.abc import Callable

from terra_connect.platform.observability import logger


def register(before_snapshot: Callable[[], None]) -> bool:
    """Register the function's snapshot hook and the reseeding restore hook; False where the runtime has none."""
    try:
        from snapshot_restore_py import (  # type: ignore[import-not-found]  # noqa: PLC0415 - the runtime's
            register_after_restore,
            register_before_snapshot,
        )
    except ImportError:
        return False

    def _before_snapshot() -> None:
        before_snapshot()
        logger.info("Before snapshot: caches emptied, connections closed")

    register_before_snapshot(_before_snapshot)
    register_after_restore(after_restore)
    return True


def after_restore() -> None:
    random.seed()  # from os.urandom: each restored copy draws its own retry jitter
    logger.info("Restored from a snapshot: random generator reseeded")
