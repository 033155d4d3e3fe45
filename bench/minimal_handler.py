"""The cold-start yardstick: a handler that imports only boto3 and does nothing."""

from typing import Any

import boto3  # noqa: F401 - importing it is the point


def lambda_handler(event: dict[str, Any], context: object) -> dict[str, Any]:
    return {"statusCode": 200, "body": ""}
