"""ports.PurgeRequests over SQS (the purge queue, SSE-SQS: a request names ids, never health data)."""

from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from terra_connect.data_erasure.models import PurgeRequest
from terra_connect.health_data.errors import DataStoreUnavailable
from terra_connect.platform.aws_clients import aws_client

CLIENT_CONFIG = Config(connect_timeout=1, read_timeout=3, retries={"mode": "standard", "max_attempts": 2})
MAX_DELAY_SECONDS = 900  # SQS's DelaySeconds
# Every failure to queue is one a retry may get past, once an operator has fixed what they must: the erasure stays
# unfinished and its retry asks again, so the API answers 503 (never 500), and the log names the SQS error.
_OPERATOR_MUST_ACT = frozenset(
    {"AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist", "AccessDenied", "AccessDeniedException"}
)


class SqsPurgeRequests:
    def __init__(self, queue_url: str, *, endpoint_url: str | None = None, config: Config = CLIENT_CONFIG) -> None:
        self.queue_url = queue_url
        self._client = aws_client("sqs", config=config, endpoint_url=endpoint_url)

    def request(self, request: PurgeRequest, *, delay_seconds: int = 0) -> None:
        try:
            self._client.send_message(
                QueueUrl=self.queue_url,
                MessageBody=request.to_message(),
                DelaySeconds=min(max(delay_seconds, 0), MAX_DELAY_SECONDS),
            )
        except ClientError as error:
            code = str(error.response.get("Error", {}).get("Code", "Unknown"))
            context = {"sqs_error": code}
            if code in _OPERATOR_MUST_ACT or code.startswith("KMS"):
                context["reason"] = "the purge queue cannot be used"
            raise DataStoreUnavailable(log_context=context) from None
        except BotoCoreError as error:
            raise DataStoreUnavailable(log_context={"sqs_error": type(error).__name__}) from None

    def close(self) -> None:
        self._client.close()
