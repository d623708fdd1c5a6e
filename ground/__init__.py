"""The ground floor of Shardline: what every other package builds on.

It imports nothing of the project above it (``schemas``, ``pipelines``, ``connectors``,
``shardline``): errors (:mod:`ground.errors`), connection settings (:mod:`ground.settings`,
secrets in :mod:`ground.secret`), the clock (:mod:`ground.clock`), every Kafka client's
configuration (:mod:`ground.kafka_config`, with Java properties files read by
:mod:`ground.java_properties` and MSK IAM tokens signed by :mod:`ground.msk_iam`), Kafka
admin helpers and start-up checks (:mod:`ground.kafka`, :mod:`ground.kafka_check`), topic
retention by record time (:mod:`ground.retention`), the S3 client (:mod:`ground.s3`), Java
date patterns (:mod:`ground.java_pattern`) and fault injection for the fault tests
(:mod:`ground.faults`). Import from the modules; this package names them.
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
