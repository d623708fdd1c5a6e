"""Shardline beside its peers (Quix Streams, a plain Faust agent): the side-by-side harness
``benchmarks/compare.py``, checked end to end by ``make compare``. A comparison, not a
correctness test of Shardline (its windows are checked against DuckDB in
``tests/integration``), so neither ``make test`` nor CI runs it.
"""
