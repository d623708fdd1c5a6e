"""The analytics side: event-time windows and the ``pipeline.yaml`` pipelines, run on the
exactly-once runtime (``pipelines.runtime``; KDA SQL applications are in ``pipelines.sql``)."""

from pipelines.config import CONFIG_FILE, PipelineConfig, load_pipeline_config
from pipelines.error_rows import LATE_RECORD, MALFORMED_RECORD, ErrorRow
from pipelines.stats import PriceStats
from pipelines.ticker_processor import TickerWindowsProcessor
from pipelines.tumbling import Admission, ClosedWindow, PartitionWindows, Progress
from pipelines.windows import Window, tumbling_window

__all__ = [
    "CONFIG_FILE",
    "LATE_RECORD",
    "MALFORMED_RECORD",
    "Admission",
    "ClosedWindow",
    "ErrorRow",
    "PartitionWindows",
    "PipelineConfig",
    "PriceStats",
    "Progress",
    "TickerWindowsProcessor",
    "Window",
    "load_pipeline_config",
    "tumbling_window",
]
