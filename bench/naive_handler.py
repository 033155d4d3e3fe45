"""NAIVE BASELINE - for comparison in the benchmark only, not part of the product.

What a handler written in a hurry does: read the secret from Secrets Manager on every call, and post to
Terra with `requests.post`, which opens a new HTTPS connection (TCP + TLS handshake) every time.
"""

import json
import os
from typing import Any

import boto3
import requests

_secrets = boto3.client("secretsmanager", endpoint_url=os.environ.get("LOCAL_AWS_ENDPOINT_URL") or None)


def lambda_handler(event: dict[str, Any], context: object) -> dict[str, Any]:
    secret = json.loads(_secrets.get_secret_value(SecretId=os.environ["TERRA_SECRET_ARN"])["SecretString"])
    user = event["requestContext"]["authorizer"]["jwt"]["claims"]["sub"]
    options = json.loads(event.get("body") or "{}")
    answer = requests.post(
        os.environ["TERRA_WIDGET_SESSION_URL"],
        json={"reference_id": user, **options},
        headers={"dev-id": secret["dev_id"], "x-api-key": secret["api_key"]},
        timeout=10,
    )
    return {"statusCode": 201, "headers": {"Content-Type": "application/json"}, "body": answer.text}
