"""`tandem bench relay --cpu-per-worker`: a real cgroup CPU quota on a busy child process.

Needs a writable cgroup cpu controller (root on Linux); skipped otherwise. The CPU share is
checked only from above: on a shared machine a child may get less than its cap, never more.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench import cpu_cap
from bench.cpu_cap import CpuCap, cgroup_of, find_hierarchy
from bench.relay_proc import cpu_seconds
from tandem import main


@pytest.fixture
def busy() -> Iterator[subprocess.Popen[bytes]]:
    if find_hierarchy() is None:
        pytest.skip("no writable cgroup cpu controller (needs root and cgroup v1 or v2 cpu)")
    child = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    yield child
    child.kill()
    child.wait()


def test_a_capped_busy_loop_gets_its_quota_and_the_group_goes(
    busy: subprocess.Popen[bytes],
) -> None:
    cap = CpuCap(0.2)
    before = cgroup_of(busy.pid, cap.hierarchy)
    with cap:
        group = cap.add(busy.pid)
        assert cgroup_of(busy.pid, cap.hierarchy) == group.name
        (periods0, _throttled0), = cap.throttling()  # fmt: skip
        cpu0, wall0 = cpu_seconds(busy.pid), time.monotonic()
        time.sleep(2.0)
        share = (cpu_seconds(busy.pid) - cpu0) / (time.monotonic() - wall0)
        (periods1, throttled1), = cap.throttling()  # fmt: skip
    # 0.2 cores, with room for clock-tick rounding in /proc.
    assert share < 0.3, share
    assert periods1 > periods0
    assert throttled1 > 0
    assert not group.exists()
    # Moved back where it was, still running.
    assert cgroup_of(busy.pid, cap.hierarchy) == before
    assert busy.poll() is None


def test_the_group_is_removed_when_its_process_has_exited(
    busy: subprocess.Popen[bytes],
) -> None:
    cap = CpuCap(0.5)
    group = cap.add(busy.pid)
    busy.kill()
    busy.wait()
    cap.close()
    assert not group.exists()


def test_without_a_cgroup_cpu_controller_the_option_is_refused(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(cpu_cap, "_V2", tmp_path / "v2")
    monkeypatch.setattr(cpu_cap, "_V1", tmp_path / "v1")
    assert main(["bench", "relay", "--cpu-per-worker", "0.15"]) == 2
    err = capsys.readouterr().err.strip()
    assert "--cpu-per-worker needs a writable cgroup cpu controller" in err
    assert "\n" not in err
