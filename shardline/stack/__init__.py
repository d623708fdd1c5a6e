"""The embedded local stack: Kafka (KRaft), MinIO and Elasticsearch/OpenSearch as background
processes under one home folder, provisioned from Maven Central and the Go proxy.

::

    stack = Stack(Settings.from_env())
    started = stack.up()          # idempotent; names of the components it started
    stack.status()                # [ComponentStatus(...), ...]
    stack.down(started)           # only what this home's pid files name
"""

from __future__ import annotations

from shardline.stack.component import ComponentState, ComponentStatus
from shardline.stack.manager import COMPONENTS, Stack
from shardline.stack.progress import ConsoleReporter, LogReporter, Reporter

__all__ = [
    "COMPONENTS",
    "ComponentState",
    "ComponentStatus",
    "ConsoleReporter",
    "LogReporter",
    "Reporter",
    "Stack",
]
