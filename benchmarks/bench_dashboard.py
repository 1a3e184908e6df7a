"""A dashboard refresh on a task of 100,000 pairwise items x 5 raters (3 humans, 2 judges), SQLite.

The task is imported as a user would (items, then the long labels file; not timed). Then, median of
``--repeat`` runs, each in a fresh app (nothing kept from the run before), it prints:
- the first refresh of a fresh app (``app.dashboard.dashboard``: read every label, the whole report
  with 1,000 resamples, disagreements, figures);
- the refresh after a label changed, the app running: an annotator's label is written through the
  one write path (``store.submit_labels``), then the dashboard is refreshed: it reads the labels
  written since its last refresh (``annotation.frame_cache``) and computes the report again (median
  of ``--changes`` such refreshes per run). This is the refresh researchers wait for while a task is
  being labeled, and the figure the goal is about;
- the refresh again, labels unchanged (kept in ``Services.recent``);
- the baseline measured in the same run: the report alone (``analysis.report.build_task_report``) on
  the frames the dashboard reads, so the ratio is what the dashboard adds to the report.
Goal (issue 18): a refresh within 5 s at 100,000 items.
Usage: python benchmarks/bench_dashboard.py [--items 100000] [--n-boot 1000] [--repeat 1] [--changes 3]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy import select

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_report import synthetic  # noqa: E402

from analysis.report import build_task_report  # noqa: E402
from annotation.accounts import add_user  # noqa: E402
from annotation.config import Settings  # noqa: E402
from annotation.ingest import import_file  # noqa: E402
from annotation.label_frames import task_question_frames  # noqa: E402
from annotation.models import Annotator, Item, Label  # noqa: E402
from annotation.services import Services  # noqa: E402
from annotation.store import LabelIn, submit_labels  # noqa: E402
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


def changed_refresh(services: Services, n_boot: int, k: int) -> float:
    """Seconds of a refresh after a human's label on item ``k`` changed (written as the page writes)."""
    with services.session() as session:
        human = session.scalars(select(Annotator.id).where(Annotator.kind == "human").order_by(Annotator.id)).first()
        item = session.scalars(select(Item.id).order_by(Item.id).offset(k).limit(1)).one()
        held = session.scalar(select(Label.value).where(Label.item_id == item, Label.annotator_id == human).limit(1))
        assert human is not None
        submit_labels(session, [LabelIn(item, human, "A" if held != "A" else "B")], changed_by="bench")
    start = time.perf_counter()
    dashboard(services, "researcher", TASK, n_boot=n_boot)
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--n-boot", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--changes", type=int, default=3)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="judgelab-bench-dash-"))
    url = f"sqlite:///{tmp}/dash.db"
    build(url, tmp, args.items)
    cold, changed, warm, report = [], [], [], []
    for run in range(args.repeat):
        services = Services.from_settings(Settings(database_url=url, data_dir=tmp))
        start = time.perf_counter()
        dashboard(services, "researcher", TASK, n_boot=args.n_boot)
        cold.append(time.perf_counter() - start)
        for c in range(args.changes):
            changed.append(changed_refresh(services, args.n_boot, run * args.changes + c))
        start = time.perf_counter()
        dashboard(services, "researcher", TASK, n_boot=args.n_boot)
        warm.append(time.perf_counter() - start)
        with services.session() as session:
            frames, items, models = task_question_frames(session, TASK)
        start = time.perf_counter()
        build_task_report(frames, items, task=TASK, judge_models=models, n_boot=args.n_boot)
        report.append(time.perf_counter() - start)
        services.close()
    c, ch, w, r = (statistics.median(x) for x in (cold, changed, warm, report))
    verdict = "OK" if ch <= GOAL_S * args.items / 100_000 else "OVER GOAL"
    print(
        f"bench_dashboard: {args.items:,} items x 5 raters, {args.n_boot:,} resamples, median of {args.repeat} "
        f"run(s), {args.changes} change(s) each\n"
        f"  refresh after a label changed (app running) {ch:6.2f} s | report alone {r:6.2f} s | ratio {ch / r:4.2f}x"
        f" | goal <= {GOAL_S:g} s at 100,000 items: {verdict}\n"
        f"  first refresh of a fresh app {c:6.2f} s (ratio {c / r:4.2f}x)\n"
        f"  refresh again, labels unchanged {1000 * w:.1f} ms (kept)"
    )
    result = {"bench": "dashboard", "items": args.items, "n_boot": args.n_boot}
    result |= {"refresh_s": c, "changed_s": ch, "kept_ms": 1000 * w, "report_s": r}
    print("RESULT " + json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
