"""Where the stateful pumps of the KDA Developer Guide's example applications run, from their
SQL as the integration corpus holds it (``tests/integration/sql_apps/guide_*`` and the
machine-learning examples). ``test_sql_guide`` runs the guide's on topics of four partitions
keyed by ticker and checks their results (``test_sql_ml`` the machine-learning ones); this
pins the stages and repartition topics ``shardline sql explain`` shows for them, so a
planner that silently dropped a shuffle (or added one) fails here, in milliseconds, not as
wrong numbers on the stack."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pytest

from pipelines.sql.application import application_topology, check_application
from pipelines.sql.stages import Topology

APPS = Path(__file__).resolve().parents[3] / "integration" / "sql_apps"


@dataclass(frozen=True)
class Expected:
    """The repartitions of an application: ``(pump, partials, stage, keyed by)`` each, and
    the stage (0: where the input is) of every pump."""

    repartitions: tuple[tuple[str, bool, int, str], ...]
    stages: dict[str, int]
    #: explain's lines (each must appear), beyond those the repartitions imply
    lines: tuple[str, ...] = field(default=())


def _where(key: str) -> str:
    return (f"(no repartition: its keys include {key}, the input topic's key: Inputs "
            "PartitionKey of SOURCE_SQL_STREAM_001)")  # fmt: skip


ROWS_BY_ORDER_ID = "ORDERSTREAM: ORDERID; TRADESTREAM: ORDERID"
ONE_PARTITION = "SOURCE_SQL_STREAM_001: (one partition)"

EXPECTED: dict[str, Expected] = {
    # grouped by the key (TICKER): each input partition runs its own windows
    "guide_tumbling_rowtime": Expected((), {"STREAM_PUMP": 0}, (
        "pump STREAM_PUMP: SOURCE_SQL_STREAM_001 → DESTINATION_SQL_STREAM "
        + _where("TICKER"),
    )),
    "guide_tumbling_event_time": Expected((), {"STREAM_PUMP": 0}, (
        "pump STREAM_PUMP: SOURCE_SQL_STREAM_001 → DESTINATION_SQL_STREAM "
        + _where("TICKER"),
    )),
    "guide_stagger": Expected((), {"STREAM_PUMP": 0}, (
        "pump STREAM_PUMP: SOURCE_SQL_STREAM_001 → DESTINATION_SQL_STREAM "
        + _where("TICKER_SYMBOL"),
    )),
    # the sliding window in the subquery: PARTITION BY ticker_symbol, the key
    "guide_throttled_alerts": Expected((), {
        "change_pump": 0, "TRIGGER_COUNT_PUMP$1": 0, "TRIGGER_COUNT_PUMP": 0,
    }, (
        "pump TRIGGER_COUNT_PUMP$1: CHANGE_STREAM → TRIGGER_COUNT_PUMP$1 "
        + _where("TICKER_SYMBOL"),
    )),
    # over the whole stream: per-partition top-k counters, merged in one partition (ROWTIME
    # windows: no key holds a window start)
    "guide_top_k": Expected(
        (("STREAM_PUMP", True, 1, "(one partition)"),), {"STREAM_PUMP": 1},
        ("pump STREAM_PUMP (partial): SOURCE_SQL_STREAM_001 → partial aggregates → "
         "it-sql-guide-top-k-STREAM_PUMP-repartition",
         "pump STREAM_PUMP (final): partial aggregates → DESTINATION_SQL_STREAM"),
    ),
    # the first pump groups by the key; the second PARTITION BY "TRADETIME": rows
    "guide_partial_results": Expected(
        (("AGGREGATED_SQL_PUMP", False, 1, "CALC_COUNT_SQL_STREAM: TRADETIME"),),
        {"CALC_COUNT_SQL_PUMP_001": 0, "AGGREGATED_SQL_PUMP": 1},
        ("pump CALC_COUNT_SQL_PUMP_001: SOURCE_SQL_STREAM_001 → CALC_COUNT_SQL_STREAM "
         + _where("TICKER_SYMBOL"),
         "rows of CALC_COUNT_SQL_STREAM → "
         "it-sql-guide-partial-results-AGGREGATED_SQL_PUMP-repartition"),
    ),
    # no declared key (orders and trades in one stream): the count per ticker in two phases
    "guide_two_record_types": Expected(
        (("Output_Pump", True, 1, "TICKER"),),
        {"Order_Pump": 0, "Trade_Pump": 0, "Output_Pump": 1},
        ("pump Output_Pump (partial): Trade_Stream → partial aggregates → "
         "it-sql-guide-two-record-types-Output_Pump-repartition",),
    ),
    # both sides of each join co-partitioned by the order id, each join in its stage
    "guide_stream_join": Expected(
        (("JOIN_PUMP", False, 1, ROWS_BY_ORDER_ID),
         ("NAMED_WINDOW_PUMP", False, 2, ROWS_BY_ORDER_ID)),
        {"ORDER_PUMP": 0, "TRADE_PUMP": 0, "JOIN_PUMP": 1, "NAMED_WINDOW_PUMP": 2},
        ("rows of ORDERSTREAM → it-sql-guide-stream-join-JOIN_PUMP-repartition",
         "rows of TRADESTREAM → it-sql-guide-stream-join-JOIN_PUMP-repartition",
         "rows of ORDERSTREAM → it-sql-guide-stream-join-NAMED_WINDOW_PUMP-repartition",
         "rows of TRADESTREAM → it-sql-guide-stream-join-NAMED_WINDOW_PUMP-repartition",
         "pump JOIN_PUMP: ORDERSTREAM ⋈ TRADESTREAM → JOINED_STREAM",
         "pump NAMED_WINDOW_PUMP: ORDERSTREAM ⋈ TRADESTREAM → NAMED_WINDOW_STREAM"),
    ),
    # one model for the whole stream: every row to one partition
    "anomaly_detection": Expected(
        (("STREAM_PUMP", False, 1, ONE_PARTITION),), {"STREAM_PUMP": 1},
        ("rows of SOURCE_SQL_STREAM_001 → it-sql-anomaly-detection-STREAM_PUMP-repartition",),
    ),
    # and its OUTPUT_PUMP sorts the scored rows in ROWTIME order where they are: TEMP_STREAM
    # is in one partition already (the model's), so no second shuffle
    "anomaly_explanation": Expected(
        (("STREAM_PUMP", False, 1, ONE_PARTITION),),
        {"STREAM_PUMP": 1, "OUTPUT_PUMP$1": 1, "OUTPUT_PUMP": 1},
        ("rows of SOURCE_SQL_STREAM_001 → it-sql-anomaly-explanation-STREAM_PUMP-repartition",
         "pump OUTPUT_PUMP: OUTPUT_PUMP$1 → DESTINATION_SQL_STREAM (no repartition: "
         "OUTPUT_PUMP$1 is in one partition already, of repartition topic "
         "it-sql-anomaly-explanation-STREAM_PUMP-repartition)"),
    ),
    "hotspots": Expected(
        (("STREAM_PUMP", False, 1, ONE_PARTITION),), {"STREAM_PUMP": 1},
        ("rows of SOURCE_SQL_STREAM_001 → it-sql-hotspots-STREAM_PUMP-repartition",),
    ),
}  # fmt: skip

#: the guide's examples without a stateful pump: filters, projections, a reference join
STATELESS = {
    "guide_simple_alerts", "guide_error_stream", "guide_reference_data", "guide_substring",
    "guide_regex_replace", "guide_regex_log_parse", "guide_w3c_log_parse",
    "guide_variable_column_log_parse", "guide_datetime",
}  # fmt: skip


def topology(name: str) -> tuple[str, Topology]:
    config, plan = check_application(APPS / name)
    return config.application_name, application_topology(config, plan)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_the_guide_examples_run_where_explain_says(name: str) -> None:
    app, t = topology(name)
    want = EXPECTED[name]
    assert [(r.topic, r.pump, r.partials, r.stage, r.key) for r in t.repartitions] == [
        (f"{app}-{pump}-repartition", pump, partials, stage, key)
        for pump, partials, stage, key in want.repartitions
    ]
    assert {s.pump: stage.index for stage in t.stages for s in stage.steps} == want.stages
    text = "\n".join(t.explain())
    assert text.count("  stage ") == 1 + len(want.repartitions)
    for r in t.repartitions:
        kind = "partial aggregates" if r.partials else "rows"
        assert (f"  stage {r.stage} reads repartition topic {r.topic} ({kind}, keyed by "
                f"{r.key})\n    why: ") in text  # fmt: skip
    for line in want.lines:
        assert f"    {line}\n" in text + "\n", line
    if not want.repartitions:
        assert "repartition topic" not in text and "rows of " not in text


@pytest.mark.parametrize("name", sorted(STATELESS))
def test_the_stateless_guide_examples_run_where_their_input_is(name: str) -> None:
    _, t = topology(name)
    assert t.repartitions == [] and len(t.stages) == 1


def test_every_guide_example_is_pinned() -> None:
    guide = {p.name for p in APPS.iterdir() if p.name.startswith("guide_")}
    assert guide == (set(EXPECTED) | STATELESS) - {"anomaly_detection", "anomaly_explanation",
                                                   "hotspots"}  # fmt: skip
