"""Records an agent writes for delivery, without Faust's metadata.

A ``faust.Record`` serializes with a ``"__faust": {"ns": "module.Class"}`` key by default
(``include_metadata``), so Faust can rebuild the class on the way back in. A delivery stream
ships record values as they are: that key would become a field of every Elasticsearch
document and every line of every S3 object. Two guards keep it out:

* :class:`Document` is a ``faust.Record`` base that serializes as plain JSON;
* :class:`DocumentTopic` (``HostApp.document_topic``) refuses, when declared, a value type
  that would add the key, and refuses to send any value whose serialized JSON holds it
  (a ``faust.Record`` sent without a declared type, a nested record, a dict carrying it).
"""

from __future__ import annotations

from typing import Any

import faust
from faust.models.base import Model
from faust.types import CodecArg, SchemaT
from faust.types.core import OpenHeadersArg

from ground.errors import ConfigError

__all__ = ["METADATA_KEY", "Document", "DocumentTopic", "carries_metadata"]

METADATA_KEY = "__faust"
_MARKER = b'"' + METADATA_KEY.encode() + b'"'


class Document(faust.Record, abstract=True, include_metadata=False, serializer="json"):
    """Base of the records an agent sends to a topic a delivery reads: plain JSON objects."""


def carries_metadata(value_type: Any) -> bool:
    """Whether values of ``value_type`` serialize with Faust's ``__faust`` key."""
    return (isinstance(value_type, type) and issubclass(value_type, Model)
            and bool(value_type._options.include_metadata))


class DocumentTopic(faust.Topic):
    """A topic whose values are delivered as they are: plain JSON, never Faust's metadata."""

    def __init__(self, app: faust.App, **kwargs: Any) -> None:
        value_type = kwargs.get("value_type")
        if carries_metadata(value_type):
            name = getattr(value_type, "__name__", value_type)
            raise ConfigError(
                "value_type",
                f"{name} serializes with Faust's {METADATA_KEY!r} key, which "
                "would land in delivered documents: derive it from shardline.host.Document "
                "(or declare it with include_metadata=False)",
            )
        kwargs.setdefault("value_serializer", "json")
        super().__init__(app, **kwargs)

    def prepare_value(
        self,
        value: Any,
        value_serializer: CodecArg,
        schema: SchemaT | None = None,
        headers: OpenHeadersArg | None = None,
    ) -> tuple[Any, OpenHeadersArg | None]:
        payload, headers = super().prepare_value(value, value_serializer, schema, headers)
        raw = payload.encode() if isinstance(payload, str) else payload
        if isinstance(raw, bytes | bytearray) and _MARKER in raw:
            raise ConfigError(
                "value",
                f"a value sent to {', '.join(self.topics)} holds Faust's {METADATA_KEY!r} key "
                f"({type(value).__name__}); send a shardline.host.Document or a plain mapping",
            )
        return payload, headers
