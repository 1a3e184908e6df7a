"""Real data at scale: the Chatbot Arena human votes and three LLM judges' verdicts on the same 26,919
pairs (``../shared/data/arena_ppr``, MIT license, from the prediction-powered ranking paper's
repository; read from there, never copied into the project), imported and reported as a user would.

Prints, each next to a baseline measured in the same run:
- importing the items, then the 107,676 labels (``judgelab import``: parse, validate, one transaction
  per file, SQLite) against the bare driver inserting the same, already-parsed label rows with
  ``executemany`` (no parsing, no validation, no key lookups);
- the whole report (1,000 resamples, clustered by Arena question) against the report of a synthetic
  task of the same number of items and raters (``bench_report.synthetic``).
The Arena files have no prompt or response texts: each item's prompt and responses say so.
Usage: python benchmarks/bench_arena.py [--data ../shared/data/arena_ppr] [--n-boot 1000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import sqlite3
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
from annotation.catalog import ensure_annotator  # noqa: E402
from annotation.config import Settings  # noqa: E402
from annotation.ingest import import_file  # noqa: E402
from annotation.label_frames import task_question_frames  # noqa: E402
from annotation.services import Services  # noqa: E402
from contracts.vocab import PAIRWISE_NUMBERS as NUMBERS  # noqa: E402

RATERS = {
    "human.json": ("arena-user", "human"),
    "gpt-4-0125-preview.json": ("gpt-4-0125-preview", "llm_judge"),
    "claude-3-opus-20240229.json": ("claude-3-opus-20240229", "llm_judge"),
    "gpt-3.5-turbo.json": ("gpt-3.5-turbo", "llm_judge"),
}
VALUES = {"model_a": "A", "model_b": "B", "tie": "tie", "tie (bothbad)": "bothbad"}
NO_TEXT = "(the Arena data set publishes who was compared and who won, not the texts)"


def read(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def write_files(data: Path, tmp: Path) -> tuple[Path, Path, list[tuple[object, ...]]]:
    """The items and the long labels as judgelab files, and the label rows for the bare baseline."""
    votes = {name: read(data / name) for name in RATERS}
    pairs = votes["human.json"]
    items = tmp / "arena-items.jsonl"
    with items.open("w", encoding="utf-8") as fh:
        for p in pairs:
            row = {
                "id": str(p["num"]),
                "prompt": f"Chatbot Arena question {p['question_id']} {NO_TEXT}",
                "response_a": NO_TEXT,
                "response_b": NO_TEXT,
                "model_a": p["model_a"],
                "model_b": p["model_b"],
                "question_id": p["question_id"],
            }
            fh.write(json.dumps(row) + "\n")
    labels = tmp / "arena-labels.jsonl"
    bare: list[tuple[object, ...]] = []
    with labels.open("w", encoding="utf-8") as fh:
        for name, (rater, kind) in RATERS.items():
            for v in votes[name]:
                value = VALUES[str(v["winner"])]
                fh.write(
                    json.dumps({"item_id": str(v["num"]), "annotator": rater, "annotator_kind": kind, "value": value})
                    + "\n"
                )
                bare.append((int(str(v["num"])), rater, value))
    return items, labels, bare


def time_import(url: str, items: Path, labels: Path, tmp: Path) -> tuple[float, float]:
    services = Services.from_settings(Settings(database_url=url, data_dir=tmp))
    start = time.perf_counter()
    with services.session() as session:
        import_file(session, items, task="arena")
    mid = time.perf_counter()
    with services.session() as session:
        summary = import_file(session, labels, task="arena", fmt="labels")
    end = time.perf_counter()
    assert summary.labels_inserted > 0
    services.close()
    return mid - start, end - mid


def time_bare_labels(url: str, items: Path, rows: list[tuple[object, ...]], tmp: Path) -> float:
    """The label rows through the bare driver into the migrated labels table of a database holding
    the items (imported and ids looked up before the clock starts): the floor of any import."""
    services = Services.from_settings(Settings(database_url=url, data_dir=tmp))
    with services.session() as session:
        import_file(session, items, task="arena")
        for rater, kind in RATERS.values():
            ensure_annotator(session, rater, kind=kind)
    services.close()
    conn = sqlite3.connect(url.removeprefix("sqlite:///"))
    item_ids = dict(conn.execute("SELECT external_id, id FROM items"))
    annotators = dict(conn.execute("SELECT name, id FROM annotators"))
    params = [
        (
            item_ids[str(num)],
            annotators[rater],
            "verdict",
            0,
            "submitted",
            value,
            NUMBERS[value],
            "ab",
            "2026-01-01",
            "2026-01-01",
        )
        for num, rater, value in rows
    ]
    start = time.perf_counter()
    conn.executemany(
        "INSERT INTO labels (item_id, annotator_id, question, replicate, status, value, value_num, presented_order, "
        "created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        params,
    )
    conn.commit()
    elapsed = time.perf_counter() - start
    conn.close()
    return elapsed


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data" / "arena_ppr")
    parser.add_argument("--n-boot", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    if not (args.data / "human.json").exists():
        print(f"bench_arena: no Arena data at {args.data}: skipped")
        print("RESULT " + json.dumps({"bench": "arena", "skipped": True}))
        return 0
    tmp = Path(tempfile.mkdtemp(prefix="judgelab-arena-"))
    items, labels, bare_rows = write_files(args.data, tmp)
    n_items, n_labels = len(bare_rows) // 4, len(bare_rows)
    print(
        f"bench_arena: {n_items:,} Arena pairs, {n_labels:,} labels (1 human vote, 3 judges), median of {args.repeat}"
    )
    item_s, label_s, bare_s = [], [], []
    url = ""
    for r in range(args.repeat):
        url = f"sqlite:///{tmp}/arena{r}.db"
        t_items, t_labels = time_import(url, items, labels, tmp)
        item_s.append(t_items)
        label_s.append(t_labels)
        bare_s.append(time_bare_labels(f"sqlite:///{tmp}/bare{r}.db", items, bare_rows, tmp))
    ti, tl, tb = statistics.median(item_s), statistics.median(label_s), statistics.median(bare_s)
    print(
        f"  import items {ti:6.2f} s ({n_items / ti:8,.0f} items/s); "
        f"labels {tl:6.2f} s ({n_labels / tl:8,.0f} labels/s) | "
        f"bare executemany of the labels {tb:5.2f} s ({n_labels / tb:9,.0f} labels/s) | ratio {tl / tb:5.1f}x"
    )
    services = Services.from_settings(Settings(database_url=url, data_dir=tmp))
    with services.session() as session:
        frames, item_frame, models = task_question_frames(session, "arena")
    services.close()
    real, synth = [], []
    s_labels, s_items = synthetic(n_items)
    s_labels = s_labels[s_labels["annotator"].isin(["h1", "judge-a", "judge-b", "h2"])]
    report = None
    for _ in range(args.repeat):
        start = time.perf_counter()
        report = build_task_report(frames, item_frame, task="arena", judge_models=models, n_boot=args.n_boot)
        real.append(time.perf_counter() - start)
        start = time.perf_counter()
        build_task_report({"verdict": s_labels}, s_items, task="synthetic", n_boot=args.n_boot)
        synth.append(time.perf_counter() - start)
    tr, ts = statistics.median(real), statistics.median(synth)
    assert report is not None
    data = report.to_json()
    print(
        f"  whole report, {args.n_boot:,} resamples by {data['settings']['resampling_unit']} "
        f"({data['settings']['n_resampling_units']:,} units): {tr:5.1f} s | synthetic task of the same size "
        f"{ts:5.1f} s | ratio {tr / ts:4.2f}x"
    )
    for judge in data["judges_vs_humans"]:
        with_ties = judge["with_ties"]
        lo, hi = with_ties["agreement_ci95"]
        print(
            f"    {judge['judge']:26s} agreement with the Arena user {with_ties['agreement']:.3f} [{lo:.3f}, {hi:.3f}]"
            f" n={with_ties['n']:,}"
        )
    result = {
        "bench": "arena",
        "items": n_items,
        "labels": n_labels,
        "items_s": ti,
        "labels_s": tl,
        "bare_labels_s": tb,
        "report_s": tr,
        "synthetic_report_s": ts,
        "n_boot": args.n_boot,
    }
    print("RESULT " + json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
