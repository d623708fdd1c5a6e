"""Firehose ``Prefix``/``ErrorOutputPrefix`` expressions: parsed once, evaluated deterministically.

A prefix is literal text with ``!{namespace:value}`` expressions (Firehose developer guide,
"Custom Prefixes for Amazon S3 Objects"):

``!{timestamp:<Java DateTimeFormatter pattern>}``
    UTC, the arrival time of the oldest record in the object. Every instance in one prefix
    evaluates to the same instant. Supported pattern letters: ``y yy yyy yyyy`` (``yy`` is the
    two-digit year), ``M MM``, ``d dd``, ``H HH``, ``m mm``, ``s ss``; ``'quoted text'`` is
    literal and ``''`` is one quote. Any other letter, ``[ ] { } #``, or an unterminated quote
    is a :class:`ConfigError`.
``!{firehose:random-string}``
    11 characters (here from ``[a-z0-9]``); each instance in one prefix differs.
``!{firehose:error-output-type}``
    Only in ``ErrorOutputPrefix``: ``processing-failed``, ``AmazonOpenSearchService-failed``, ...
``!{partitionKeyFromQuery:name}`` / ``!{partitionKeyFromLambda:name}``
    Dynamic partitioning only; the values are passed to :meth:`Prefix.render`.

The rules enforced when compiling (a :class:`ConfigError` naming ``Prefix`` or
``ErrorOutputPrefix``, never at delivery time):

- ``!{`` may only open a well-formed ``!{namespace:value}``; unknown namespaces and firehose
  values are refused; at most :data:`MAX_PREFIX_CHARS` characters (the API's limit).
- ``Prefix`` can't contain ``!{firehose:error-output-type}``; an ``ErrorOutputPrefix`` with
  expressions must contain it at least once.
- ``partitionKeyFromQuery``/``partitionKeyFromLambda`` need dynamic partitioning, which in turn
  needs a ``Prefix`` and an ``ErrorOutputPrefix``. They are refused in ``ErrorOutputPrefix``
  (records that fail partitioning have no keys) — Shardline's reading, not a documented rule.
- ``ErrorOutputPrefix`` may be empty only if ``Prefix`` has no expressions
  (:func:`compile_prefixes`); it then evaluates to ``<Prefix><error-output-type>/yyyy/MM/dd/HH/``.
- A ``Prefix`` without a timestamp expression gets ``yyyy/MM/dd/HH/`` appended (not with
  dynamic partitioning). A plain ``ErrorOutputPrefix`` (no expressions) is treated like the
  empty case on its own text: ``<ErrorOutputPrefix><error-output-type>/yyyy/MM/dd/HH/``; one
  with expressions is used as written.

**Determinism.** Shardline delivers exactly once: a replay of a batch must rewrite the same
key. So nothing here reads the wall clock or :mod:`random`. The timestamp is the Kafka
timestamp (Kinesis' ApproximateArrivalTimestamp) of the batch's first record, and
``random-string`` is a BLAKE2b hash of ``random_seed`` (see :func:`random_seed`: stream name,
topic, partition and start offset) and the expression's position, written in base 36 — it
spreads keys like Firehose's, but a replay gets the same string.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from ground.errors import ConfigError
from ground.java_pattern import PatternError, tokenize

__all__ = [
    "DEFAULT_TIMESTAMP_PATTERN",
    "ERROR_OUTPUT_TYPES",
    "MAX_PREFIX_CHARS",
    "RANDOM_STRING_CHARS",
    "Prefix",
    "PrefixPair",
    "compile_prefix",
    "compile_prefixes",
    "java_to_strftime",
    "random_seed",
]

MAX_PREFIX_CHARS = 1024
RANDOM_STRING_CHARS = 11
RANDOM_ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyz"
DEFAULT_TIMESTAMP_PATTERN = "yyyy/MM/dd/HH/"
ERROR_OUTPUT_TYPES = frozenset({
    "processing-failed",
    "AmazonOpenSearchService-failed",
    "elasticsearch-failed",
    "splunk-failed",
    "format-conversion-failed",
    "http-endpoint-failed",
    "DynamicPartitioning.ActivePartitionsExceeded",
    "DynamicPartitioning.MetadataExtractionFailed",
})  # Firehose's values, for reference: Shardline's destinations add their own (s3-failed)

PREFIX = "Prefix"
ERROR_OUTPUT_PREFIX = "ErrorOutputPrefix"
_FIELDS = (PREFIX, ERROR_OUTPUT_PREFIX)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

# Java letter → (strftime directive by letter count); a count not listed is refused.
_DIRECTIVES: dict[str, dict[int, str]] = {
    "y": {1: "%Y", 2: "%y", 3: "%Y", 4: "%Y"},  # years 1970-9999 need no padding beyond 4
    "M": {1: "%-m", 2: "%m"},
    "d": {1: "%-d", 2: "%d"},
    "H": {1: "%-H", 2: "%H"},
    "m": {1: "%-M", 2: "%M"},
    "s": {1: "%-S", 2: "%S"},
}
_RESERVED = frozenset("[]{}#")


def java_to_strftime(pattern: str, *, field: str = PREFIX) -> str:
    """Translate a Java ``DateTimeFormatter`` pattern (the subset above) to a strftime format."""
    try:
        tokens = tokenize(pattern)
    except PatternError:
        raise ConfigError(field, f"unterminated quote in timestamp pattern {pattern!r}") from None
    out: list[str] = []
    for letter, value in tokens:
        if letter in ("", "'"):
            text = str(value)
            if not letter and text in _RESERVED:
                raise ConfigError(
                    field, f"{text!r} in timestamp pattern {pattern!r} is not supported"
                )
            out.append(text.replace("%", "%%"))
            continue
        directive = _DIRECTIVES.get(letter, {}).get(int(value))
        if directive is None:
            raise ConfigError(
                field, f"timestamp pattern letter {letter * int(value)!r} is not supported "
                f"(supported: y, yy, yyyy, M, MM, d, dd, H, HH, m, mm, s, ss)",
            )
        out.append(directive)
    return "".join(out)


def random_seed(stream: str, topic: str, partition: int, start_offset: int) -> bytes:
    """The seed of ``!{firehose:random-string}`` for one batch: unambiguous, replay-stable."""
    parts = (stream.encode(), topic.encode(), str(partition).encode(), str(start_offset).encode())
    return b"".join(len(p).to_bytes(4, "big") + p for p in parts)


def _random_string(seed: bytes, index: int) -> str:
    digest = hashlib.blake2b(seed + index.to_bytes(4, "big"), digest_size=16).digest()
    value = int.from_bytes(digest, "big")
    chars = []
    for _ in range(RANDOM_STRING_CHARS):
        value, digit = divmod(value, len(RANDOM_ALPHABET))
        chars.append(RANDOM_ALPHABET[digit])
    return "".join(chars)


@dataclass(frozen=True, slots=True)
class _Literal:
    text: str


@dataclass(frozen=True, slots=True)
class _Timestamp:
    strftime: str


@dataclass(frozen=True, slots=True)
class _RandomString:
    index: int  # its place among the prefix's random strings: each one differs


@dataclass(frozen=True, slots=True)
class _ErrorOutputType:
    pass


@dataclass(frozen=True, slots=True)
class _PartitionKey:
    namespace: str
    name: str


_Segment = _Literal | _Timestamp | _RandomString | _ErrorOutputType | _PartitionKey


@dataclass(frozen=True, slots=True)
class Prefix:
    """A compiled prefix. ``text`` is as configured; ``segments`` include the appended default."""

    text: str
    field: str
    segments: tuple[_Segment, ...]
    has_expressions: bool

    @property
    def uses_error_output_type(self) -> bool:
        return any(isinstance(s, _ErrorOutputType) for s in self.segments)

    @property
    def partition_keys(self) -> tuple[tuple[str, str], ...]:
        """``(namespace, name)`` of every partition-key expression, in order."""
        return tuple((s.namespace, s.name) for s in self.segments if isinstance(s, _PartitionKey))

    def render(
        self,
        timestamp_ms: int,
        *,
        random_seed: bytes,
        error_output_type: str | None = None,
        partition_keys: Mapping[str, str] | None = None,
    ) -> str:
        """The evaluated prefix for a batch whose oldest record arrived at ``timestamp_ms``."""
        when = _EPOCH + timedelta(milliseconds=max(0, timestamp_ms))
        out: list[str] = []
        for s in self.segments:
            if isinstance(s, _Literal):
                out.append(s.text)
            elif isinstance(s, _Timestamp):
                out.append(when.strftime(s.strftime))
            elif isinstance(s, _RandomString):
                out.append(_random_string(random_seed, s.index))
            elif isinstance(s, _ErrorOutputType):
                if not error_output_type:
                    raise ConfigError(self.field, "rendering it needs an error_output_type")
                out.append(error_output_type)
            else:
                value = (partition_keys or {}).get(s.name)
                if value is None:
                    raise ConfigError(self.field, f"no value for partition key {s.name!r}")
                out.append(value)
        rendered = "".join(out)
        if len(rendered) > MAX_PREFIX_CHARS:
            raise ConfigError(
                self.field, f"evaluates to {len(rendered)} characters, over {MAX_PREFIX_CHARS}"
            )
        return rendered


def _parse(text: str, field: str) -> list[_Segment]:
    segments: list[_Segment] = []
    randoms = 0
    i = 0
    while True:
        start = text.find("!{", i)
        if start < 0:
            if i < len(text):
                segments.append(_Literal(text[i:]))
            return segments
        if start > i:
            segments.append(_Literal(text[i:start]))
        end = text.find("}", start + 2)
        if end < 0:
            raise ConfigError(field, f"'!{{' at {start} has no closing '}}'")
        body = text[start + 2:end]
        if "!{" in body:
            raise ConfigError(field, f"'!{{' at {start} has no closing '}}' before the next '!{{'")
        namespace, colon, value = body.partition(":")
        if not colon or not value:
            raise ConfigError(field, f"!{{{body}}} is not of the form !{{namespace:value}}")
        segments.append(_expression(namespace, value, field, randoms))
        if isinstance(segments[-1], _RandomString):
            randoms += 1
        i = end + 1


def _expression(namespace: str, value: str, field: str, randoms: int) -> _Segment:
    if namespace == "timestamp":
        return _Timestamp(java_to_strftime(value, field=field))
    if namespace == "firehose":
        if value == "random-string":
            return _RandomString(randoms)
        if value == "error-output-type":
            if field == PREFIX:
                raise ConfigError(field, "!{firehose:error-output-type} is only allowed in "
                                         "ErrorOutputPrefix")
            return _ErrorOutputType()
        raise ConfigError(field, f"unknown firehose value {value!r} "
                                 "(random-string or error-output-type)")
    if namespace in ("partitionKeyFromQuery", "partitionKeyFromLambda"):
        return _PartitionKey(namespace, value)
    raise ConfigError(field, f"unknown namespace {namespace!r} (timestamp, firehose, "
                             "partitionKeyFromQuery, partitionKeyFromLambda)")


def compile_prefix(
    text: str, *, field: str = PREFIX, dynamic_partitioning: bool = False
) -> Prefix:
    """Parse and check one prefix, applying the defaults described in the module docstring."""
    if field not in _FIELDS:
        raise ValueError(f"field must be one of {_FIELDS}, got {field!r}")
    if len(text) > MAX_PREFIX_CHARS:
        raise ConfigError(field, f"{len(text)} characters, over {MAX_PREFIX_CHARS}")
    segments = _parse(text, field)
    has_expressions = any(not isinstance(s, _Literal) for s in segments)
    keys = [s for s in segments if isinstance(s, _PartitionKey)]
    if keys and field == ERROR_OUTPUT_PREFIX:
        raise ConfigError(field, f"!{{{keys[0].namespace}:...}} can't be used in ErrorOutputPrefix")
    if keys and not dynamic_partitioning:
        raise ConfigError(field, f"!{{{keys[0].namespace}:{keys[0].name}}} needs dynamic "
                                 "partitioning enabled")
    default = _Timestamp(java_to_strftime(DEFAULT_TIMESTAMP_PATTERN))
    if field == PREFIX:
        if not dynamic_partitioning and not any(isinstance(s, _Timestamp) for s in segments):
            segments.append(default)
    elif not has_expressions:
        segments += [_ErrorOutputType(), _Literal("/"), default]
    elif not any(isinstance(s, _ErrorOutputType) for s in segments):
        raise ConfigError(field, "an ErrorOutputPrefix with expressions must contain "
                                 "!{firehose:error-output-type}")
    return Prefix(text, field, tuple(segments), has_expressions)


@dataclass(frozen=True, slots=True)
class PrefixPair:
    """A destination's ``Prefix`` and ``ErrorOutputPrefix``, checked together."""

    prefix: Prefix
    error_output_prefix: Prefix


def compile_prefixes(
    prefix: str, error_output_prefix: str | None = None, *, dynamic_partitioning: bool = False
) -> PrefixPair:
    """Both prefixes of one destination; an empty ``ErrorOutputPrefix`` derives from ``Prefix``."""
    compiled = compile_prefix(prefix, field=PREFIX, dynamic_partitioning=dynamic_partitioning)
    if dynamic_partitioning and not prefix:
        raise ConfigError(PREFIX, "is required with dynamic partitioning")
    if error_output_prefix:
        error = compile_prefix(error_output_prefix, field=ERROR_OUTPUT_PREFIX)
    elif dynamic_partitioning:
        raise ConfigError(ERROR_OUTPUT_PREFIX, "is required with dynamic partitioning")
    elif compiled.has_expressions:
        raise ConfigError(ERROR_OUTPUT_PREFIX, "can't be empty when Prefix contains expressions")
    else:
        error = compile_prefix(prefix, field=ERROR_OUTPUT_PREFIX)
    return PrefixPair(compiled, error)
