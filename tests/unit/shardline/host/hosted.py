"""``python -m tests.unit.shardline.host.hosted graceful|stuck``: one host with one fake
loop, for the signal tests (``test_worker``). Prints ``running`` once the loop is up."""

from __future__ import annotations

import signal
import sys

from ground.settings import Settings
from shardline.host import HostApp, run_host
from tests.unit.shardline.host.fakes import FakeLoop


def main() -> None:
    stuck = sys.argv[1] == "stuck"
    app = HostApp("signals", Settings.from_env())
    loop = app.add_service(FakeLoop(
        "loop", ignore_stop=stuck, shutdown_timeout_s=60,
        probe=lambda _loop: print("running", flush=True),
    ))

    def on_signal(signum: signal.Signals) -> None:
        print(f"signal {signum.name}", flush=True)

    run_host(app, on_signal=on_signal)
    print(f"result {loop.result}", flush=True)


if __name__ == "__main__":
    main()
