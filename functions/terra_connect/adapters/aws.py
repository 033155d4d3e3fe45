"""AWS SDK clients for this container: botocore's own, from one session.

One session per process means botocore's endpoint rules and service models are loaded and parsed once, however many
clients the container builds, and boto3 (which imports s3transfer at import time) is never imported on the request
path. `botocore.session.get_session()`, `Session.create_client()`, `Session.register_component()` and
`botocore.loaders.Loader` are botocore's public API; endpoint resolution is botocore's own, unchanged
(tests/test_aws_clients.py compares every partition, FIPS and dual-stack with a stock session).
"""

import logging
import os
from collections.abc import Iterable
from functools import cache
from typing import Any

import botocore.session
from botocore.config import Config
from botocore.loaders import Loader

# The only services this product calls. botocore's loader would otherwise list every service it ships (about 400
# folders, two directory listings each) on the first client of a cold start, to check the name is one it knows.
SERVICES = ("dynamodb", "events", "secretsmanager")

# botocore logs whole API responses at DEBUG, GetSecretValue's SecretString included. Keep the SDK's
# loggers quiet even when the runtime's application log level is turned up to DEBUG.
for _sdk_logger in ("botocore", "boto3"):
    logging.getLogger(_sdk_logger).setLevel(logging.WARNING)


class KnownServicesLoader(Loader):
    """botocore's data loader, with the search for known services limited to the services this product uses.

    A service is listed when one of its API versions in the loader's search paths holds a file of the asked type,
    exactly as botocore's own listing decides; services outside `services` are not looked for, so creating a client
    for one raises botocore's UnknownServiceError.
    """

    def __init__(self, services: Iterable[str], extra_search_paths: list[str] | None = None) -> None:
        super().__init__(extra_search_paths=extra_search_paths)
        self._services = tuple(services)

    def list_available_services(self, type_name: str) -> list[str]:
        found = set()
        for location in self.search_paths:
            for service in self._services:
                folder = os.path.join(location, service)
                if not os.path.isdir(folder):
                    continue
                versions = os.listdir(folder)
                if any(self.file_loader.exists(os.path.join(folder, version, type_name)) for version in versions):
                    found.add(service)
        return sorted(found)


@cache
def _session() -> botocore.session.Session:
    session = botocore.session.get_session()
    data_path = session.get_config_variable("data_path")  # AWS_DATA_PATH, as botocore's own loader reads it
    extra = (
        [os.path.expanduser(os.path.expandvars(path)) for path in data_path.split(os.pathsep)] if data_path else None
    )
    session.register_component("data_loader", KnownServicesLoader(SERVICES, extra_search_paths=extra))
    return session


def aws_client(service: str, *, config: Config, endpoint_url: str | None = None) -> Any:
    """A low-level client; region and credentials come from the runtime's environment, as boto3's would."""
    return _session().create_client(service, config=config, endpoint_url=endpoint_url)
