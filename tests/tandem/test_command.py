"""The `tandem` command: one usage for the application's commands and the benchmark, each run
by its own package."""

from __future__ import annotations

import os
import subprocess
import sys
from importlib import metadata
from pathlib import Path


def tandem(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    # An invalid setting: only the application's commands read the settings.
    env = {**os.environ, "TANDEM_VAR_DIR": str(tmp_path), "TANDEM_DATABASE_URL": "mysql://x/y"}
    return subprocess.run(
        [sys.executable, "-m", "tandem", *args],
        env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip


def test_the_console_script_is_this_entry_point() -> None:
    (script,) = metadata.entry_points(group="console_scripts", name="tandem")
    assert script.value == "tandem:main"


def test_help_lists_the_applications_commands_and_the_benchmark(tmp_path: Path) -> None:
    done = tandem(tmp_path, "--help")
    assert done.returncode == 0, done.stderr
    for command in ("serve", "migrate", "create-user", "recover-recordings", "demo", "bench"):
        assert command in done.stdout


def test_an_application_command_reaches_the_application(tmp_path: Path) -> None:
    done = tandem(tmp_path, "migrate")
    assert done.returncode == 2
    assert "configuration error" in done.stderr
    assert "TANDEM_DATABASE_URL" in done.stderr


def test_bench_reaches_the_benchmark_without_the_applications_settings(tmp_path: Path) -> None:
    done = tandem(tmp_path, "bench", "relay", "--workers", "2", "--mode", "transcode")
    assert done.returncode == 2
    assert "--workers needs --mode forward" in done.stderr
    assert "configuration error" not in done.stderr
