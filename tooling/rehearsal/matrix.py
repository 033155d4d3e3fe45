"""The parameter sets the rehearsal deploys: every combination docs/deploy.md and docs/operations.md offer, and for
every parameter a function's configuration reads, a second value to show that changing it reaches `live`."""

from dataclasses import dataclass, field

SECRET_ARN = "arn:aws:secretsmanager:us-east-1:123456789012:secret:terra/credentials-AbC123"  # noqa: S105 - an ARN
KMS_KEY_ARN = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
BUS_ARN = "arn:aws:events:us-east-1:123456789012:event-bus/app-events"
ISSUER = "https://login.example.com/"
TERRA_ROLE = "arn:aws:iam::760292141147:role/EC2_Instance_Perms"  # the role Terra's destination docs name


@dataclass(frozen=True)
class Case:
    name: str
    parameters: dict[str, str] = field(default_factory=dict)


CASES = (
    Case("defaults"),
    Case("snapstart", {"SnapStart": "true"}),
    Case("gradual", {"DeploymentStrategy": "Canary10Percent5Minutes"}),
    Case("snapstart-gradual", {"SnapStart": "true", "DeploymentStrategy": "Linear10PercentEvery1Minute"}),
    Case("alarm-email", {"AlarmEmail": "ops@example.com"}),
    Case("bus-by-name", {"EventBusName": "app-events"}),
    Case("bus-by-arn", {"EventBusName": BUS_ARN}),
    # Audiences as people type them: spaces after the commas.
    Case("own-issuer", {"JwtIssuer": ISSUER, "JwtAudience": "https://api.example.com, mobile-app"}),
    Case("x86-64", {"Architecture": "x86_64"}),
    Case("reconciliation-off", {"ReconcileEnabled": "false"}),
    Case("own-secret", {"TerraSecretArn": SECRET_ARN, "TerraSecretKmsKeyArn": KMS_KEY_ARN}),
    # The defaults backfill 30 days and keep records until erased: each of the other choices, and both.
    Case("backfill-off", {"BackfillDays": "0"}),
    Case("records-expire", {"RecordRetentionDays": "365"}),
    Case("backfill-off-records-expire", {"BackfillDays": "0", "RecordRetentionDays": "365"}),
    # Terra's SQS destination: its queue, policy, alarms and mapping, with and without backfills.
    Case("terra-queue", {"TerraDeliveryPrincipalArn": TERRA_ROLE}),
    Case("terra-queue-backfill-off", {"TerraDeliveryPrincipalArn": TERRA_ROLE, "BackfillDays": "0"}),
    Case(
        "everything",
        {
            "SnapStart": "true",
            "DeploymentStrategy": "Canary10Percent10Minutes",
            "AlarmEmail": "ops@example.com",
            "EventBusName": BUS_ARN,
            "JwtIssuer": ISSUER,
            "JwtAudience": "mobile-app",
            "Architecture": "x86_64",
            "ReconcileEnabled": "false",
            "TerraSecretArn": SECRET_ARN,
            "TerraSecretKmsKeyArn": KMS_KEY_ARN,
            "LogLevel": "DEBUG",
            "AllowedRedirectUrls": "myapp://terra,https://app.example.com/terra",
            "DefaultSuccessRedirectUrl": "myapp://terra/connected",
            "DefaultFailureRedirectUrl": "myapp://terra/failed",
            "BackfillDays": "365",
            "BackfillTimeoutHours": "48",
            "BackfillWithSamples": "true",
            "DataRetentionDays": "7",
            "RecordRetentionDays": "730",
            "PayloadUrlHosts": "amazonaws.com,storage.example.net",
            "TerraDeliveryPrincipalArn": TERRA_ROLE,
        },
    ),
)

# A value other than the default for each parameter without AllowedValues (those take another allowed value).
OTHER_VALUES = {
    "JwtIssuer": ISSUER,
    "JwtAudience": "mobile-app",
    "ReferenceIdClaim": "username",
    "TerraSecretArn": SECRET_ARN,
    "TerraSecretKmsKeyArn": KMS_KEY_ARN,
    "TerraWidgetSessionUrl": "https://api.tryterra.co/v2/auth/generateWidgetSession",
    "TerraApiBaseUrl": "https://api.tryterra.co/v3",
    "AllowedRedirectUrls": "myapp://terra",
    "DefaultSuccessRedirectUrl": "myapp://terra/connected",
    "DefaultFailureRedirectUrl": "myapp://terra/failed",
    "AppleAppUrl": "myapp://terra/apple",
    "SamsungAppUrl": "myapp://terra/samsung",
    "AlarmEmail": "ops@example.com",
    "ReconcileSchedule": "rate(1 hour)",
    "EventBusName": "app-events",
    "SecretCacheTtlSeconds": "60",
    "HistoryRetentionDays": "90",
    "ThrottlingRateLimit": "50",
    "ThrottlingBurstLimit": "100",
    "ApiServerErrorRatePercent": "10",
    "ApiServerErrorMinRequests": "50",
    "FunctionErrorsThreshold": "3",
    "TerraFailuresThreshold": "20",
    "WebhookSignatureFailuresThreshold": "10",
    "RegistryThrottleThreshold": "5",
    "BackfillDays": "0",
    "BackfillTimeoutHours": "48",
    "DataRetentionDays": "90",
    "RecordRetentionDays": "365",
    "PayloadUrlHosts": "amazonaws.com,storage.example.net",
    "TerraDeliveryPrincipalArn": TERRA_ROLE,
}
# Parameters that only make sense together with another one: the second value needs the other set too.
COMPANIONS = {
    "JwtIssuer": {"JwtAudience": "mobile-app"},
    "JwtAudience": {"JwtIssuer": ISSUER},
    "TerraSecretKmsKeyArn": {"TerraSecretArn": SECRET_ARN},
}
