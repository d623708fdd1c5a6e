"""The example delivery configs (examples/deliveries) stay valid, in both layouts."""

from pathlib import Path

import pytest

from connectors import load_deliveries
from pipelines.sql.appconfig import load_application

ROOT = Path(__file__).resolve().parents[3] / "examples" / "deliveries"
APPLICATIONS = ROOT.parent / "applications"
EXAMPLES = sorted(p for p in ROOT.rglob("*") if p.suffix in (".yaml", ".toml", ".json"))
FIREHOSE = ROOT / "firehose"
# Firehose-layout example → the Shardline-layout example it restates.
SAME_AS = {
    "ticker-stats-s3.yaml": "ticker-stats-s3.yaml",
    "ticker-stats-opensearch.yaml": "ticker-stats-es.yaml",
    "ticker-analytics-s3.toml": "ticker-analytics-s3.yaml",
    "ticker-analytics-es.describe.json": "ticker-analytics-es.yaml",
    "ticker-parquet-s3.yaml": "ticker-parquet-s3.yaml",
}


def test_examples_exist() -> None:
    assert {p.relative_to(ROOT).as_posix() for p in EXAMPLES} >= {
        "ticker-stats.yaml",
        "ticker-stats-s3.yaml",
        "ticker-stats-es.yaml",
        "ticker-analytics-s3.yaml",
        "ticker-analytics-es.yaml",
        *(f"firehose/{name}" for name in SAME_AS),
    }


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_example_loads(path: Path) -> None:
    configs = load_deliveries(path)
    assert configs
    if not path.name.startswith("ticker"):
        return  # not for an example application (orders-transform-s3.yaml: the transform stage)
    app = "ticker_analytics" if "analytics" in path.name else "ticker_stats"
    [output] = load_application(APPLICATIONS / app).outputs
    for cfg in configs:
        # each delivers the output topic of an example application, except the Parquet
        # example, which converts the producer's raw ticker topic (schemas/ticker.avsc)
        if "parquet" in path.name:
            assert cfg.topic == "ticker"
        else:
            assert cfg.topic == output.topic


@pytest.mark.parametrize("name", sorted(SAME_AS))
def test_firehose_layout_example_means_the_same_as_its_shardline_twin(name: str) -> None:
    assert load_deliveries(FIREHOSE / name) == load_deliveries(ROOT / SAME_AS[name])
