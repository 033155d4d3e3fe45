"""ports.DeliveryQueue over SQS: pointers to archived bodies (claim_check.py) in, visibility changes for waiting.

The queue holds pointers and, for `s3_payload`, the archived pointer body's location - never health data - so
SQS-managed encryption is enough and senders need no KMS grant.
"""

from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from terra_connect.health_data.claim_check import Pointer
from terra_connect.health_data.errors import DataStoreMisconfigured, DataStoreUnavailable
from terra_connect.platform.aws_clients import aws_client

CLIENT_CONFIG = Config(connect_timeout=1, read_timeout=3, retries={"mode": "standard", "max_attempts": 2})
MAX_DELAY_SECONDS = 900  # SQS's DelaySeconds
MAX_VISIBILITY_SECONDS = 43_200  # SQS's visibility timeout, 12 hours
# The message is no longer in flight (deleted, or its receipt expired): there is nothing left to hold.
_NOT_IN_FLIGHT = frozenset({"ReceiptHandleIsInvalid", "MessageNotInflight", "InvalidParameterValue"})
_MISCONFIGURED = frozenset(
    {"AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist", "AccessDenied", "AccessDeniedException"}
)


class SqsDeliveryQueue:
    def __init__(self, queue_url: str, *, endpoint_url: str | None = None, config: Config = CLIENT_CONFIG) -> None:
        self.queue_url = queue_url
        self._client = aws_client("sqs", config=config, endpoint_url=endpoint_url)

    def close(self) -> None:
        self._client.close()

    def send(self, pointer: Pointer, *, delay_seconds: int = 0) -> None:
        try:
            self._client.send_message(
                QueueUrl=self.queue_url,
                MessageBody=pointer.to_message(),
                DelaySeconds=min(max(delay_seconds, 0), MAX_DELAY_SECONDS),
            )
        except ClientError as error:
            raise _translate(error) from None
        except BotoCoreError as error:
            raise DataStoreUnavailable(log_context={"sqs_error": type(error).__name__}) from None

    def hold(self, receipt_handle: str, seconds: int) -> None:
        try:
            self._client.change_message_visibility(
                QueueUrl=self.queue_url,
                ReceiptHandle=receipt_handle,
                VisibilityTimeout=min(max(seconds, 0), MAX_VISIBILITY_SECONDS),
            )
        except ClientError as error:
            if _code(error) in _NOT_IN_FLIGHT:
                return
            raise _translate(error) from None
        except BotoCoreError as error:
            raise DataStoreUnavailable(log_context={"sqs_error": type(error).__name__}) from None


def _translate(error: ClientError) -> Exception:
    code = _code(error)
    if code in _MISCONFIGURED or code.startswith("KMS"):
        return DataStoreMisconfigured(log_context={"reason": "the queue cannot be used", "sqs_error": code})
    return DataStoreUnavailable(log_context={"sqs_error": code})


def _code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", "Unknown"))
