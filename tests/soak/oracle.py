"""The soak's verdict: the existing oracles, over everything the soak produced.

- **SQL**: the application's windows and ``Late_Row`` errors equal DuckDB's recomputation
  over the input as it is in Kafka, each window once (``test_sql_apps``).
- **MinIO**: the objects hold every result record once (a multiset equal to the results
  topic, read_committed).
- **Elasticsearch**: the index holds each result at most once, the failed-document backup
  each at most once, and together they hold every result.
"""

from __future__ import annotations

import base64
import gzip
import json
from collections import Counter
from dataclasses import dataclass
from typing import Any

from ground.settings import Settings
from tests.integration.fixtures_sinks import es_request, read_objects
from tests.integration.sql_apps_support import LATENESS_MS, App, event_time_oracle, input_table
from tests.integration.test_sql_apps import check_event_time_results
from tests.integration.workers import read_all

__all__ = ["Verdict", "check_all", "check_deliveries"]

ES_FAILED_PREFIX = "es-failed/"


@dataclass
class Verdict:
    inputs: int = 0
    windows: int = 0
    late_rows: int = 0
    results: int = 0
    in_minio: int = 0
    in_index: int = 0
    in_backup: int = 0
    in_both: int = 0


def _window_key(value: bytes) -> tuple[str, str]:
    v = json.loads(value)
    return v["TICKER_SYMBOL"], v["WINDOW_START"]


def es_documents(settings: Settings, index: str) -> list[dict[str, Any]]:
    """Every document's ``_source`` in ``index`` (a scroll over all of them)."""
    es_request(settings, "POST", f"/{index}/_refresh")
    answer = es_request(settings, "POST", f"/{index}/_search?scroll=2m",
                        {"size": 5_000, "sort": ["_doc"], "query": {"match_all": {}}})
    assert "hits" in answer, answer
    out: list[dict[str, Any]] = []
    while answer["hits"]["hits"]:
        out += [h["_source"] for h in answer["hits"]["hits"]]
        answer = es_request(settings, "POST", "/_search/scroll",
                            {"scroll": "2m", "scroll_id": answer["_scroll_id"]})
    es_request(settings, "DELETE", "/_search/scroll", {"scroll_id": answer["_scroll_id"]})
    return out


def check_all(kafka: Settings, s3: Settings, search: Settings, app: App, results_topic: str,
              bucket: str, index: str) -> Verdict:
    """Raises AssertionError naming the first oracle that does not hold."""
    verdict = Verdict()
    # 1. the SQL application against DuckDB, each window once
    con = input_table(kafka.kafka, app.input.topic)
    verdict.inputs = con.execute("SELECT count(*) FROM s").fetchone()[0]  # type: ignore[index]
    expected, late = event_time_oracle(con, window_ms=10_000, lateness_ms=LATENESS_MS)
    check_event_time_results(kafka, app, expected, late, data_shape=False)
    # the live producer's data exercises both: windows of every ticker, some late rows
    assert len(expected) >= 100 and late, f"{len(expected)} windows, {len(late)} late rows"
    verdict.windows, verdict.late_rows = len(expected), len(late)

    check_deliveries(kafka, s3, search, results_topic, bucket, index, verdict)
    return verdict


def check_deliveries(kafka: Settings, s3: Settings, search: Settings, results_topic: str,
                     bucket: str, index: str, verdict: Verdict) -> None:
    """MinIO and the index (with its backup) against the results topic."""
    # 2. MinIO: every result record once
    results = [r.value or b"" for r in read_all(kafka.kafka, results_topic,
                                                 committed_only=True)]
    verdict.results = len(results)
    want = Counter(results)
    got: Counter[bytes] = Counter()
    for key, body in read_objects(s3, bucket, "results/").items():
        data = gzip.decompress(body) if key.endswith(".gz") else body
        got.update(line for line in data.splitlines() if line)
    verdict.in_minio = sum(got.values())
    assert got == want, (f"MinIO: {sum((got - want).values())} extra or repeated, "
                         f"{sum((want - got).values())} missing of {len(results)}")

    # 3. the index and the failed-document backup: each result in one, at most once each
    wanted = Counter(_window_key(v) for v in results)
    in_index = Counter((d["TICKER_SYMBOL"], d["WINDOW_START"])
                       for d in es_documents(search, index))
    in_backup: Counter[tuple[str, str]] = Counter()
    for body in read_objects(s3, bucket, ES_FAILED_PREFIX).values():
        for line in gzip.decompress(body).splitlines():
            if line.strip():
                in_backup[_window_key(base64.b64decode(json.loads(line)["rawData"]))] += 1
    verdict.in_index, verdict.in_backup = sum(in_index.values()), sum(in_backup.values())
    verdict.in_both = len(set(in_index) & set(in_backup))
    twice = [k for k, n in in_index.items() if n > 1]
    assert not twice, f"index: {len(twice)} results twice, e.g. {twice[:3]}"
    twice = [k for k, n in in_backup.items() if n > 1]
    assert not twice, f"backup: {len(twice)} results twice, e.g. {twice[:3]}"
    missing = set(wanted) - set(in_index) - set(in_backup)
    assert not missing, f"{len(missing)} results in neither the index nor the backup, " \
                        f"e.g. {sorted(missing)[:3]}"
    extra = (set(in_index) | set(in_backup)) - set(wanted)
    assert not extra, f"{len(extra)} documents that are no result, e.g. {sorted(extra)[:3]}"
