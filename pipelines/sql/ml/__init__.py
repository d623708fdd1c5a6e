"""The models behind KDA's machine-learning functions (pure, no I/O): Robust Random Cut Forest
for ``RANDOM_CUT_FOREST[_WITH_EXPLANATION]`` and density-based hotspots for ``HOTSPOTS``."""

from pipelines.sql.ml.hotspots import (
    WINDOW_SIZE_RANGE,
    Hotspot,
    HotspotDetector,
    HotspotParams,
    hotspots_json,
)
from pipelines.sql.ml.rcf import (
    DEFAULT_NUMBER_OF_TREES,
    DEFAULT_SHINGLE_SIZE,
    DEFAULT_SUB_SAMPLE_SIZE,
    DEFAULT_TIME_DECAY,
    NUMBER_OF_TREES_RANGE,
    SHINGLE_SIZE_RANGE,
    SUB_SAMPLE_SIZE_RANGE,
    RandomCutForest,
    RcfParams,
    explanation_json,
)

__all__ = [
    "DEFAULT_NUMBER_OF_TREES",
    "DEFAULT_SHINGLE_SIZE",
    "DEFAULT_SUB_SAMPLE_SIZE",
    "DEFAULT_TIME_DECAY",
    "Hotspot",
    "HotspotDetector",
    "HotspotParams",
    "NUMBER_OF_TREES_RANGE",
    "RandomCutForest",
    "RcfParams",
    "SHINGLE_SIZE_RANGE",
    "SUB_SAMPLE_SIZE_RANGE",
    "WINDOW_SIZE_RANGE",
    "explanation_json",
    "hotspots_json",
]
