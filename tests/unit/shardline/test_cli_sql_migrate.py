"""``shardline sql import`` and ``shardline sql test``: KDA's JSON in, offline runs checked
against DuckDB."""

from __future__ import annotations

import json
import math
import random
from pathlib import Path
from typing import Any

import botocore.loaders
import pytest
import yaml
from click.testing import CliRunner, Result

from pipelines.sql.encoders import timestamp_text
from pipelines.sql.offline import parse_rows
from shardline.cli import main
from tests.duckdb_oracles import judge_lateness
from tests.unit.pipelines.sql import repartitioned_offline
from tests.unit.pipelines.sql import test_repartitioned_both_sides as both_sides
from tests.unit.pipelines.sql.corpus import input_table, ticker_records

ROOT = Path(__file__).resolve().parents[3]
DESCRIBE = Path(__file__).parent / "data" / "describe_application.json"
TICKER_APP = ROOT / "examples" / "applications" / "ticker_analytics"
_MODEL = botocore.loaders.Loader().load_service_model("kinesisanalytics", "service-2")


def _cli(*args: str) -> Result:
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def _conforms(value: Any, shape_name: str, where: str = "$") -> None:
    """``value`` uses only the members botocore's model gives ``shape_name``, and every
    required one."""
    shape = _MODEL["shapes"][shape_name]
    kind = shape["type"]
    if kind == "structure":
        assert isinstance(value, dict), where
        unknown = set(value) - set(shape["members"])
        assert not unknown, f"{where}: {unknown} not in {shape_name}"
        missing = set(shape.get("required", ())) - set(value)
        assert not missing, f"{where}: {missing} required by {shape_name}"
        for key, item in value.items():
            _conforms(item, shape["members"][key]["shape"], f"{where}.{key}")
    elif kind == "list":
        assert isinstance(value, list), where
        for i, item in enumerate(value):
            _conforms(item, shape["member"]["shape"], f"{where}[{i}]")
    elif kind == "string" and "enum" in shape:
        assert value in shape["enum"], f"{where}: {value!r} not one of {shape['enum']}"


def _create_request() -> dict[str, Any]:
    """The describe-application fixture as create-application input (which has no reference
    data: the pump joining it and its output are left out)."""
    detail = json.loads(DESCRIBE.read_text())["ApplicationDetail"]

    def strip(item: dict[str, Any], drop: tuple[str, ...]) -> dict[str, Any]:
        out = {}
        for key, value in item.items():
            if key in drop:
                continue
            out[key.removesuffix("Description")] = value
        return out

    return {
        "ApplicationName": detail["ApplicationName"],
        "ApplicationDescription": detail["ApplicationDescription"],
        "Inputs": [
            strip(i, ("InputId", "InAppStreamNames", "InputStartingPositionConfiguration"))
            for i in detail["InputDescriptions"]
        ],
        "Outputs": [
            strip(o, ("OutputId",))
            for o in detail["OutputDescriptions"]
            if o["Name"] != "NAMED_STREAM"
        ],
        "ApplicationCode": detail["ApplicationCode"].split('CREATE OR REPLACE STREAM "NAMED')[0],
        "Tags": [{"Key": "team", "Value": "analytics"}],
    }


def test_fixtures_follow_the_kda_api_model() -> None:
    _conforms(json.loads(DESCRIBE.read_text()), "DescribeApplicationResponse")
    _conforms(_create_request(), "CreateApplicationRequest")


def test_import_of_describe_application_then_check(tmp_path: Path) -> None:
    out = tmp_path / "ticker-alerts"
    result = _cli(
        "sql", "import", str(DESCRIBE), "--out", str(out),
        "--topic", "ExampleInputStream=ticker",
        "--topic", "arn:aws:lambda:eu-west-1:111122223333:function:ticker-alerts-errors:live="
        "ticker-alerts-errors",
    )
    assert result.exit_code == 0, result.output
    assert "written and checked — 2 pumps" in result.output
    config = yaml.safe_load((out / "application.yaml").read_text())
    assert config["ApplicationName"] == "ticker-alerts"
    assert [i["Topic"] for i in config["Inputs"]] == ["ticker"]
    assert config["Inputs"][0]["StartingPosition"] == "NOW"
    assert [(o["Name"], o["Topic"], o["DestinationSchema"]["RecordFormatType"])
            for o in config["Outputs"]] == [
        ("DESTINATION_SQL_STREAM", "ticker-stats-to-s3", "JSON"),  # unmapped: its name
        ("NAMED_STREAM", "ExampleOutputStream", "CSV"),
    ]
    assert config["ErrorOutput"]["Topic"] == "ticker-alerts-errors"
    assert config["ReferenceDataSources"][0]["S3ReferenceDataSource"] == {
        "Bucket": "kda-reference-data", "FileKey": "companies.csv"}
    code = json.loads(DESCRIBE.read_text())["ApplicationDetail"]["ApplicationCode"]
    assert (out / "app.sql").read_text() == code
    check = _cli("sql", "check", str(out))
    assert check.exit_code == 0, check.output
    assert "ok — 2 pumps, " in check.output


def test_import_refuses_to_overwrite_without_force(tmp_path: Path) -> None:
    assert _cli("sql", "import", str(DESCRIBE), "-o", str(tmp_path)).exit_code == 0
    (tmp_path / "app.sql").write_text("-- edited by hand\n")
    again = _cli("sql", "import", str(DESCRIBE), "-o", str(tmp_path))
    assert again.exit_code == 2
    assert "already there" in again.output and "--force" in again.output
    assert (tmp_path / "app.sql").read_text() == "-- edited by hand\n"
    forced = _cli("sql", "import", str(DESCRIBE), "-o", str(tmp_path), "--force")
    assert forced.exit_code == 0, forced.output
    assert (tmp_path / "app.sql").read_text().startswith("CREATE OR REPLACE STREAM")


def test_import_refuses_a_topic_for_a_stream_it_does_not_name(tmp_path: Path) -> None:
    result = _cli("sql", "import", str(DESCRIBE), "-o", str(tmp_path), "--topic", "Nope=x")
    assert result.exit_code == 2
    assert "Nope not in" in result.output
    assert not (tmp_path / "application.yaml").exists()


def test_create_application_input_is_an_application_file(tmp_path: Path) -> None:
    request = tmp_path / "create-application.json"
    request.write_text(json.dumps(_create_request()))
    check = _cli("sql", "check", str(request))
    assert check.exit_code == 0, check.output
    explain = _cli("sql", "explain", str(request))
    assert explain.exit_code == 0, explain.output
    assert "source SOURCE_SQL_STREAM_001 ← topic ExampleInputStream" in explain.output
    assert "error_stream → topic ticker-alerts-errors" in explain.output  # the function's name
    out = tmp_path / "imported"
    imported = _cli("sql", "import", str(request), "-o", str(out), "--topic",
                    "ExampleInputStream=ticker")
    assert imported.exit_code == 0, imported.output
    config = yaml.safe_load((out / "application.yaml").read_text())
    assert config["Inputs"][0]["Topic"] == "ticker"
    assert "ReferenceDataSources" not in config  # CreateApplication has none


# -- sql test ------------------------------------------------------------------------------

LATENESS_MS = 5000  # examples/applications/ticker_analytics: EventTime.AllowedLatenessMs
RECORDS = ticker_records(3000, seed=11)


def _input_lines(records: list[tuple[int, tuple[Any, ...]]]) -> str:
    names = ("TICKER_SYMBOL", "SECTOR", "CHANGE", "PRICE", "EVENT_TIME")
    lines = []
    for ts, values in records:
        row = dict(zip(names, (*values[:4], int(values[4])), strict=True))
        # ROWTIME as epoch ms or as text: both are arrival times
        row["ROWTIME"] = timestamp_text(ts) if ts % 2 else ts
        lines.append(json.dumps(row))
    return "\n".join(lines) + "\n"


def _expected() -> tuple[list[tuple[Any, ...]], int]:
    con = input_table(RECORDS)
    judge_lateness(con, window_ms=60_000, lateness_ms=LATENESS_MS, per_partition=False)
    rows = con.execute(
        "SELECT ticker, ws, count(*), min(price), max(price), avg(price) FROM judged "
        "WHERE wm IS NULL OR ws + 60000 > wm GROUP BY ALL"
    ).fetchall()
    late = con.execute("SELECT count(*) FROM judged WHERE ws + 60000 <= wm").fetchone()
    assert late is not None
    return rows, int(late[0])


@pytest.fixture(scope="module")
def ticker_output(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[dict[str, Any]]]:
    folder = tmp_path_factory.mktemp("sql-test")
    rows = folder / "rows.jsonl"
    rows.write_text(_input_lines(RECORDS))
    result = _cli("sql", "test", str(TICKER_APP), "--input", str(rows))
    assert result.exit_code == 0, result.output
    return rows, [json.loads(line) for line in result.output.splitlines()]


def test_sql_test_on_ticker_analytics_equals_duckdb(
    ticker_output: tuple[Path, list[dict[str, Any]]],
) -> None:
    _, printed = ticker_output
    expected, late = _expected()
    got = [r["row"] for r in printed if r["stream"] == "DESTINATION_SQL_STREAM"]
    errors = [r["row"] for r in printed if r["stream"] == "error_stream"]
    assert {r["stream"] for r in printed} == {"DESTINATION_SQL_STREAM", "error_stream"}
    assert late > 5 and [e["ERROR_NAME"] for e in errors] == ["Late_Row"] * late

    def key(row: tuple[Any, ...]) -> tuple[str, str]:
        return row[0], row[1]

    want = {(t, timestamp_text(ws)): (n, lo, hi, avg) for t, ws, n, lo, hi, avg in expected}
    have = {
        (r["TICKER_SYMBOL"], r["WINDOW_START"]): (
            r["TRADES"], r["MIN_PRICE"], r["MAX_PRICE"], r["AVG_PRICE"])
        for r in got
    }
    assert len(got) == len(have) == len(want) > 100  # each window once
    assert have.keys() == want.keys()
    for k, (n, lo, hi, avg) in want.items():
        g = have[k]
        assert g[0] == n, k
        for a, b in zip(g[1:], (lo, hi, avg), strict=True):
            assert math.isclose(a, b, rel_tol=1e-6), (k, g, (n, lo, hi, avg))
    # ROWTIME never goes back within the stream
    times = [r["ROWTIME"] for r in printed if r["stream"] == "DESTINATION_SQL_STREAM"]
    assert times == sorted(times)


def test_sql_test_expect_passes_in_any_order_within_a_rowtime_and_diffs_otherwise(
    ticker_output: tuple[Path, list[dict[str, Any]]], tmp_path: Path
) -> None:
    rows, printed = ticker_output
    shuffled = list(printed)
    random.Random(3).shuffle(shuffled)
    shuffled.sort(key=lambda r: (r["stream"], r["ROWTIME"]))  # stable: shuffled within
    assert shuffled != printed
    expect = tmp_path / "out.jsonl"
    expect.write_text("".join(json.dumps(r) + "\n" for r in shuffled))
    ok = _cli("sql", "test", str(TICKER_APP), "--input", str(rows), "--expect", str(expect))
    assert ok.exit_code == 0, ok.output
    assert ok.output.startswith("ok: output matches")
    # one window's count off by one, and one row gone: exit 1 with both in the diff
    wrong = [dict(r, row=dict(r["row"])) for r in shuffled]
    target = next(r for r in wrong if r["stream"] == "DESTINATION_SQL_STREAM")
    target["row"]["TRADES"] += 1
    dropped = next(r for r in reversed(wrong) if r["stream"] == "DESTINATION_SQL_STREAM")
    wrong.remove(dropped)
    expect.write_text("".join(json.dumps(r) + "\n" for r in wrong))
    bad = CliRunner().invoke(
        main, ["sql", "test", str(TICKER_APP), "--input", str(rows), "--expect", str(expect)]
    )
    assert bad.exit_code == 1
    lines = bad.output.splitlines()
    assert lines[:2] == ["--- expected", "+++ got"]
    assert f"@@ DESTINATION_SQL_STREAM ROWTIME {target['ROWTIME']}" in lines
    assert sum(line.startswith("- ") for line in lines) == 1  # the wrong count
    assert sum(line.startswith("+ ") for line in lines) == 2  # the right one, the dropped one
    assert f"- {json.dumps(target['row'], separators=(',', ':'))}" in lines


def test_sql_test_runs_a_repartitioned_application_as_duckdb_computes_it(
    tmp_path: Path,
) -> None:
    """GROUP BY the sector of a topic keyed by ticker, a global top-k and a join on the
    sector: ``sql check`` counts their repartition topics, ``sql test`` runs the stages behind
    them and prints what DuckDB computes; its output is its own --expect."""
    app = repartitioned_offline.write_app(tmp_path / "app")
    rows = tmp_path / "rows.jsonl"
    rows.write_text("\n".join(repartitioned_offline.input_lines()) + "\n")
    checked = _cli("sql", "check", str(app))
    assert checked.exit_code == 0, checked.output
    assert f"{len(repartitioned_offline.REPARTITIONED)} repartition topics" in checked.output
    result = _cli("sql", "test", str(app), "--input", str(rows))
    assert result.exit_code == 0, result.output
    printed = parse_rows(result.output.splitlines())
    repartitioned_offline.check(printed, repartitioned_offline.oracle())
    expect = tmp_path / "expect.jsonl"
    expect.write_text(result.output)
    again = _cli("sql", "test", str(app), "--input", str(rows), "--expect", str(expect))
    assert again.exit_code == 0, again.output
    assert again.output.startswith("ok: output matches")


def test_sql_check_names_a_stream_written_on_both_sides_of_a_repartition(
    tmp_path: Path,
) -> None:
    """A stream filtered rows (stage 0) and per-sector sums (behind a repartition) go into,
    read by a window: once refused, now ``sql check`` says it is brought together."""
    both_sides.make_app(tmp_path, both_sides.MIXED, ["PER_LABEL", "BIG"])
    checked = _cli("sql", "check", str(tmp_path))
    assert checked.exit_code == 0, checked.output
    assert "2 repartition topics (sql explain says why); ACTIVITY written in several " \
        "stages, brought together for the pumps that read them" in checked.output  # fmt: skip
    explained = _cli("sql", "explain", str(tmp_path))
    assert "pump BIG_PUMP: ACTIVITY → BIG (runs in stages 0, 1" in explained.output


def test_errors_in_inline_code_point_into_application_code(tmp_path: Path) -> None:
    request = _create_request()
    request["ApplicationCode"] = request["ApplicationCode"].replace("MIN(price)", "MIN(prize)")
    file = tmp_path / "create.json"
    file.write_text(json.dumps(request))
    line = next(
        i for i, text in enumerate(request["ApplicationCode"].splitlines(), 1) if "prize" in text
    )
    for command in ("check", "test"):
        args = ["sql", command, str(file)] + (["--input", "-"] if command == "test" else [])
        result = CliRunner().invoke(main, args, input="")
        assert result.exit_code == 1
        assert f"{file}[ApplicationCode]:{line}:" in result.output
        assert "PRIZE" in result.output.upper()
