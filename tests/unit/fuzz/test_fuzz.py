"""A short, seeded run of every fuzz target (tests/fuzz): only ShardlineError may escape.

``python -m tests.fuzz --minutes 5`` runs the same targets for longer.
"""

import time

import pytest
from hypothesis import HealthCheck, given, settings

from tests.fuzz.targets import TARGETS, Target, check_one

EXAMPLES = 150


def _targets() -> list[Target]:
    return [t for make in TARGETS.values() for t in make()]


@pytest.mark.parametrize("target", _targets(), ids=lambda t: t.name)
def test_fuzz_target_raises_only_shardline_errors(target: Target) -> None:
    @settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=True,
              suppress_health_check=list(HealthCheck))
    @given(target.strategy)
    def run(value: object) -> None:
        check_one(target.func, value)

    start = time.monotonic()
    run()
    print(f"fuzz {target.name}: {EXAMPLES} examples in {time.monotonic() - start:.2f} s")


def test_the_harness_fails_on_a_foreign_exception_and_on_a_hang() -> None:
    from ground.errors import ConfigError
    from tests.fuzz.targets import Hang, example_deadline

    def config_error(value: object) -> None:
        raise ConfigError("f", "bad")

    check_one(config_error, 1)  # accepted
    with pytest.raises(KeyError):
        check_one(lambda value: {}[value], 1)
    with pytest.raises(Hang), example_deadline(0.2):
        while True:
            pass
