"""Import 100,000 generic pairwise items into SQLite and into PostgreSQL.

Prints items/s of ``judgelab import`` (parse, validate, one transaction) next to a baseline measured
in the same run: the bare driver inserting the same, already-parsed rows into the same table with
``executemany`` (no parsing, no validation). Goal (issue 18): at most 3x the bare driver; at
1,000,000 items (``--n 1000000 --repeat 1``) at most 60 s on SQLite and 90 s on PostgreSQL.
Usage: python benchmarks/bench_import.py [--n 100000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from annotation.config import Settings  # noqa: E402
from annotation.ingest import import_file  # noqa: E402
from annotation.services import Services  # noqa: E402
from tests.pgcluster import start_cluster  # noqa: E402

GOAL_S = {"sqlite": 60.0, "postgresql": 90.0}  # per 1,000,000 items
CATEGORIES = ["coding", "math", "writing", "factual", "reasoning", "advice"]


def write_items(path: Path, n: int) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = []
    with path.open("w", encoding="utf-8") as fh:
        for i in range(n):
            row = {
                "id": f"item-{i:07d}",
                "prompt": f"Question number {i}: explain the idea in two sentences.",
                "response_a": f"Response A to question {i}. " * 8,
                "response_b": f"Response B to question {i}, a bit longer. " * 10,
                "model_a": "kestrel-7b",
                "model_b": "wren-3b",
                "category": CATEGORIES[i % len(CATEGORIES)],
                "probe": "bench",
            }
            rows.append(row)
            fh.write(json.dumps(row) + "\n")
    return rows


def time_import(url: str, path: Path, data_dir: Path) -> float:
    services = Services.from_settings(Settings(database_url=url, data_dir=data_dir))
    start = time.perf_counter()
    with services.session() as session:
        summary = import_file(session, path, task="bench")
    elapsed = time.perf_counter() - start
    assert summary.items_added > 0
    services.close()
    return elapsed


def time_bare(url: str, rows: list[dict[str, object]], data_dir: Path) -> float:
    """The same rows through the bare driver into the migrated items table (baseline)."""
    services = Services.from_settings(Settings(database_url=url, data_dir=data_dir))
    with services.session() as session:
        from annotation.catalog import ensure_task

        task_id = ensure_task(session, "bare").id
    services.close()
    params = [
        (
            task_id,
            r["id"],
            r["prompt"],
            r["response_a"],
            r["response_b"],
            r["model_a"],
            r["model_b"],
            r["category"],
            json.dumps({"probe": r["probe"]}),
        )
        for r in rows
    ]
    sql = (
        "INSERT INTO items (task_id, external_id, prompt, response_a, response_b, model_a, model_b, category, "
        "metadata, created_at) VALUES ({p}, {p}, {p}, {p}, {p}, {p}, {p}, {p}, {p}, CURRENT_TIMESTAMP)"
    )
    start = time.perf_counter()
    if url.startswith("sqlite"):
        import sqlite3

        conn = sqlite3.connect(url.removeprefix("sqlite:///"))
        conn.executemany(sql.format(p="?"), params)
        conn.commit()
        conn.close()
    else:
        import psycopg

        dsn = url.replace("postgresql+psycopg://", "postgresql://")
        with psycopg.connect(dsn) as conn, conn.cursor() as cur:
            cur.executemany(sql.format(p="%s"), params)
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="judgelab-bench-"))
    path = tmp / "items.jsonl"
    rows = write_items(path, args.n)
    print(
        f"bench_import: {args.n:,} pairwise items ({path.stat().st_size / 1e6:.1f} MB JSONL), "
        f"median of {args.repeat} runs"
    )
    cluster = start_cluster()
    result: dict[str, object] = {"bench": "import", "items": args.n}
    try:
        for backend in ("sqlite", "postgresql"):
            ours, bare = [], []
            for r in range(args.repeat):
                if backend == "sqlite":
                    url_a, url_b = f"sqlite:///{tmp}/a{r}.db", f"sqlite:///{tmp}/b{r}.db"
                else:
                    url_a, url_b = cluster.create_database(), cluster.create_database()
                ours.append(time_import(url_a, path, tmp))
                bare.append(time_bare(url_b, rows, tmp))
            t, b = statistics.median(ours), statistics.median(bare)
            limit = GOAL_S[backend] * args.n / 1_000_000  # the goal's seconds, scaled to this size
            verdict = "OK" if t / b <= 3 and t <= limit else "OVER GOAL"
            print(
                f"  {backend:10s} judgelab import {t:6.2f} s ({args.n / t:9,.0f} items/s) | "
                f"bare driver executemany {b:6.2f} s ({args.n / b:9,.0f} items/s) | ratio {t / b:4.2f}x | "
                f"goal <= 3x and <= {limit:.0f} s: {verdict}"
            )
            result[backend] = {"ours_s": t, "bare_s": b}
    finally:
        cluster.cleanup()
    print("RESULT " + json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
