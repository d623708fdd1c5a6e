"""The analytics side: event-time windows, the pipelines and the Faust runtime that runs them."""

from pipelines.config import CONFIG_FILE, PipelineConfig, load_pipeline_config
from pipelines.error_rows import LATE_RECORD, MALFORMED_RECORD, ErrorRow
from pipelines.stats import PriceStats
from pipelines.tumbling import Admission, ClosedWindow, PartitionWindows, Progress
from pipelines.windows import Window, tumbling_window
from pipelines.worker import PipelineRuntime, PipelineStats, build_app, run_pipeline

__all__ = [
    "CONFIG_FILE",
    "LATE_RECORD",
    "MALFORMED_RECORD",
    "Admission",
    "ClosedWindow",
    "ErrorRow",
    "PartitionWindows",
    "PipelineConfig",
    "PipelineRuntime",
    "PipelineStats",
    "PriceStats",
    "Progress",
    "Window",
    "build_app",
    "load_pipeline_config",
    "run_pipeline",
    "tumbling_window",
]
