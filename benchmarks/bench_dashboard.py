"""A dashboard refresh on a task of 100,000 pairwise items x 5 raters (3 humans, 2 judges), SQLite.

The task is imported as a user would (items, then the long labels file; not timed). Prints, median
of ``--repeat`` runs, each in a fresh app (nothing kept from the run before):
- the first refresh after the labels changed (``app.dashboard.dashboard``: read the labels, the
  whole report with 1,000 resamples, disagreements, figures);
- the refresh again, labels unchanged (kept in ``Services.recent``);
- the baseline measured in the same run: the report alone (``analysis.report.build_task_report``) on
  the frames the dashboard reads, so the ratio is what the dashboard adds to the report.
Goal (issue 18): a refresh within 5 s at 100,000 items.
Usage: python benchmarks/bench_dashboard.py [--items 100000] [--n-boot 1000] [--repeat 1]
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
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_report import synthetic  # noqa: E402

from analysis.report import build_task_report  # noqa: E402
from annotation.accounts import add_user  # noqa: E402
from annotation.config import Settings  # noqa: E402
from annotation.ingest import import_file  # noqa: E402
from annotation.label_frames import task_question_frames  # noqa: E402
from annotation.services import Services  # noqa: E402
from app.dashboard import dashboard  # noqa: E402

GOAL_S = 5.0
TASK = "dash"


def build(url: str, tmp: Path, n_items: int) -> None:
    labels, items = synthetic(n_items)
    items_path, labels_path = tmp / "items.jsonl", tmp / "labels.jsonl"
    with items_path.open("w", encoding="utf-8") as fh:
        for it in items.itertuples():
            row = {
                "id": f"i{it.item_id}",
                "prompt": f"Question {it.prompt}",
                "response_a": "x" * int(it.len_a),
                "response_b": "y" * int(it.len_b),
                "model_a": it.model_a,
                "model_b": it.model_b,
                "category": it.category,
            }
            fh.write(json.dumps(row) + "\n")
    with labels_path.open("w", encoding="utf-8") as fh:
        for lab in labels.itertuples():
            row = {
                "item_id": f"i{lab.item_id}",
                "annotator": lab.annotator,
                "annotator_kind": lab.kind,
                "value": lab.value,
                "presented_order": lab.presented_order,
            }
            fh.write(json.dumps(row) + "\n")
    services = Services.from_settings(Settings(database_url=url, data_dir=tmp))
    with services.session() as session:
        import_file(session, items_path, task=TASK)
        import_file(session, labels_path, task=TASK, fmt="labels")
        add_user(session, "researcher", role="researcher", password="bench-dashboard-password-1")
    services.close()


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--n-boot", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="judgelab-bench-dash-"))
    url = f"sqlite:///{tmp}/dash.db"
    build(url, tmp, args.items)
    cold, warm, report = [], [], []
    for _ in range(args.repeat):
        services = Services.from_settings(Settings(database_url=url, data_dir=tmp))
        start = time.perf_counter()
        dashboard(services, "researcher", TASK, n_boot=args.n_boot)
        cold.append(time.perf_counter() - start)
        start = time.perf_counter()
        dashboard(services, "researcher", TASK, n_boot=args.n_boot)
        warm.append(time.perf_counter() - start)
        with services.session() as session:
            frames, items, models = task_question_frames(session, TASK)
        start = time.perf_counter()
        build_task_report(frames, items, task=TASK, judge_models=models, n_boot=args.n_boot)
        report.append(time.perf_counter() - start)
        services.close()
    c, w, r = statistics.median(cold), statistics.median(warm), statistics.median(report)
    verdict = "OK" if c <= GOAL_S * args.items / 100_000 else "OVER GOAL"
    print(
        f"bench_dashboard: {args.items:,} items x 5 raters, {args.n_boot:,} resamples, median of {args.repeat}\n"
        f"  first refresh after a change {c:6.2f} s | report alone {r:6.2f} s | ratio {c / r:4.2f}x | "
        f"goal <= {GOAL_S:g} s at 100,000 items: {verdict}\n"
        f"  refresh again, labels unchanged {1000 * w:.1f} ms (kept)"
    )
    result = {"bench": "dashboard", "items": args.items, "n_boot": args.n_boot}
    result |= {"refresh_s": c, "kept_ms": 1000 * w, "report_s": r}
    print("RESULT " + json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
