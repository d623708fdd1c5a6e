"""The ground floor of Shardline: what every other package builds on.

It imports nothing of the project above it (``schemas``, ``pipelines``, ``connectors``,
``shardline``):

- errors and secrets: :mod:`ground.errors` (the one exception tree), :mod:`ground.secret`;
- settings and config files: :mod:`ground.settings`, :mod:`ground.config_reader`;
- time: :mod:`ground.clock`;
- Kafka: :mod:`ground.kafka_config` (every client's configuration), :mod:`ground.kafka`
  (admin helpers), :mod:`ground.kafka_check` (start-up checks), :mod:`ground.msk_iam`,
  :mod:`ground.java_properties`, :mod:`ground.retention`;
- S3: :mod:`ground.s3`;
- shared pieces: :mod:`ground.java_pattern` (Java date patterns), :mod:`ground.faults`
  (fault injection for the fault tests).

Import from the modules; this package names them.
"""

from __future__ import annotations

__all__ = [
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
    "secret",
    "settings",
]
