"""AWS SDK clients for this container: botocore's own, from one session.

One session per process means botocore's endpoint rules and service models are loaded and parsed once, however many
clients the container builds, and boto3 (which imports s3transfer at import time) is never imported on the request
path.

botocore's loader lists every service in its data folders (about 450 folders, a directory listing and a file check
each) on the first client of a cold start, to check the name is one it knows. The session's loader searches a folder
holding only links to the services this product calls and to botocore's shared data files instead: the runtime
botocore's own files, found and searched through its public API only (`Loader`'s search paths and `BUILTIN_DATA_PATH`,
`Session.register_component()`), in the layout botocore documents for AWS_DATA_PATH. Endpoint resolution is
botocore's own, unchanged (tests/unit/platform/test_aws_clients.py compares every partition, FIPS and dual-stack
with a stock session).
"""

import logging
import os
import tempfile
from functools import cache
from typing import Any

import botocore.session
from botocore.config import Config
from botocore.loaders import Loader

# The only services this product calls.
SERVICES = ("dynamodb", "events", "s3", "secretsmanager", "sqs")

# botocore logs whole API responses at DEBUG, GetSecretValue's SecretString included. Keep the SDK's
# loggers quiet even when the runtime's application log level is turned up to DEBUG.
for _sdk_logger in ("botocore", "boto3"):
    logging.getLogger(_sdk_logger).setLevel(logging.WARNING)


@cache
def product_data_path() -> str:
    """A folder linking botocore's shared data files (endpoints, partitions, defaults) and SERVICES' folders, once
    per process; a service left out is unknown to the session (botocore's UnknownServiceError)."""
    folder = tempfile.mkdtemp(prefix="terra-connect-botocore-data-")
    with os.scandir(Loader.BUILTIN_DATA_PATH) as entries:
        for entry in entries:
            if entry.is_file() or entry.name in SERVICES:
                os.symlink(entry.path, os.path.join(folder, entry.name))
    return folder


@cache
def _session() -> botocore.session.Session:
    session = botocore.session.get_session()
    data_path = session.get_config_variable("data_path")  # AWS_DATA_PATH, searched first as botocore's loader does
    customer = [os.path.expanduser(os.path.expandvars(path)) for path in (data_path or "").split(os.pathsep) if path]
    # botocore's default search paths are ~/.aws/models, then its own data folder: the same order, with the product's
    # folder standing in for botocore's.
    search = [*customer, Loader.CUSTOMER_DATA_PATH, product_data_path()]
    session.register_component("data_loader", Loader(extra_search_paths=search, include_default_search_paths=False))
    return session


def aws_client(service: str, *, config: Config, endpoint_url: str | None = None) -> Any:
    """A low-level client; region and credentials come from the runtime's environment, as boto3's would."""
    return _session().create_client(service, config=config, endpoint_url=endpoint_url)


# DynamoDB error codes (a call's own, or a cancelled transaction's reasons) that mean "not now": the caller answers
# 503 and is retried, unlike a condition that failed.
DYNAMODB_OUTAGES = frozenset(
    {
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "RequestLimitExceeded",
        "InternalServerError",
        "ServiceUnavailable",
        "ThrottlingError",
        "ProvisionedThroughputExceeded",
    }
)
