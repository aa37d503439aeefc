"""What a run costs the shared services, sampled every few seconds while it runs: Redis commands
(INFO commandstats: every PUBLISH, HSET, EVAL... by name) and database writes (PostgreSQL's
pg_stat_database for the run's own database: transactions committed, rows inserted, updated,
deleted). docs/operations.md's capacity model divides these by sessions and minutes.

    python -m bench.counters --redis redis://127.0.0.1:6391/0 \\
        --dsn postgresql://postgres@127.0.0.1/bench_db --seconds 150 --out counters.json

Use a Redis of the run's own (the counts are server-wide) and a database of its own.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from pathlib import Path
from typing import Any

import asyncpg
import redis

DB_COUNTERS = ("xact_commit", "tup_inserted", "tup_updated", "tup_deleted")


def redis_counts(client: redis.Redis) -> dict[str, int]:
    stats: dict[str, Any] = client.info("commandstats")
    return {
        name.removeprefix("cmdstat_"): int(value["calls"])
        for name, value in stats.items()
        if name.startswith("cmdstat_") and name not in ("cmdstat_info", "cmdstat_config")
    }


async def db_counts(conn: asyncpg.Connection) -> dict[str, int]:
    row = await conn.fetchrow(
        "SELECT xact_commit, tup_inserted, tup_updated, tup_deleted"
        " FROM pg_stat_database WHERE datname = current_database()"
    )
    return {name: int(row[name]) for name in DB_COUNTERS}


async def sample(redis_url: str, dsn: str, seconds: float, every: float) -> list[dict[str, Any]]:
    client = redis.Redis.from_url(redis_url)
    conn = await asyncpg.connect(dsn)
    samples = []
    start = time.monotonic()
    try:
        while time.monotonic() - start < seconds:
            # Pending statistics reach pg_stat_database when a backend is idle (about 1 s).
            await conn.execute("SELECT pg_stat_clear_snapshot()")
            samples.append(
                {
                    "t": round(time.monotonic() - start, 1),
                    "redis": redis_counts(client),
                    "db": await db_counts(conn),
                }
            )
            await asyncio.sleep(every)
    finally:
        await conn.close()
        client.close()
    return samples


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.counters", description=__doc__)
    parser.add_argument("--redis", required=True)
    parser.add_argument("--dsn", required=True, help="postgresql://... of the run's database")
    parser.add_argument("--seconds", type=float, default=120.0)
    parser.add_argument("--every", type=float, default=5.0)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    samples = asyncio.run(sample(args.redis, args.dsn, args.seconds, args.every))
    args.out.write_text(json.dumps(samples, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
