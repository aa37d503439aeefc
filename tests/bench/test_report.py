"""The benchmark report's own arithmetic, on made-up inputs."""

from __future__ import annotations

from bench import report


def test_steal_share_is_the_steal_ticks_over_all_ticks_in_between() -> None:
    # user nice system idle iowait irq softirq steal (guest fields after are not summed)
    start = [100, 0, 50, 800, 10, 0, 5, 35, 0, 0]
    end = [300, 0, 150, 1500, 20, 0, 15, 135, 7, 0]
    # 200 + 100 + 700 + 10 + 10 + 100 = 1120 ticks, 100 of them stolen
    assert report.steal_share(start, end) == round(100 / 1120, 4)


def test_steal_share_is_unknown_without_proc_stat() -> None:
    assert report.steal_share([], [1, 2, 3, 4, 5, 6, 7, 8]) is None
    assert report.steal_share([0] * 8, [0] * 8) is None


def test_cpu_times_reads_this_machine() -> None:
    times = report.cpu_times()
    assert len(times) >= 8  # Linux: user .. steal
    assert sum(times) > 0


def test_percentile_interpolates_between_ranks() -> None:
    assert report.percentile([], 0.5) is None
    assert report.percentile([3.0, 1.0, 2.0], 0.5) == 2.0
    assert report.percentile([0.0, 10.0], 0.95) == 9.5
