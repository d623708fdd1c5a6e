"""The ground floor of Shardline: what every other package builds on.

It imports nothing of the project above it (``schemas``, ``pipelines``, ``connectors``,
``shardline``):

- errors and secrets: :mod:`ground.errors` (the one exception tree), :mod:`ground.secret`;
- settings and config files: :mod:`ground.settings`, :mod:`ground.config_reader`;
- time: :mod:`ground.clock`; waiting at start-up for a server that is down:
  :mod:`ground.startup`;
- Kafka: :mod:`ground.kafka_config` (every client's configuration), :mod:`ground.kafka`
  (admin helpers), :mod:`ground.kafka_check` (start-up checks), :mod:`ground.msk_iam`,
  :mod:`ground.java_properties`, :mod:`ground.retention`;
- S3 and AWS: :mod:`ground.s3`, :mod:`ground.aws_credentials` (static keys, the credential
  chain, AssumeRole, refreshed before they expire);
- the search engine: :mod:`ground.search_auth` (basic, API key, bearer, SigV4; TLS);
- shared pieces: :mod:`ground.java_pattern` (Java date patterns), :mod:`ground.faults`
  (fault injection for the fault tests).

Import from the modules; this package names them.
"""

from __future__ import annotations

__all__ = [
    "aws_credentials",
    "clock",
    "errors",
    "faults",
    "java_pattern",
    "java_properties",
    "kafka",
    "kafka_check",
    "kafka_config",
    "msk_iam",
    "retention",
    "s3",
    "search_auth",
    "secret",
    "settings",
    "startup",
]
