"""The counters of one worker run, shared by the loop, its transactions and its ownership."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["RunStats"]


@dataclass(slots=True)
class RunStats:
    """Counters of one run. ``records`` were processed and committed or aborted;
    ``first_record_s``/``last_record_s`` are monotonic seconds."""

    records: int = 0
    batches: int = 0
    outputs: int = 0
    changes: int = 0
    commits: int = 0
    aborts: int = 0
    rebalances: int = 0
    restored_partitions: int = 0
    restored_keys: int = 0
    idle_calls: int = 0
    duplicates_dropped: int = 0
    producer_resets: int = 0
    #: ``init_transactions`` calls retried on the same producer after a timeout
    init_retries: int = 0
    #: ``commit_transaction`` calls retried on the same producer (the outcome was not known)
    commit_retries: int = 0
    #: transactions whose commit outcome was learnt from the broker after a new producer
    #: fenced them (``transactions``: in doubt)
    in_doubt_resolved: int = 0
    #: abandoned producers whose stuck call has not returned yet (``transactions``)
    stuck_calls: int = 0
    not_owned_dropped: int = 0
    #: outputs written with a time their CreateTime topic's retention.ms has passed: the
    #: broker deletes them within minutes (``topics``, ``ground.retention``); a replay
    #: after an abort counts its outputs again
    past_retention: int = 0
    first_record_s: float = 0.0
    last_record_s: float = 0.0
    instance_id: str = ""

    @property
    def records_per_s(self) -> float:
        span = self.last_record_s - self.first_record_s
        return self.records / span if span > 0 else 0.0
