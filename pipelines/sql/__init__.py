"""KDA SQL applications: parse → plan → compile → run on the Shardline runtime.

The public names: an application's configuration (:class:`ApplicationConfig`,
:func:`load_application`, :func:`import_kda_description`), its SQL text parsed
(:func:`parse_statements`) and planned (:func:`plan_application`), and the application the
runtime hosts (:func:`check_application`, :func:`load_sql_application`,
:class:`SqlApplication`, its processors :class:`SqlPartitionProcessor` and
:class:`StageProcessor`).
"""

from pipelines.sql.appconfig import ApplicationConfig, load_application
from pipelines.sql.application import (
    SqlApplication,
    SqlPartitionProcessor,
    StageProcessor,
    check_application,
    load_sql_application,
)
from pipelines.sql.dialect import parse_statements
from pipelines.sql.kda_import import import_kda_description
from pipelines.sql.plan import plan_application

__all__ = [
    "ApplicationConfig",
    "SqlApplication",
    "SqlPartitionProcessor",
    "StageProcessor",
    "check_application",
    "import_kda_description",
    "load_application",
    "load_sql_application",
    "parse_statements",
    "plan_application",
]
