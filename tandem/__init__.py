"""The `tandem` command: the application's commands (server/cli.py) and the benchmark's
(bench/cli.py) under one name, one usage and one help.

It lives outside ``server`` so that the application never imports the benchmark: the benchmark
drives the application from above (it starts relay processes and measures them), as a load
tester does, and import-linter keeps ``server``, ``signaling``, ``media`` and ``web`` from
importing ``bench`` or this package.
"""

from __future__ import annotations

from collections.abc import Sequence

from bench.cli import add_bench_parser, run_bench
from server import cli


def main(argv: Sequence[str] | None = None) -> int:
    args = cli.build_parser(add_bench_parser).parse_args(argv)
    if args.command == "bench":
        # The benchmark makes its own throwaway database and settings for the relay it starts.
        return run_bench(args)
    return cli.run(args)
