"""The process host: Faust's worker and service lifecycle around Shardline's loops.

``shardline run`` and ``shardline deliver`` build a :class:`HostApp`, add the SQL
application or the delivery workers as services, and :func:`run_host` it; a Faust user does
the same in a module of their own, adds agents, and runs ``faust -A module worker``. See
``docs/faust.md``.

The SQL runtime's service is in :mod:`shardline.host.sql` (``SqlService``, ``SqlOutput``),
not imported here: it loads the SQL engine, which a delivery process does not need.
"""

from shardline.host.app import HostApp
from shardline.host.delivery import DeliveryService
from shardline.host.documents import METADATA_KEY, Document, DocumentTopic, carries_metadata
from shardline.host.kafka import ReadCommittedTransport
from shardline.host.metrics import HostCollector
from shardline.host.run import run_host
from shardline.host.service import LoopService, ServiceState
from shardline.host.web import DEFAULT_WEB_HOST, check_port
from shardline.host.worker import ABORT_EXIT_CODE, FAILURE_EXIT_CODE, HostWorker

__all__ = [
    "ABORT_EXIT_CODE",
    "DEFAULT_WEB_HOST",
    "DeliveryService",
    "Document",
    "DocumentTopic",
    "FAILURE_EXIT_CODE",
    "HostApp",
    "HostCollector",
    "HostWorker",
    "LoopService",
    "METADATA_KEY",
    "ReadCommittedTransport",
    "ServiceState",
    "carries_metadata",
    "check_port",
    "run_host",
]
