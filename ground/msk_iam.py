"""Amazon MSK IAM authentication: SASL/OAUTHBEARER tokens signed with AWS credentials.

MSK's IAM listeners take a SigV4-presigned ``kafka-cluster:Connect`` URL as the OAUTHBEARER
token. :class:`MskIamTokenProvider` is the ``oauth_cb`` confluent-kafka calls whenever a
client needs a token (at start and before the last one expires); it signs with AWS's own
``aws-msk-iam-sasl-signer-python`` (the ``msk`` extra), which takes the credentials from
botocore's chain (environment, profile, web identity, container or instance role), a named
profile, or a role it assumes. Signing is local: no network call, except the ``AssumeRole``
of ``role_arn``. Tokens are never logged.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from types import ModuleType

from ground.errors import ConfigError, KafkaSecurityError

__all__ = ["DEFAULT_ROLE_SESSION_NAME", "MSK_IAM_MECHANISM", "MskIamTokenProvider", "signer"]

log = logging.getLogger(__name__)

#: the ``sasl.mechanism`` that selects MSK IAM (the name MSK's Java client uses)
MSK_IAM_MECHANISM = "AWS_MSK_IAM"
DEFAULT_ROLE_SESSION_NAME = "shardline"


def signer() -> ModuleType:
    """AWS's MSK token signer; a ConfigError naming the setting when it is not installed."""
    try:
        from aws_msk_iam_sasl_signer import MSKAuthTokenProvider
    except ImportError:
        raise ConfigError(
            "SHARDLINE_KAFKA_SASL_MECHANISM",
            f"{MSK_IAM_MECHANISM} needs aws-msk-iam-sasl-signer-python: "
            "pip install 'shardline[msk]'",
        ) from None
    return MSKAuthTokenProvider


@dataclass(frozen=True, slots=True)
class MskIamTokenProvider:
    """confluent-kafka's ``oauth_cb`` for MSK IAM: ``(token, expiry in epoch seconds)``."""

    region: str
    profile: str = ""
    role_arn: str = ""
    role_session_name: str = DEFAULT_ROLE_SESSION_NAME

    def __post_init__(self) -> None:
        if not self.region:
            raise ConfigError(
                "SHARDLINE_KAFKA_AWS_REGION",
                f"{MSK_IAM_MECHANISM} needs the cluster's AWS region (or set AWS_REGION)",
            )
        signer()  # fail at start-up, not at the first connection

    def __call__(self, _oauthbearer_config: str | None = None) -> tuple[str, float]:
        sign = signer()
        try:
            if self.role_arn:
                token, expiry_ms = sign.generate_auth_token_from_role_arn(
                    self.region, self.role_arn, self.role_session_name
                )
            elif self.profile:
                token, expiry_ms = sign.generate_auth_token_from_profile(
                    self.region, self.profile
                )
            else:
                token, expiry_ms = sign.generate_auth_token(self.region)
        except Exception as exc:
            # No credentials in the chain gives an AttributeError on None inside the signer.
            reason = "no AWS credentials found" if isinstance(exc, AttributeError) else (
                type(exc).__name__)
            message = (
                f"Kafka: could not sign an MSK IAM token ({reason}) for region {self.region}: "
                "check the AWS credentials (AWS_* variables, profile, role) and "
                "SHARDLINE_KAFKA_AWS_REGION"
            )
            log.error("%s", message)
            raise KafkaSecurityError(message, setting="SHARDLINE_KAFKA_AWS_REGION") from None
        return str(token), float(expiry_ms) / 1000.0

    def __repr__(self) -> str:
        via = (f"role {self.role_arn}" if self.role_arn else
               f"profile {self.profile}" if self.profile else "the default credential chain")
        return f"MskIamTokenProvider(region={self.region!r}, credentials from {via})"
