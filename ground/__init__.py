"""The ground floor of Shardline: what every other package builds on.

It imports nothing of the project above it (``schemas``, ``pipelines``, ``connectors``,
``shardline``): errors (:mod:`ground.errors`), connection settings (:mod:`ground.settings`),
the clock (:mod:`ground.clock`), Kafka admin helpers (:mod:`ground.kafka`), topic retention
by record time (:mod:`ground.retention`), the S3 client (:mod:`ground.s3`), Java date
patterns (:mod:`ground.java_pattern`) and fault injection for the fault tests
(:mod:`ground.faults`). Import from the modules; this package names them.
"""

from __future__ import annotations

__all__ = ["clock", "errors", "faults", "java_pattern", "kafka", "retention", "s3", "settings"]
