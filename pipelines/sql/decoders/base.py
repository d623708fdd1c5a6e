"""The decoder contract: one record's bytes → its rows, a batch → rows and error rows; the
KDA error names of a record that cannot be decoded.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import NamedTuple

from ground.errors import RowError, SchemaRegistryError
from pipelines.sql.record_schema import Column, InputSchema
from pipelines.sql.types import Row

__all__ = [
    "DecodedBatch",
    "MALFORMED_RECORD",
    "RECORD_TOO_LARGE",
    "RowDecoder",
    "SCHEMA_MISMATCH",
    "unexpected_error",
]


#: ``ERROR_NAME`` of a record that is not valid in its format at all.
MALFORMED_RECORD = "Malformed_Record"


#: ``ERROR_NAME`` of a record of the wrong shape for the input schema.
SCHEMA_MISMATCH = "Schema_Mismatch"


#: A record over the application's ``Runtime.MaxRecordBytes`` (KDA: rows of at most 512 KB).
RECORD_TOO_LARGE = "Record_Too_Large"


class DecodedBatch(NamedTuple):
    """The rows of a batch of records, flat. ``sources[i]`` is the index (in the batch) of
    the record ``rows[i]`` came from; ``errors`` pairs a record index with its error."""

    rows: list[Row]
    sources: list[int]
    errors: list[tuple[int, RowError]]


class RowDecoder:
    """Decodes records of one input schema. One record gives 0..n rows (``decode_rows``);
    ``decode`` is the common case of exactly one."""

    columns: tuple[Column, ...]
    #: False when every record gives exactly one row (JSON/AVRO without arrays of rows).
    multi_row: bool = True
    #: ``(prefix, raw) -> prefix + row`` when every record gives exactly one row and the
    #: decoder has a fused fast form (AVRO with top-level members); raises as
    #: :meth:`decode_rows` does for a bad record.
    prefixed: Callable[[Row, bytes], Row] | None = None

    def __init__(self, schema: InputSchema) -> None:
        self.schema = schema
        self.columns = schema.record_columns

    def _decode(self, raw: bytes) -> list[Row]:  # pragma: no cover - abstract
        raise NotImplementedError

    def decode_rows(self, raw: bytes) -> list[Row]:
        """The rows of one record; :class:`RowError` if it cannot be decoded."""
        try:
            return self._decode(raw)
        except (RowError, SchemaRegistryError):  # the registry's failure is no record's
            raise
        except Exception as exc:  # a defect of a library or of ours: still a row error
            raise unexpected_error(exc) from exc

    def decode(self, raw: bytes) -> Row:
        """The one row of a record; ``Schema_Mismatch`` if it holds none or several."""
        rows = self.decode_rows(raw)
        if len(rows) != 1:
            raise RowError(SCHEMA_MISMATCH, f"expected one row in the record, found {len(rows)}")
        return rows[0]

    def decode_many(self, raws: Sequence[bytes]) -> DecodedBatch:
        """Decode a batch; never raises for a bad record (it is in ``errors``)."""
        rows: list[Row] = []
        sources: list[int] = []
        errors: list[tuple[int, RowError]] = []
        decode = self._decode
        for i, raw in enumerate(raws):
            try:
                got = decode(raw)
            except RowError as exc:
                errors.append((i, exc))
                continue
            except SchemaRegistryError:
                raise
            except Exception as exc:
                errors.append((i, unexpected_error(exc)))
                continue
            if len(got) == 1:
                rows.append(got[0])
                sources.append(i)
            else:
                rows.extend(got)
                sources.extend([i] * len(got))
        return DecodedBatch(rows, sources, errors)


def unexpected_error(exc: BaseException) -> RowError:
    return RowError(MALFORMED_RECORD, f"cannot decode the record: {type(exc).__name__}: {exc}")
