"""The fingerprint of what an application's internal topics hold: the same for the same plan
(in any process: it is what a restarted worker compares), another for another shuffle."""

import subprocess
import sys
from pathlib import Path

import yaml

from pipelines.sql.application import application_topology, check_application
from pipelines.sql.fingerprint import PLAN_FORMAT, plan_description, plan_fingerprint

ROOT = Path(__file__).resolve().parents[4]
TEMPLATE = ROOT / "tests" / "integration" / "sql_apps" / "tumbling_event_time"

PER_SECTOR = """\
CREATE OR REPLACE STREAM "OUT" (SECTOR VARCHAR(16), N INTEGER);
CREATE OR REPLACE PUMP "P" AS INSERT INTO "OUT"
SELECT STREAM sector, COUNT(*) FROM "SOURCE_SQL_STREAM_001"
GROUP BY sector, STEP("SOURCE_SQL_STREAM_001".ROWTIME BY INTERVAL '10' SECOND);
"""
FILTER_FIRST = """\
CREATE OR REPLACE STREAM "RISING" (TICKER_SYMBOL VARCHAR(4), SECTOR VARCHAR(16));
CREATE OR REPLACE PUMP "F" AS INSERT INTO "RISING"
SELECT STREAM ticker_symbol, sector FROM "SOURCE_SQL_STREAM_001" WHERE change > 0;
""" + PER_SECTOR.replace('FROM "SOURCE_SQL_STREAM_001"', 'FROM "RISING"').replace(
    '"SOURCE_SQL_STREAM_001".ROWTIME', '"RISING".ROWTIME')


def _fingerprint(tmp_path: Path, sql: str, runtime: dict[str, object] | None = None) -> str:
    folder = tmp_path / f"app{len(list(tmp_path.iterdir()))}"
    folder.mkdir()
    config = yaml.safe_load((TEMPLATE / "application.yaml").read_text())
    (folder / "app.sql").write_text(sql)
    config["ApplicationCode"] = "app.sql"
    config["Outputs"] = [{"Name": "OUT", "Topic": "out",
                          "DestinationSchema": {"RecordFormatType": "JSON"}}]  # fmt: skip
    config["Runtime"] = {**config["Runtime"], **(runtime or {})}
    (folder / "application.yaml").write_text(yaml.safe_dump(config))
    checked, plan = check_application(folder)
    return plan_fingerprint(application_topology(checked, plan), plan)


def test_the_same_plan_gives_the_same_fingerprint_in_another_process(tmp_path: Path) -> None:
    here = _fingerprint(tmp_path, PER_SECTOR)
    code = (
        "import sys; from pathlib import Path;"
        "from tests.unit.pipelines.sql.test_fingerprint import _fingerprint, PER_SECTOR;"
        "print(_fingerprint(Path(sys.argv[1]), PER_SECTOR))"
    )
    other = tmp_path / "other"
    other.mkdir()
    done = subprocess.run([sys.executable, "-c", code, str(other)], cwd=ROOT,
                          capture_output=True, text=True, check=True)  # fmt: skip
    assert done.stdout.strip() == here
    assert len(here) == 16 and int(here, 16) >= 0


def test_another_key_or_no_shuffle_is_another_plan(tmp_path: Path) -> None:
    sector = _fingerprint(tmp_path, PER_SECTOR)
    # grouped by the topic's key too: no repartition any more
    by_key = _fingerprint(tmp_path, PER_SECTOR.replace("GROUP BY sector,", "GROUP BY sector, "
                                                       "ticker_symbol,"))
    by_change = _fingerprint(tmp_path, PER_SECTOR.replace("GROUP BY sector,",
                                                          "GROUP BY sector, change,"))
    # what the stage behind computes changed: the partial aggregates it merges are others
    summed = _fingerprint(tmp_path, PER_SECTOR.replace("COUNT(*)", "SUM(price)").replace(
        "N INTEGER", "N REAL"))
    assert len({sector, by_key, by_change, summed}) == 4


def test_what_does_not_touch_the_internal_topics_keeps_the_plan(tmp_path: Path) -> None:
    sector = _fingerprint(tmp_path, PER_SECTOR)
    # the partition count is checked by name when topics are prepared, not here
    assert _fingerprint(tmp_path, PER_SECTOR, {"RepartitionPartitions": 7}) == sector
    assert _fingerprint(tmp_path, PER_SECTOR, {"BatchMaxRecords": 10}) == sector
    assert _fingerprint(tmp_path, "-- a comment first\n" + PER_SECTOR) == sector
    # a stateless pump before the shuffle is another plan only through the stream it reads
    first = _fingerprint(tmp_path, FILTER_FIRST)
    assert first != sector
    assert _fingerprint(tmp_path, FILTER_FIRST.replace("change > 0", "change > 1")) == first


def test_the_description_names_each_repartition_and_its_key(tmp_path: Path) -> None:
    _fingerprint(tmp_path, PER_SECTOR)
    checked, plan = check_application(tmp_path / "app0")
    (line,) = plan_description(application_topology(checked, plan))
    assert line == ("it-sql-tumbling-event-time-P-repartition (partial aggregates, keyed by "
                    "SECTOR)")  # fmt: skip
    assert PLAN_FORMAT == 1


def test_rows_judged_late_in_front_of_the_repartition_say_so(tmp_path: Path) -> None:
    first_value = PER_SECTOR.replace("N INTEGER", "P REAL").replace(
        "COUNT(*)", "FIRST_VALUE(price)").replace(
        '"SOURCE_SQL_STREAM_001".ROWTIME BY', "event_time BY")  # fmt: skip
    _fingerprint(tmp_path, first_value)
    checked, plan = check_application(tmp_path / "app0")
    (line,) = plan_description(application_topology(checked, plan))
    # the record key is the sector alone: the window start is not part of it (shuffle.py)
    assert line == ("it-sql-tumbling-event-time-P-repartition (rows judged late in front of "
                    "it, keyed by SOURCE_SQL_STREAM_001: SECTOR)")  # fmt: skip


#: The plan of an application without a repartition (nothing behind one to fingerprint).
NO_SHUFFLE = "1f1b65b2a09c94a6"
#: Every application of the corpus with a repartition, and its fingerprint. A change of the
#: planner or of explain's words must leave these alone unless the plan changed (then the
#: application needs ``shardline sql reset``, and the change says which). Changed when a
#: stream in one partition stopped being shuffled to one partition again:
#: ``anomaly_explanation`` (was 31083314cf050b6e) and ``retime_ordering`` (was
#: 25b2969c1bf5aec1).
CORPUS_FINGERPRINTS = {
    "tests/integration/sql_apps/anomaly_detection": "782c85368e538fcc",
    "tests/integration/sql_apps/anomaly_explanation": "c2904860dd8d4ccd",
    "tests/integration/sql_apps/distinct": "16eda67e36b66420",
    "tests/integration/sql_apps/guide_partial_results": "f9e4240d832269b9",
    "tests/integration/sql_apps/guide_stream_join": "a7cd1e8b0b7fa7a7",
    "tests/integration/sql_apps/guide_top_k": "da04c198fd2e8fb4",
    "tests/integration/sql_apps/guide_two_record_types": "3b76773d96fce9ac",
    "tests/integration/sql_apps/hotspots": "2cf8a73acb7c15f5",
    "tests/integration/sql_apps/join_using": "cff0b6eeb2cece0a",
    "tests/integration/sql_apps/monotonic_runs": "c91b1d64213b4535",
    "tests/integration/sql_apps/repartition": "a6ae473b024cfc26",
    "tests/integration/sql_apps/repartition_both_sides": "c19bf596068941e6",
    "tests/integration/sql_apps/repartition_filtered": "784e568c8c268806",
    "tests/integration/sql_apps/repartition_idle_lag": "d13485d330926c6c",
    "tests/integration/sql_apps/retime_ordering": "90bae4c4ea4b5787",
    "tests/integration/sql_apps/top_k": "c6e107cf92550efb",
}  # fmt: skip


def test_the_corpus_applications_keep_their_fingerprints() -> None:
    found = ((ROOT / base).rglob("application.yaml") for base in ("tests", "examples"))
    folders = sorted({p.parent for paths in found for p in paths})
    got = {}
    for folder in folders:
        checked, plan = check_application(folder)
        got[folder.relative_to(ROOT).as_posix()] = plan_fingerprint(
            application_topology(checked, plan), plan
        )
    assert len(got) >= 40
    assert {k: v for k, v in got.items() if v != NO_SHUFFLE} == CORPUS_FINGERPRINTS
