"""Submit (store the answer + read the next item) at 1,000 and at 1,000,000 items, SQLite and PostgreSQL.

One annotator, in-process (the page's handler ``app.annotate.submit``, no HTTP), on a pairwise task
whose other annotators already left one label per item (1,000 labels at 1,000 items, 1,000,000 at a
million; overlap 3, so every item still has a free slot). The tasks are built with bare inserts and
``queue_counts.recount_task`` (the setup is not what is measured; on PostgreSQL it ends with the
VACUUM ANALYZE autovacuum would run after a load of this size). Prints p50/p95 of 200 submits
after 20 warm-up submits, and the ratio p95(1,000,000) / p95(1,000) measured in the same run.
Goal (issue 18): p95 <= 20 ms on both databases at 1,000,000 items, ratio <= 2.
Usage: python benchmarks/bench_queue.py [--big 1000000] [--submits 200] [--backends sqlite,postgresql]
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import insert, select  # noqa: E402

from annotation import queue_counts  # noqa: E402
from annotation.accounts import add_user  # noqa: E402
from annotation.catalog import ensure_annotator, ensure_task  # noqa: E402
from annotation.config import Settings  # noqa: E402
from annotation.db import refresh_statistics  # noqa: E402
from annotation.models import Item, Label  # noqa: E402
from annotation.queue_order import queue_columns  # noqa: E402
from annotation.services import Services  # noqa: E402
from app import annotate  # noqa: E402
from benchmarks.bench_annotate import pct  # noqa: E402
from tests.pgcluster import start_cluster  # noqa: E402

PASSWORD = "tulip-orbit-canyon-42"
OTHERS = 10
CHUNK = 50_000


def build(url: str, data_dir: Path, n: int, seed: int = 0) -> Services:
    """A task of ``n`` items with one label per item by one of ``OTHERS`` human annotators."""
    services = Services.from_settings(Settings(database_url=url, data_dir=data_dir))
    rng = random.Random(seed)
    with services.session() as session:
        task = ensure_task(session, "queue", protocol="pairwise", overlap=3)
        others = [ensure_annotator(session, f"other{k}", kind="human").id for k in range(OTHERS)]
        add_user(session, "bench", role="annotator", password=PASSWORD)
        session.flush()
        task_id = task.id
    for start in range(0, n, CHUNK):
        with services.session() as session:
            rows: list[dict[str, Any]] = []
            for i in range(start, min(n, start + CHUNK)):
                rows.append(
                    {
                        "task_id": task_id,
                        "external_id": f"q{i}",
                        "prompt": f"Question {i}?",
                        "response_a": f"Answer A to {i}.",
                        "response_b": f"Answer B to {i}.",
                        **queue_columns(task_id, f"q{i}"),
                    }
                )
            session.execute(insert(Item), rows)
    with services.session() as session:
        ids = list(session.scalars(select(Item.id).where(Item.task_id == task_id)))
    for start in range(0, len(ids), CHUNK):
        with services.session() as session:
            session.execute(
                insert(Label),
                [
                    {
                        "item_id": item_id,
                        "annotator_id": rng.choice(others),
                        "status": "submitted",
                        "value": rng.choice(["A", "B", "tie"]),
                        "presented_order": "ab",
                    }
                    for item_id in ids[start : start + CHUNK]
                ],
            )
    with services.session() as session:
        queue_counts.recount_task(session, task_id)
        refresh_statistics(session)  # as an import of this size does (annotation.ingest)
    if services.engine.dialect.name == "postgresql":
        # the steady state: what autovacuum does within minutes of a load this size (its visibility
        # map pass over a million new rows would otherwise run during the timed submits)
        with services.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("VACUUM ANALYZE")
    return services


def time_submits(services: Services, submits: int, warmup: int = 20) -> list[float]:
    view = annotate.open_task(services, "bench", "queue")
    times: list[float] = []
    for k in range(warmup + submits):
        assert view.item_id is not None
        start = time.perf_counter()
        view = annotate.submit(services, "bench", "queue", view.item_id, view.choices[k % 3])
        if k >= warmup:
            times.append(time.perf_counter() - start)
    return times


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--small", type=int, default=1_000)
    parser.add_argument("--big", type=int, default=1_000_000)
    parser.add_argument("--submits", type=int, default=200)
    parser.add_argument("--backends", default="sqlite,postgresql")
    args = parser.parse_args()
    result: dict[str, Any] = {"small": args.small, "big": args.big, "submits": args.submits}
    with tempfile.TemporaryDirectory() as tmp:
        cluster = None
        for backend in args.backends.split(","):
            figures: dict[str, Any] = {}
            for n in (args.small, args.big):
                data_dir = Path(tmp) / f"{backend}-{n}"
                data_dir.mkdir()
                if backend == "sqlite":
                    url = f"sqlite:///{data_dir / 'queue.db'}"
                else:
                    if cluster is None:
                        cluster = start_cluster()
                    url = cluster.create_database()
                built = time.perf_counter()
                services = build(url, data_dir, n)
                built = time.perf_counter() - built
                times = time_submits(services, args.submits)
                services.close()
                ms = [1000 * t for t in times]
                figures[str(n)] = {
                    "p50_ms": round(statistics.median(ms), 2),
                    "p95_ms": round(pct(ms, 0.95), 2),
                    "setup_s": round(built, 1),
                }
                print(
                    f"{backend} {n:>9,} items: submit p50 {figures[str(n)]['p50_ms']} ms, "
                    f"p95 {figures[str(n)]['p95_ms']} ms (setup {built:.0f} s)",
                    flush=True,
                )
            ratio = figures[str(args.big)]["p95_ms"] / figures[str(args.small)]["p95_ms"]
            figures["ratio_p95"] = round(ratio, 2)
            print(f"{backend}: p95({args.big:,}) / p95({args.small:,}) = {ratio:.2f} (goal <= 2; p95 <= 20 ms)")
            result[backend] = figures
        if cluster is not None:
            cluster.stop()
    print("RESULT " + json.dumps(result))


if __name__ == "__main__":
    main()
