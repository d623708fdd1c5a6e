"""The analytics side: KDA SQL applications (``pipelines.sql``), run on the exactly-once
runtime (``pipelines.runtime``).

An application is a folder with ``application.yaml`` and ``app.sql``.
:func:`check_application` validates it without contacting anything;
:func:`load_sql_application` plans it with its reference data, and its
:meth:`SqlApplication.processor` is the per-partition processor the runtime hosts: of an
input topic (:class:`SqlPartitionProcessor`) or of one of the repartition topics between its
stages (:class:`StageProcessor`).
"""

from pipelines.sql import (
    ApplicationConfig,
    SqlApplication,
    SqlPartitionProcessor,
    StageProcessor,
    check_application,
    import_kda_description,
    load_application,
    load_sql_application,
)

__all__ = [
    "ApplicationConfig",
    "SqlApplication",
    "SqlPartitionProcessor",
    "StageProcessor",
    "check_application",
    "import_kda_description",
    "load_application",
    "load_sql_application",
]
