"""Avro records in the Confluent wire format → rows, with a fused fast path."""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any

import fastavro

from ground.errors import CodecError, RowError, SchemaMismatchError
from pipelines.sql.decoders.base import MALFORMED_RECORD, SCHEMA_MISMATCH, RowDecoder
from pipelines.sql.decoders.converters import member_lines
from pipelines.sql.decoders.objects import ObjectRows
from pipelines.sql.record_schema import InputSchema
from pipelines.sql.types import Row
from schemas import AvroPlan, SchemaCatalog, codec_for

__all__ = ["AvroDecoder"]


class AvroDecoder(RowDecoder):
    """Confluent-framed Avro read as ``AvroSchema`` (the reader's schema). Each record's id
    names its writer's schema: without a schema registry only the schema's fixed id is
    read; with one, any id the registry knows, resolved to the reader's schema (a field
    added with a default, a field removed...). An id nobody knows, or a writer schema that
    cannot be resolved, is a ``Schema_Mismatch`` error row; a registry that does not answer
    stops the batch (:class:`~ground.errors.SchemaRegistryError`)."""

    def __init__(self, schema: InputSchema, catalog: SchemaCatalog | None = None) -> None:
        super().__init__(schema)
        name = schema.record_format.avro_schema
        if name is None:
            raise ValueError("an AVRO input schema needs AvroSchema")
        self._codec = codec_for("avro", name, catalog=catalog)
        #: Confluent header (5 bytes) → (writer, reader) of the ids read so far: the fast
        #: path's plans, filled by :meth:`_decode` as new ids come (the fixed id up front).
        self._plans: dict[bytes, tuple[dict[str, Any], dict[str, Any] | None]] = {}
        fixed = self._codec.catalog.fixed_id(name)
        if self._codec.catalog.registry is None and fixed is not None:
            self._remember(self._codec.plan(fixed))
        self._objects = ObjectRows(self.columns)
        self.multi_row = bool(self._objects.flat)
        if self._objects.key_pairs is not None:
            self.prefixed = self._compile_prefixed()

    def _remember(self, plan: AvroPlan) -> None:
        self._plans[b"\x00" + plan.schema_id.to_bytes(4, "big")] = (plan.writer, plan.reader)

    def _compile_prefixed(self) -> Callable[[Row, bytes], Row]:
        """``(prefix, raw) -> prefix + row`` of a record that gives exactly one row: the
        Confluent header looked up in the known ids' plans, one ``fastavro.schemaless_reader``
        call, the members converted inline into one tuple. Anything unusual (an id not seen
        yet, a bad header, an exception, trailing bytes, not a record) goes through
        :meth:`decode_rows`, which raises the right :class:`RowError` — so results and errors
        are those of ``decode_rows``."""
        pairs = self._objects.key_pairs
        assert pairs is not None
        env: dict[str, Any] = {
            "plans": self._plans,
            "read": fastavro.schemaless_reader,
            "BytesIO": io.BytesIO,
            "slow": self.decode,  # the one row, or the RowError of a bad record
        }
        lines = [
            "def prefixed(prefix, raw):",
            "    plan = plans.get(raw[:5])",
            "    if plan is None:",
            "        return prefix + slow(raw)",
            "    buf = BytesIO(raw)",
            "    buf.seek(5)",
            "    try:",
            "        obj = read(buf, plan[0], plan[1])",
            "    except Exception:",
            "        return prefix + slow(raw)",
            "    if buf.tell() != len(raw) or type(obj) is not dict:",
            "        return prefix + slow(raw)",
            "    get = obj.get",
            *member_lines(pairs, [c.sql_type for c in self.columns], env),
        ]
        values = "".join(f"v{i}, " for i in range(len(pairs)))
        lines.append(f"    return prefix + ({values})")
        exec(compile("\n".join(lines) + "\n", "<avro rows>", "exec"), env)
        prefixed: Callable[[Row, bytes], Row] = env["prefixed"]
        return prefixed

    def _decode(self, raw: bytes) -> list[Row]:
        if raw is None or len(raw) < 5 or raw[0] != 0:
            raise RowError(MALFORMED_RECORD, "not Avro in the Confluent wire format")
        raw = bytes(raw)
        try:
            plan = self._codec.plan(int.from_bytes(raw[1:5], "big"), raw)
            if raw[:5] not in self._plans:
                self._remember(plan)
            record = self._codec.decode(raw)
        except SchemaMismatchError as exc:
            raise RowError(SCHEMA_MISMATCH, exc.reason) from None
        except CodecError as exc:
            raise RowError(MALFORMED_RECORD, exc.reason) from None
        return self._objects.rows(record)
