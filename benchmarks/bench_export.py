"""Export 500,000 labels in long format to Parquet from SQLite. Prints the time next to a baseline
measured in the same run: pyarrow writing the same rows, already in memory, to Parquet (the floor
any exporter pays). Goal: under 20 s. Usage: python benchmarks/bench_export.py [--labels 500000]
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from annotation.catalog import ensure_annotator, ensure_task  # noqa: E402
from annotation.config import Settings  # noqa: E402
from annotation.export import export, long_frame, write_frame  # noqa: E402
from annotation.services import Services  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--labels", type=int, default=500_000)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="judgelab-bench-export-"))
    db = tmp / "export.db"
    services = Services.from_settings(Settings(database_url=f"sqlite:///{db}", data_dir=tmp))
    raters = 5
    n_items = args.labels // raters
    with services.session() as s:
        task_id = ensure_task(s, "bench").id
        ann = [ensure_annotator(s, f"r{k}", kind="human" if k < 3 else "llm_judge").id for k in range(raters)]
    services.close()
    # setup (not timed): rows straight into the migrated tables
    conn = sqlite3.connect(db)
    conn.executemany(
        "INSERT INTO items (id, task_id, external_id, prompt, response_a, response_b, created_at) "
        "VALUES (?, ?, ?, 'p', 'a', 'b', CURRENT_TIMESTAMP)",
        [(i + 1, task_id, f"i{i}") for i in range(n_items)],
    )
    conn.executemany(
        "INSERT INTO labels (item_id, annotator_id, replicate, status, value, value_num, presented_order, "
        "probabilities, duration_ms, created_at, updated_at) VALUES (?, ?, 0, 'submitted', ?, ?, ?, ?, ?, "
        "CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)",
        [
            (
                i + 1,
                a,
                "AB"[(i + a) % 2],
                float((i + a + 1) % 2),
                "ab" if i % 2 else "ba",
                '{"A": 0.6, "B": 0.4}' if a >= 3 else None,
                1000 + i % 500,
            )
            for i in range(n_items)
            for a in ann
        ],
    )
    conn.commit()
    conn.close()
    services = Services.from_settings(Settings(database_url=f"sqlite:///{db}", data_dir=tmp))
    start = time.perf_counter()
    with services.session() as s:
        n = export(s, "bench", "long", tmp / "labels.parquet")
    ours = time.perf_counter() - start
    with services.session() as s:
        frame = long_frame(s, "bench")
    start = time.perf_counter()
    write_frame(frame, tmp / "baseline.parquet")
    floor = time.perf_counter() - start
    services.close()
    print(f"bench_export: {n:,} labels, long format to Parquet, SQLite")
    print(
        f"  judgelab export {ours:6.2f} s ({n / ours:9,.0f} labels/s) | writing the in-memory frame only "
        f"{floor:5.2f} s | ratio {ours / floor:4.1f}x | goal < 20 s: {'OK' if ours < 20 else 'OVER GOAL'}"
    )
    print("RESULT " + json.dumps({"bench": "export", "labels": n, "ours_s": ours, "floor_s": floor}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
