from pipelines.runtime import RunStats


def test_records_per_second_spans_first_to_last_record() -> None:
    assert RunStats().records_per_s == 0.0
    stats = RunStats(records=300, first_record_s=10.0, last_record_s=12.0)
    assert stats.records_per_s == 150.0
    assert RunStats(records=5, first_record_s=3.0, last_record_s=3.0).records_per_s == 0.0
