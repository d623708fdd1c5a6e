"""KDA's machine-learning functions on the real stack: the Developer Guide's anomaly-detection,
anomaly-explanation and hotspots applications (``sql_apps/``, their SQL as published) in
``shardline run`` workers, over the guide's generators (seeded), on topics of four partitions
(the records keyed by device, spread over all four). One model for the whole stream, as KDA's
is per application: the plan moves the rows to one partition of a repartition topic, where
the stage behind takes them in ROWTIME order (ties: by input partition, then offset).
Checked:

* one output row per input record, in that order, with the record's columns;
* the published algorithms' properties: every planted anomaly scores above the 99th
  percentile of the other records (once the forest has learnt); the planted dense square is
  the densest hotspot;
* the scores and explanations are exactly those of the forest alone
  (``pipelines.sql.ml.RandomCutForest`` with the application's seed) over the records as they
  are in the topic, in that order (computed here from each partition's Kafka timestamps) —
  also when the worker was killed with SIGKILL mid-stream and a new one restored the forest
  from the changelog; the hotspots are those of a brute-force DBSCAN.
"""

from __future__ import annotations

import json
import random

import pytest

from ground.kafka_config import KafkaConfig
from pipelines.sql.ml import RandomCutForest, RcfParams, explanation_json
from pipelines.sql.operators.rcf_plan import forest_seed
from tests.integration.pace import Pace
from tests.integration.test_sql_apps import (
    Dataset,
    deploy,
    finish,
    join_producer,
    output,
    produce,
    produce_in_background,
    run_app,
    start_ms,
)
from tests.integration.workers import Consumed, read_all, wait_for
from tests.unit.pipelines.sql.ml.test_hotspots import dbscan

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]

PUMP = "STREAM_PUMP"
PARTITIONS = 4
DEVICES = 16  # record keys: every partition of four gets some


def stream_order(bootstrap: KafkaConfig, topic: str) -> list[Consumed]:
    """The topic's records in the order one stream has them: ROWTIME (the running maximum
    of a partition's Kafka timestamps, in offset order), then partition, then offset."""
    records = sorted(read_all(bootstrap, topic, committed_only=False),
                     key=lambda r: (r.partition, r.offset))  # fmt: skip
    high: dict[int, int] = {}
    keyed = []
    for r in records:
        high[r.partition] = max(high.get(r.partition, r.timestamp_ms), r.timestamp_ms)
        keyed.append(((high[r.partition], r.partition, r.offset), r))
    assert len({r.partition for r in records}) == PARTITIONS  # spread over every partition
    return [r for _, r in sorted(keyed, key=lambda pair: pair[0])]


def rows_in_order(settings, topic: str) -> list[dict]:
    """The output rows, in the order written: one partition (the stage behind the
    repartition of one partition writes them)."""
    records = output(settings, topic)
    assert len({r.partition for r, _ in records}) <= 1
    return [v for _, v in sorted(records, key=lambda pair: pair[0].offset)]


def heart_rates(n: int, *, seed: int, start: int) -> list[tuple[str, bytes, int]]:
    """The guide's generator, ~20 ms apart: ``(key, JSON, Kafka timestamp)``."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        if rng.random() < 0.01:
            value = {"heartRate": rng.randint(150, 200), "rateType": "HIGH"}
        else:
            value = {"heartRate": rng.randint(60, 100), "rateType": "NORMAL"}
        out.append((f"device-{i % DEVICES}", json.dumps(value).encode(), start + 20 * i))
    return out


def expected_scores(
    bootstrap: KafkaConfig, topic: str, application: str
) -> list[tuple[int, str, float]]:
    """The forest alone over the topic's records in offset order, seeded as the worker's."""
    forest = RandomCutForest(RcfParams(1, seed=forest_seed(application, PUMP)))
    out = []
    for record in stream_order(bootstrap, topic):
        value = json.loads(record.value or b"")
        point = [float(value["heartRate"])]
        out.append((value["heartRate"], value["rateType"], forest.score(point)))
        forest.update(point)
    return out


def check(settings, app, expected: list[tuple[int, str, float]]) -> None:
    rows = rows_in_order(settings, app.outputs["TEMP_STREAM"])
    got = [(v["heartRate"], v["rateType"], v["ANOMALY_SCORE"]) for v in rows]
    assert len(got) == len(expected)
    assert got == expected  # exactly the forest's scores, each record once, in order
    learned = got[1000:]
    high = [s for _, t, s in learned if t == "HIGH"]
    normal = sorted(s for _, t, s in learned if t == "NORMAL")
    assert len(high) >= 10
    assert min(high) > normal[int(0.99 * len(normal))]
    assert output(settings, app.errors) == []


def test_guide_anomaly_detection(stack_settings, topic_factory, tmp_path, workers):
    topic = topic_factory(PARTITIONS, prefix="it-heart")
    records = heart_rates(4_000, seed=21, start=start_ms())
    produce(stack_settings.kafka, topic, records, PARTITIONS)
    data = Dataset(topic, PARTITIONS, len(records))
    app = deploy("anomaly_detection", tmp_path, topic_factory, data)
    out_topic = app.outputs["TEMP_STREAM"]
    run_app(stack_settings, app, workers, {out_topic: len(records)})
    check(stack_settings, app, expected_scores(stack_settings.kafka, topic, app.name))


@pytest.mark.faults
def test_same_scores_after_kill9_and_restart(stack_settings, topic_factory, tmp_path, workers):
    bootstrap = stack_settings.kafka
    topic = topic_factory(PARTITIONS, prefix="it-heart-restart")
    records = heart_rates(4_000, seed=22, start=start_ms())
    data = Dataset(topic, PARTITIONS, len(records))
    app = deploy(
        "anomaly_detection", tmp_path, topic_factory, data,
        runtime={"CommitIntervalMs": 100, "BatchMaxRecords": 50},
    )  # fmt: skip
    pace = Pace(500, hold_at=2_500)  # the rest waits until the second worker runs
    producer = produce_in_background(bootstrap, topic, records, PARTITIONS, per_second=pace)
    first = app.worker("w1", tmp_path / "w1.log", workers)
    wait_for(stack_settings, app.name, topic, PARTITIONS, 1_200, 60, [first])
    first.kill9()  # mid-stream: the forest has state, and the input keeps coming
    assert producer.is_alive(), "the input was complete before the kill"
    second = app.worker("w1", tmp_path / "w2.log", workers)
    pace.release()
    join_producer(producer)
    finish(stack_settings, app, {app.outputs["TEMP_STREAM"]: len(records)}, [second])
    assert "restored" in second.tail(20_000)
    check(stack_settings, app, expected_scores(bootstrap, topic, app.name))


def blood_pressures(n: int, *, seed: int, start: int) -> list[tuple[str, bytes, int]]:
    """The guide's generator: LOW and HIGH with probability 0.005 each."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        r = rng.random()
        if r < 0.005:
            value = (rng.randint(50, 80), rng.randint(30, 50), "LOW")
        elif r > 0.995:
            value = (rng.randint(130, 200), rng.randint(90, 150), "HIGH")
        else:
            value = (rng.randint(90, 120), rng.randint(60, 80), "NORMAL")
        body = dict(zip(("Systolic", "Diastolic", "BloodPressureLevel"), value, strict=True))
        out.append((f"device-{i % DEVICES}", json.dumps(body).encode(), start + 20 * i))
    return out


def test_guide_anomaly_explanation(stack_settings, topic_factory, tmp_path, workers):
    bootstrap = stack_settings.kafka
    topic = topic_factory(PARTITIONS, prefix="it-pressure")
    records = blood_pressures(4_000, seed=23, start=start_ms())
    produce(bootstrap, topic, records, PARTITIONS)
    data = Dataset(topic, PARTITIONS, len(records))
    app = deploy("anomaly_explanation", tmp_path, topic_factory, data)
    out_topic, sorted_topic = app.outputs["TEMP_STREAM"], app.outputs["DESTINATION_SQL_STREAM"]
    run_app(stack_settings, app, workers, {out_topic: len(records), sorted_topic: len(records)})

    forest = RandomCutForest(RcfParams(2, seed=forest_seed(app.name, PUMP)))
    expected = []
    seconds = []  # FLOOR(ROWTIME TO SECOND) of each row: its partition's running maximum
    high: dict[int, int] = {}
    for record in stream_order(bootstrap, topic):
        high[record.partition] = max(high.get(record.partition, 0), record.timestamp_ms)
        seconds.append(high[record.partition] // 1000)
        v = json.loads(record.value or b"")
        point = [float(v["Systolic"]), float(v["Diastolic"])]
        score, attribution = forest.observe(point, explain=True)
        assert attribution is not None
        text = explanation_json(["Systolic", "Diastolic"], attribution, with_directionality=True)
        expected.append((v["Systolic"], v["Diastolic"], v["BloodPressureLevel"], score, text))
    got = [
        (v["Systolic"], v["Diastolic"], v["BloodPressureLevel"], v["ANOMALY_SCORE"],
         v["ANOMALY_EXPLANATION"])
        for v in rows_in_order(stack_settings, out_topic)
    ]  # fmt: skip
    assert got == expected
    # OUTPUT_PUMP: ORDER BY FLOOR(ROWTIME TO SECOND), ANOMALY_SCORE DESC — the same rows, each
    # second's in descending score (rows of one second with equal scores in any order)
    ordered = [
        (v["Systolic"], v["Diastolic"], v["BloodPressureLevel"], v["ANOMALY_SCORE"],
         v["ANOMALY_EXPLANATION"])
        for v in rows_in_order(stack_settings, sorted_topic)
    ]  # fmt: skip
    want = [row for _, row in sorted(zip(seconds, expected, strict=True),
                                     key=lambda pair: (pair[0], -pair[1][3]))]  # fmt: skip
    assert [r[3] for r in ordered] == [r[3] for r in want]
    assert sorted(ordered, key=repr) == sorted(want, key=repr)
    learned = got[1000:]
    abnormal = [r[3] for r in learned if r[2] != "NORMAL"]
    normal = sorted(r[3] for r in learned if r[2] == "NORMAL")
    assert len(abnormal) >= 10
    assert min(abnormal) > normal[int(0.99 * len(normal))]
    assert output(stack_settings, app.errors) == []


def hot_points(n: int, *, seed: int, start: int) -> list[tuple[str, bytes, int]]:
    """The guide's generator: 20 % of the points in a 1x1 square that moves every 1,000."""
    rng = random.Random(seed)
    out = []
    hx = hy = 0.0
    for i in range(n):
        if i % 1000 == 0:
            hx, hy = rng.random() * 9, rng.random() * 9
        if rng.random() < 0.2:
            value = {"x": hx + rng.random(), "y": hy + rng.random(), "is_hot": "Y"}
        else:
            value = {"x": rng.random() * 10, "y": rng.random() * 10, "is_hot": "N"}
        out.append((f"device-{i % DEVICES}", json.dumps(value).encode(), start + 20 * i))
    return out


def test_guide_hotspots(stack_settings, topic_factory, tmp_path, workers):
    bootstrap = stack_settings.kafka
    topic = topic_factory(PARTITIONS, prefix="it-points")
    records = hot_points(3_000, seed=24, start=start_ms())
    produce(bootstrap, topic, records, PARTITIONS)
    data = Dataset(topic, PARTITIONS, len(records))
    app = deploy("hotspots", tmp_path, topic_factory, data)
    out_topic = app.outputs["DESTINATION_SQL_STREAM"]
    run_app(stack_settings, app, workers, {out_topic: len(records)})

    inputs = [json.loads(r.value or b"") for r in stream_order(bootstrap, topic)]
    rows = rows_in_order(stack_settings, out_topic)
    assert [(v["x"], v["y"], v["is_hot"]) for v in rows] == [
        (v["x"], v["y"], v["is_hot"]) for v in inputs
    ]
    points = [(v["x"], v["y"]) for v in inputs]
    for end in (999, 1999, 2999, 1500):
        window = points[max(0, end - 999) : end + 1]
        want = [
            {"density": d, "minValues": list(lo), "maxValues": list(hi)}
            for d, _, lo, hi in dbscan(window, 0.2, 17)
        ]
        got = json.loads(rows[end]["HOTSPOTS_RESULT"])["hotspots"]
        assert [h["minValues"] for h in got] == [h["minValues"] for h in want]
        assert [h["maxValues"] for h in got] == [h["maxValues"] for h in want]
        assert [h["density"] for h in got] == pytest.approx([h["density"] for h in want])
    for end in (999, 1999, 2999):  # the window holds one square's thousand points
        hot = [v for v in inputs[end - 999 : end + 1] if v["is_hot"] == "Y"]
        top = json.loads(rows[end]["HOTSPOTS_RESULT"])["hotspots"][0]
        assert top["minValues"][0] >= min(v["x"] for v in hot) - 0.2
        assert top["maxValues"][0] <= max(v["x"] for v in hot) + 0.2
    assert output(stack_settings, app.errors) == []
