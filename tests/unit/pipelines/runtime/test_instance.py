import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ground.errors import ConfigError
from pipelines.runtime import claim_instance, transactional_id

ROOT = Path(__file__).resolve().parents[4]


def test_live_workers_get_distinct_slots_and_a_freed_slot_is_reused(tmp_path: Path) -> None:
    a = claim_instance(tmp_path, "app", hostname="h")
    b = claim_instance(tmp_path, "app", hostname="h")
    assert (a.instance_id, b.instance_id) == ("h-0", "h-1")
    a.release()
    c = claim_instance(tmp_path, "app", hostname="h")
    assert c.instance_id == "h-0"  # the restarted worker takes the dead one's identity
    other_app = claim_instance(tmp_path, "other", hostname="h")
    assert other_app.instance_id == "h-0"
    for s in (b, c, other_app):
        s.release()
    assert transactional_id("app", "h-0") == "app-h-0"


def test_explicit_instance_id_is_exclusive_on_this_host(tmp_path: Path) -> None:
    first = claim_instance(tmp_path, "app", "w1")
    with pytest.raises(ConfigError) as info:
        claim_instance(tmp_path, "app", "w1")
    assert info.value.field == "instance_id"
    first.release()
    again = claim_instance(tmp_path, "app", "w1")
    assert again.instance_id == "w1"
    again.release()


def test_all_slots_taken(tmp_path: Path) -> None:
    held = [claim_instance(tmp_path, "app", hostname="h", max_slots=2) for _ in range(2)]
    with pytest.raises(ConfigError):
        claim_instance(tmp_path, "app", hostname="h", max_slots=2)
    for s in held:
        s.release()


def test_a_killed_process_frees_its_slot(tmp_path: Path) -> None:
    code = (
        "import sys, time; from pipelines.runtime import claim_instance;"
        f"s = claim_instance({str(tmp_path)!r}, 'app', hostname='h');"
        "print(s.instance_id, flush=True); time.sleep(60)"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", code], cwd=ROOT, stdout=subprocess.PIPE, text=True,
        env=dict(os.environ, PYTHONPATH=str(ROOT)),
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "h-0"
        mine = claim_instance(tmp_path, "app", hostname="h")
        assert mine.instance_id == "h-1"  # slot 0 is held by the live child
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
        deadline = time.monotonic() + 5
        while True:
            again = claim_instance(tmp_path, "app", hostname="h")
            if again.instance_id == "h-0" or time.monotonic() > deadline:
                break
            again.release()
        assert again.instance_id == "h-0"
        again.release()
        mine.release()
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(10)
        if proc.stdout is not None:
            proc.stdout.close()
