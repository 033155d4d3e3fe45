"""The data store's AWS resources in the emulated account: the data bucket (versioned), the data table with its
by-day index, the connection registry's table (tests/conftest.py) and an ingest queue."""

from dataclasses import dataclass

import boto3
import pytest

DATA_BUCKET = "terra-connect-data"
DATA_TABLE = "terra-connect-data"
KMS_KEY = "arn:aws:kms:us-east-1:123456789012:key/6f1c2d3e-4b5a-4c6d-8e7f-9a0b1c2d3e4f"


@dataclass(frozen=True)
class DataResources:
    bucket: str
    table: str
    connections_table: str
    queue_url: str


def create_data_table(name: str) -> None:
    boto3.client("dynamodb").create_table(
        TableName=name,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "S"},
            {"AttributeName": "day_key", "AttributeType": "S"},
        ],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        LocalSecondaryIndexes=[
            {
                "IndexName": "by-day",
                "KeySchema": [
                    {"AttributeName": "pk", "KeyType": "HASH"},
                    {"AttributeName": "day_key", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "ALL"},
            }
        ],
    )


def create_data_bucket(name: str) -> None:
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket=name)
    s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})


@pytest.fixture
def data_aws(table: str) -> DataResources:
    create_data_bucket(DATA_BUCKET)
    create_data_table(DATA_TABLE)
    queue_url = boto3.client("sqs").create_queue(QueueName="terra-connect-ingest")["QueueUrl"]
    return DataResources(DATA_BUCKET, DATA_TABLE, table, queue_url)
