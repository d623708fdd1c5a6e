"""``shardline status``: the lag table shows every partition of every group."""

from __future__ import annotations

from rich.console import Console

from shardline.cli.status import lag_table
from shardline.lag import GroupLag, PartitionLag


def render(lags: list[GroupLag], partitions: bool = True) -> str:
    console = Console(width=120, record=True)
    console.print(lag_table(lags, partitions=partitions))
    return console.export_text()


def test_rows_per_partition_with_their_own_lag() -> None:
    parts = (PartitionLag(0, 10, 15), PartitionLag(1, None, 7), PartitionLag(2, 4, 4))
    g = GroupLag("shardline-deliver-ticks-s3", "ticks", 3, 14, 26, 1, parts)
    assert [p.lag for p in parts] == [5, 7, 0] and g.lag == sum(p.lag for p in parts)
    lines = [ln.split("│") for ln in render([g]).splitlines() if "│" in ln]
    cells = [[c.strip() for c in ln] for ln in lines]
    rows = {c[3]: c for c in cells if c[3] in ("0", "1", "2")}
    assert rows["0"][4:7] == ["10", "15", "5"]
    assert rows["1"][4:7] == ["-", "7", "7"]
    assert rows["2"][4:7] == ["4", "4", "0"]
    totals_only = [ln for ln in render([g], partitions=False).splitlines() if "│" in ln]
    assert len(totals_only) == 1  # the group's total only
    assert "all 3" in totals_only[0] and "12" in totals_only[0]
