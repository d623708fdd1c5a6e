"""Planner of ``RANDOM_CUT_FOREST`` and ``RANDOM_CUT_FOREST_WITH_EXPLANATION`` in FROM (see
:mod:`.rcf`)::

    FROM TABLE(RANDOM_CUT_FOREST(CURSOR(SELECT STREAM … FROM s)
                                 [, numberOfTrees, subSampleSize, timeDecay, shingleSize]))
    FROM TABLE(RANDOM_CUT_FOREST_WITH_EXPLANATION(CURSOR(…)
                 [, numberOfTrees, subSampleSize, timeDecay, shingleSize[, withDirectionality]]))

The result columns are the cursor's plus ``ANOMALY_SCORE DOUBLE`` (and ``ANOMALY_EXPLANATION
VARCHAR``). The parameters are given all together or not at all (KDA's defaults: 100, 256,
100000, 1; withDirectionality false).
"""

from __future__ import annotations

import hashlib

from ground.errors import SqlPlanError
from pipelines.sql.catalog import StreamColumn
from pipelines.sql.expr import DOUBLE, VARCHAR
from pipelines.sql.ml.rcf import RcfParams
from pipelines.sql.operators.cursor_plan import function_name, plan_cursor_call
from pipelines.sql.operators.rcf import CHECKPOINT_POINTS, RandomCutForestOperator
from pipelines.sql.planning import PlannedPump, PumpQuery

__all__ = [
    "ANOMALY_EXPLANATION",
    "ANOMALY_SCORE",
    "RANDOM_CUT_FOREST",
    "RANDOM_CUT_FOREST_WITH_EXPLANATION",
    "RandomCutForestPlanner",
    "forest_seed",
]

RANDOM_CUT_FOREST = "RANDOM_CUT_FOREST"
RANDOM_CUT_FOREST_WITH_EXPLANATION = "RANDOM_CUT_FOREST_WITH_EXPLANATION"
ANOMALY_SCORE = StreamColumn("ANOMALY_SCORE", DOUBLE)
ANOMALY_EXPLANATION = StreamColumn("ANOMALY_EXPLANATION", VARCHAR)
_FUNCTIONS = (RANDOM_CUT_FOREST, RANDOM_CUT_FOREST_WITH_EXPLANATION)
_PARAMETERS = ("numberOfTrees", "subSampleSize", "timeDecay", "shingleSize")


def forest_seed(application: str, pump: str) -> int:
    """The forest's random seed: the same for the same application and pump, on every worker
    and after every restart."""
    digest = hashlib.sha256(f"{application}\x00{pump}".encode()).digest()
    return int.from_bytes(digest[:8], "big") >> 1


class RandomCutForestPlanner:
    def matches(self, query: PumpQuery) -> bool:
        return function_name(query.select) in _FUNCTIONS

    def plan(self, query: PumpQuery) -> PlannedPump:
        call = plan_cursor_call(query)
        explain = call.name == RANDOM_CUT_FOREST_WITH_EXPLANATION
        accepted = (0, 4, 5) if explain else (0, 4)
        if len(call.arguments) not in accepted:
            usage = ", ".join(("CURSOR(…)", *_PARAMETERS)) + (
                "[, withDirectionality]" if explain else ""
            )
            raise query.error(
                SqlPlanError,
                f"{call.name}({usage}): give all of the parameters after the cursor or none",
                call.call,
            )
        values = {}
        if call.arguments:
            for index, parameter in enumerate(_PARAMETERS):
                values[parameter] = call.integer(query, index, parameter)
        directional = (
            call.boolean(query, 4, "withDirectionality") if len(call.arguments) == 5 else False
        )
        try:
            params = RcfParams(
                dimensions=len(call.cursor.numeric),
                seed=forest_seed(query.application, query.name),
                **{
                    field: values[parameter]
                    for field, parameter in zip(
                        ("number_of_trees", "sub_sample_size", "time_decay", "shingle_size"),
                        _PARAMETERS,
                        strict=True,
                    )
                    if parameter in values
                },
            )
        except ValueError as exc:
            raise query.error(SqlPlanError, f"{call.name}: {exc}", call.call) from exc
        extra = (ANOMALY_SCORE, ANOMALY_EXPLANATION) if explain else (ANOMALY_SCORE,)
        result = call.result_query(query, extra)
        cursor, pump = call.cursor, query.name
        numeric = ", ".join(cursor.names[i] for i in cursor.numeric)
        details = [
            f"{call.name}: {params.number_of_trees} trees of {params.sub_sample_size} points, "
            f"time decay {params.time_decay}, shingle {params.shingle_size}, over {numeric}"
            + (f"; explanation{' with direction' if directional else ''}" if explain else ""),
            f"state: the forest per partition (changelog: a checkpoint every "
            f"{CHECKPOINT_POINTS} records and the points since)",
        ]
        return query.pump(
            call.name.lower(),
            call.source.stream.name,
            details,
            lambda: RandomCutForestOperator(
                pump=pump,
                params=params,
                cursor=cursor,
                query=result,
                explain=explain,
                with_directionality=directional,
            ),
            key_columns=(),
        )
