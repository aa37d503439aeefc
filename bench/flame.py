"""`--profile`: sample the relay with py-spy during the window and summarise where time went.

py-spy is not a dependency (`pip install py-spy` to use this). It runs with ``--gil``: only the
thread holding the GIL is sampled, so the shares are of the Python CPU the relay actually used,
not of threads waiting on a lock or a socket.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

_LINE = re.compile(r":\d+\)$")


def py_spy() -> str | None:
    beside = Path(sys.executable).with_name("py-spy")
    return str(beside) if beside.exists() else shutil.which("py-spy")


def start(pid: int, seconds: float, out: Path) -> subprocess.Popen[bytes]:
    exe = py_spy()
    if exe is None:
        raise RuntimeError("--profile needs py-spy (pip install py-spy)")
    return subprocess.Popen(  # noqa: S603  # py-spy from the environment, fixed arguments
        [exe, "record", "--pid", str(pid), "--duration", str(max(1, int(seconds))),
         "--rate", "100", "--format", "raw", "--gil", "--nonblocking", "--output", str(out)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip


def summarize(raw: Path, top: int = 20) -> str:
    """Self and inclusive shares per function (line numbers folded) from py-spy's raw output."""
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    total = 0
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        samples = int(count)
        total += samples
        # The first entry is the thread's outermost frame; fold line numbers per function.
        frames = [_LINE.sub(")", f) for f in stack.split(";")]
        own[frames[-1]] += samples
        for frame in set(frames):
            inclusive[frame] += samples
    if total == 0:
        return "no samples"
    lines = [f"{total} samples holding the GIL", "self:"]
    lines += [f"  {100 * n / total:5.1f}%  {f}" for f, n in own.most_common(top)]
    lines.append("inclusive:")
    lines += [f"  {100 * n / total:5.1f}%  {f}" for f, n in inclusive.most_common(top * 2)]
    return "\n".join(lines)
