"""The example delivery configs shipped for the bundled pipeline stay valid."""

from pathlib import Path

import pytest

from connectors import load_deliveries

EXAMPLES = sorted((Path(__file__).resolve().parents[3] / "connectors" / "examples").glob("*.yaml"))


def test_examples_exist() -> None:
    assert {p.name for p in EXAMPLES} >= {
        "ticker-stats.yaml",
        "ticker-stats-s3.yaml",
        "ticker-stats-es.yaml",
        "ticker-analytics-s3.yaml",
        "ticker-analytics-es.yaml",
    }


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_example_loads(path: Path) -> None:
    configs = load_deliveries(path)
    assert configs
    if not path.name.startswith("ticker"):
        return  # not for a bundled pipeline (orders-transform-s3.yaml: the transform stage)
    for cfg in configs:
        # each delivers the output topic of a bundled pipeline
        assert cfg.topic == ("ticker-analytics-out" if "analytics" in path.name else "ticker-stats")
