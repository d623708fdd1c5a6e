"""Fuzzing Shardline's parsers: any exception outside :class:`~ground.errors.ShardlineError`
is a bug. :mod:`tests.fuzz.targets` holds the targets, ``python -m tests.fuzz`` runs them long."""
