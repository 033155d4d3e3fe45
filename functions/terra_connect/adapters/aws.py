"""AWS SDK clients for this container: botocore's own, from one session.

One session per process means botocore's endpoint rules and service models are loaded and parsed once, however many
clients the container builds, and boto3 (which imports s3transfer at import time) is never imported on the request
path. `botocore.session.get_session()` and `Session.create_client()` are botocore's public API; endpoint
resolution is botocore's own, unchanged.
"""

import logging
from functools import cache
from typing import Any

import botocore.session
from botocore.config import Config

# botocore logs whole API responses at DEBUG, GetSecretValue's SecretString included. Keep the SDK's
# loggers quiet even when the runtime's application log level is turned up to DEBUG.
for _sdk_logger in ("botocore", "boto3"):
    logging.getLogger(_sdk_logger).setLevel(logging.WARNING)


@cache
def _session() -> botocore.session.Session:
    return botocore.session.get_session()


def aws_client(service: str, *, config: Config, endpoint_url: str | None = None) -> Any:
    """A low-level client; region and credentials come from the runtime's environment, as boto3's would."""
    return _session().create_client(service, config=config, endpoint_url=endpoint_url)
