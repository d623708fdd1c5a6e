"""Failing examples the fuzzer found (tests/fuzz), kept as regression tests."""

from connectors import load_deliveries


def test_null_buffering_hint_reads_as_absent() -> None:
    # Was: TypeError (None * MIB) in _buffering, since alias() took a null key as set.
    [es] = load_deliveries({"name": "d", "topic": "t", "elasticsearch": {
        "index": "i", "buffering": {"size_mb": None, "interval_ms": 1000}}})
    assert es.destination.buffering.interval_ms == 1000
    [s3] = load_deliveries({"name": "d", "topic": "t", "s3": {
        "bucket": "bucket", "buffering": {"size_mb": None, "interval_seconds": None}}})
    [default] = load_deliveries({"name": "d", "topic": "t", "s3": {"bucket": "bucket"}})
    assert s3.destination.buffering == default.destination.buffering


def test_lag_offset_that_is_not_an_integer_literal_is_a_plan_error() -> None:
    # Was: TypeError from int(Literal) for LAG(price, @1) (found by the sql fuzz target).
    import pytest

    from ground.errors import SqlPlanError
    from pipelines.sql.appconfig import load_application
    from pipelines.sql.plan import StreamColumn, plan_application
    from tests.fuzz.targets import SQL_APPS

    config = load_application(SQL_APPS / "sliding")
    code = config.read_code()
    assert "LAG(price, 1)" in code
    inputs = {i.stream_name: [StreamColumn(c.name, c.sql_type) for c in i.columns]
              for i in config.inputs}
    plan_application(code, application="a", inputs=inputs)  # the original plans
    for bad in ("LAG(price,@1)", "LAG(price, 1.5)", "LAG(price, -1)", "LAG(price, price)"):
        with pytest.raises(SqlPlanError, match="LAG's offset"):
            plan_application(code.replace("LAG(price, 1)", bad), application="a", inputs=inputs)
