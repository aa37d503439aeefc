"""A CPU quota on each relay worker for one run (`tandem bench relay --cpu-per-worker CORES`).

On a small machine one relay worker never fills its core before the load generator, which
shares the cores, runs out of CPU, so a second worker's gain cannot show. Capping each worker
with a Linux cgroup CPU quota emulates "one worker per core" with small cores.

One cgroup per worker, named per run, under the root of the cpu hierarchy: cgroup v2
(``cpu.max``) when /sys/fs/cgroup is a v2 hierarchy with the cpu controller, else v1
(``cpu.cfs_quota_us`` in /sys/fs/cgroup/cpu). Writing a pid to ``cgroup.procs`` moves all its
threads; threads started later inherit the group.
"""

from __future__ import annotations

import contextlib
import math
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

_V2 = Path("/sys/fs/cgroup")
_V1 = Path("/sys/fs/cgroup/cpu")
# A short period keeps each throttling stall short (at most period - quota): with the kernel's
# default 100 ms a worker capped at 0.15 cores would stop for 85 ms at a time, a delay spike
# no real core causes. The kernel's smallest quota is 1 ms; the period grows to allow it.
PERIOD_US = 10_000
_MIN_QUOTA_US = 1_000
_PREFIX = "tandem-bench-"


class CpuCapError(RuntimeError):
    pass


@dataclass(frozen=True)
class Hierarchy:
    root: Path
    version: int


def period_us(cores: float) -> int:
    return max(PERIOD_US, math.ceil(_MIN_QUOTA_US / cores))


def _candidates() -> list[Hierarchy]:
    found = []
    controllers = _V2 / "cgroup.controllers"
    # v2: children of the root get cpu.max only if the root hands the controller down.
    if controllers.exists() and "cpu" in (_V2 / "cgroup.subtree_control").read_text().split():
        found.append(Hierarchy(_V2, 2))
    if (_V1 / "cpu.cfs_quota_us").exists():
        found.append(Hierarchy(_V1, 1))
    return found


def find_hierarchy() -> Hierarchy | None:
    """The first cpu hierarchy where a capped group can really be made (a probe group is
    created and removed: root in a container may see the files and still be refused)."""
    for hierarchy in _candidates():
        _remove_stale(hierarchy)
        probe = hierarchy.root / f"{_PREFIX}{os.getpid()}-probe"
        try:
            probe.mkdir()
            try:
                _write_limit(hierarchy, probe, 1.0)
            finally:
                probe.rmdir()
        except OSError:
            continue
        return hierarchy
    return None


def _remove_stale(hierarchy: Hierarchy) -> None:
    """Empty groups left by a benchmark that was killed (its pid is in the name)."""
    for group in hierarchy.root.glob(f"{_PREFIX}*-*"):
        owner = group.name.removeprefix(_PREFIX).split("-")[0]
        if owner.isdigit() and not Path(f"/proc/{owner}").exists():
            with contextlib.suppress(OSError):
                group.rmdir()


def _write_limit(hierarchy: Hierarchy, group: Path, cores: float) -> None:
    period = period_us(cores)
    quota = round(cores * period)
    if hierarchy.version == 2:
        (group / "cpu.max").write_text(f"{quota} {period}")
    else:
        (group / "cpu.cfs_period_us").write_text(str(period))
        (group / "cpu.cfs_quota_us").write_text(str(quota))


def cgroup_of(pid: int, hierarchy: Hierarchy) -> str:
    """The process's group in ``hierarchy`` (/proc/<pid>/cgroup), relative to its root."""
    for line in Path(f"/proc/{pid}/cgroup").read_text().splitlines():
        number, controllers, path = line.split(":", 2)
        v2 = number == "0" and not controllers
        if (hierarchy.version == 2 and v2) or (
            hierarchy.version == 1 and "cpu" in controllers.split(",")
        ):
            return path.lstrip("/")
    raise CpuCapError(f"process {pid} is in no cpu cgroup")


@dataclass(frozen=True)
class _Group:
    path: Path
    # Where the capped process came from: it goes back there at the end.
    origin: Path


class CpuCap:
    """Caps processes at ``cores`` each, one cgroup per process; ``close()`` removes them."""

    def __init__(self, cores: float) -> None:
        if not cores > 0:
            raise CpuCapError("the CPU cap must be positive")
        hierarchy = find_hierarchy()
        if hierarchy is None:
            raise CpuCapError("no writable cgroup CPU controller")
        self.cores = cores
        self.hierarchy = hierarchy
        self.period_us = period_us(cores)
        self._groups: list[_Group] = []

    def add(self, pid: int) -> Path:
        """Moves ``pid`` into a capped group of its own; returns the group's directory."""
        root = self.hierarchy.root
        path = root / f"{_PREFIX}{os.getpid()}-{len(self._groups)}"
        origin = root / cgroup_of(pid, self.hierarchy)
        path.mkdir()
        # Recorded before anything can fail, so that close() removes it.
        self._groups.append(_Group(path, origin))
        _write_limit(self.hierarchy, path, self.cores)
        (path / "cgroup.procs").write_text(str(pid))
        return path

    def throttling(self) -> list[tuple[int, int]]:
        """Per group, in the order added: (periods with runnable work, periods throttled)."""
        counts = []
        for group in self._groups:
            stat = dict(
                (key, int(value))
                for key, value in (
                    line.split() for line in (group.path / "cpu.stat").read_text().splitlines()
                )
            )
            counts.append((stat.get("nr_periods", 0), stat.get("nr_throttled", 0)))
        return counts

    def close(self) -> None:
        """Moves what is still in each group back where it came from, then removes the group.

        Never raises: it runs on the way out of a failed run too."""
        for group in self._groups:
            with contextlib.suppress(OSError):
                for pid in (group.path / "cgroup.procs").read_text().split():
                    # It may exit between the read and the move.
                    with contextlib.suppress(OSError):
                        (group.origin / "cgroup.procs").write_text(pid)
            # A process that just exited can keep its group busy for a moment.
            deadline = time.monotonic() + 5
            while group.path.exists():
                try:
                    group.path.rmdir()
                except OSError as exc:
                    if time.monotonic() > deadline:
                        print(f"tandem bench: could not remove {group.path}: {exc}",
                              file=sys.stderr)  # fmt: skip
                        break
                    time.sleep(0.05)
        self._groups.clear()

    def __enter__(self) -> CpuCap:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
