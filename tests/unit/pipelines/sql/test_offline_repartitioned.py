"""``shardline sql test`` on an application the planner repartitions (GROUP BY a column that
is not the key, a global TOP_K_ITEMS_TUMBLING, a join on a column that is not the key),
checked against DuckDB (:mod:`.repartitioned_offline`)."""

from __future__ import annotations

from pathlib import Path

import pytest

from ground.settings import Settings
from pipelines.sql.application import application_topology, check_application
from pipelines.sql.offline import run_offline
from tests.unit.pipelines.sql.repartitioned_offline import (
    OUTPUTS,
    REPARTITIONED,
    check,
    input_lines,
    oracle,
    write_app,
)


@pytest.fixture(scope="module")
def app_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_app(tmp_path_factory.mktemp("offline-rp") / "app")


def test_every_pump_but_the_filters_runs_behind_a_repartition(app_folder: Path) -> None:
    config, plan = check_application(app_folder)
    topology = application_topology(config, plan)
    assert {(r.pump, r.partials) for r in topology.repartitions} == REPARTITIONED


@pytest.mark.parametrize("batch_records", [500, 37])
def test_offline_results_equal_duckdb(app_folder: Path, batch_records: int) -> None:
    config, _ = check_application(app_folder)
    out = run_offline(config, input_lines(), Settings.from_env({}), batch_records=batch_records)
    assert {r.stream for r in out} == {*OUTPUTS, "error_stream"}
    check(out, oracle())
    # each output stream in ROWTIME order, as a worker writes it to one partition
    for stream in OUTPUTS:
        times = [r.rowtime for r in out if r.stream == stream]
        assert times == sorted(times), stream
