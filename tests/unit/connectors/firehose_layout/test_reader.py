"""Reading a Firehose-layout document: a Node refuses what it did not read, a Translation
remembers where each value of the Shardline mapping came from."""

from __future__ import annotations

import pytest

from connectors.firehose_layout.reader import Node, Translation
from ground.errors import ConfigError


def test_translation_paths_map_back_to_the_users_fields() -> None:
    tr = Translation()
    tr.section("s3", "Dest")
    tr.put("s3.buffering.size_mb", 64, "Dest.BufferingHints.SizeInMBs")
    tr.put("s3.mappings", {"a": "b"}, "Dest.Mappings")
    assert tr.mapping == {"s3": {"buffering": {"size_mb": 64}, "mappings": {"a": "b"}}}
    assert tr.source_of("s3.buffering.size_mb") == "Dest.BufferingHints.SizeInMBs"
    assert tr.source_of("s3.buffering") == "Dest.BufferingHints"  # the parent of its source
    assert tr.source_of("s3.mappings.a") == "Dest.Mappings.a"  # below a value passed on as is
    assert tr.source_of("s3.bucket") == "Dest"  # missing: named where its section came from
    assert tr.source_of("topic") is None


def test_a_node_reads_marks_and_refuses_the_rest() -> None:
    tr = Translation()
    node = Node({"Name": "n", "Role": "r", "Kms": {"k": 1}, "Empty": "", "Odd": 1}, "S")
    assert node.string("Name", required=True) == "n"
    assert node.string("Absent") is None and node.node("Absent") is None and node.items("L") == []
    node.ignore(tr, "roles do not apply", "Role")
    assert tr.notices == ["S.Role: ignored (roles do not apply)"]
    node.reject("not supported", "Empty")  # empty: nothing to refuse
    with pytest.raises(ConfigError, match=r"^S\.Kms: not supported"):
        node.reject("not supported", "Kms")
    with pytest.raises(ConfigError, match=r"^S\.Odd: unknown setting"):
        node.done()
    with pytest.raises(ConfigError, match=r"^S\.Name: one of a, b, got 'n'"):
        node.choice("Name", ("a", "b"), "a")
