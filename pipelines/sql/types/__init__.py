"""SQL types and values of the KDA dialect.

Values are plain Python objects, chosen for speed on the hot path:

=================  ==========================================================
SQL type           Python value
=================  ==========================================================
NULL               ``None``
BOOLEAN            ``bool``
TINYINT … BIGINT   ``int``
REAL, DOUBLE       ``float``
DECIMAL(p, s)      ``decimal.Decimal``
CHAR, VARCHAR      ``str``
BINARY, VARBINARY  ``bytes``
TIMESTAMP          :class:`Timestamp` — ``int`` milliseconds since the epoch, UTC
DATE               :class:`Date` — ``int`` milliseconds of that day's midnight, UTC
TIME               :class:`Time` — ``int`` milliseconds since midnight
INTERVAL (day-time) :class:`Interval` — ``int`` milliseconds
INTERVAL (year-    :class:`MonthInterval` — ``int`` months (expressions only: KDA has
month)             no year-month column type)
ROW(f1 t1, …)      ``tuple`` of the field values, in field order (``None`` for
                   a NULL row); the field names and types live in the
                   :class:`SqlType` (``fields``), not in the value
=================  ==========================================================

ROW values are what the log-parsing functions return (``REGEX_LOG_PARSE`` …): an expression
reads a field as ``row_expr.FIELD``; a ROW is never a stream column.

The temporal classes subclass ``int`` so that comparisons, hashing and ordering are free;
arithmetic on them returns plain ``int``, so the expression compiler re-wraps results.

:mod:`.kinds` holds the types, :mod:`.parsing` reads type names, :mod:`.values` the temporal
values and :mod:`.coercion` converts decoded values to a type.
"""

from __future__ import annotations

from pipelines.sql.types.coercion import COERCION_ERROR, coerce, format_value
from pipelines.sql.types.kinds import (
    INTERVAL_FIELDS,
    YEAR_MONTH_FIELDS,
    Fn,
    Row,
    SqlType,
    TypeKind,
    interval_qualifier,
    is_year_month,
)
from pipelines.sql.types.parsing import UnsupportedTypeError, parse_type
from pipelines.sql.types.values import (
    Date,
    Interval,
    MonthInterval,
    Time,
    Timestamp,
    add_months,
    interval_text,
    month_interval_text,
    parse_timestamp,
)

__all__ = [
    "COERCION_ERROR",
    "Date",
    "Fn",
    "INTERVAL_FIELDS",
    "Interval",
    "MonthInterval",
    "Row",
    "SqlType",
    "Time",
    "Timestamp",
    "TypeKind",
    "UnsupportedTypeError",
    "YEAR_MONTH_FIELDS",
    "add_months",
    "coerce",
    "format_value",
    "interval_qualifier",
    "interval_text",
    "is_year_month",
    "month_interval_text",
    "parse_timestamp",
    "parse_type",
]
