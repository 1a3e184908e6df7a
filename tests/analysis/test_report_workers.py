"""The report computes its figures on a thread pool (analysis.report.Jobs): the same report, to the
last digit, with one worker and with several, for pairwise verdicts and for scores."""

from __future__ import annotations

import pandas as pd

from analysis.report import build_report
from benchmarks.bench_report import synthetic


def test_one_worker_and_four_give_the_same_report() -> None:
    labels, items = synthetic(600, seed=5)
    options = {"task": "t", "n_boot": 200, "judge_models": {"judge-a": "kestrel"}, "by": "category"}
    one = build_report(labels, items, workers=1, **options).to_json()
    four = build_report(labels, items, workers=4, **options).to_json()
    assert one == four
    assert one["judges_vs_humans"][0]["with_ties"]["agreement_ci95"] and one["strata"]["heterogeneity"]


def test_scores_too() -> None:
    labels, items = synthetic(300, seed=6)
    scores = labels.assign(value=(labels["value_num"] * 4 + 1).astype(int).astype(str))
    scores["value_num"] = scores["value"].astype(float)
    items = pd.DataFrame({"item_id": items["item_id"]})
    assert (
        build_report(scores, items, n_boot=100, workers=1).to_json()
        == build_report(scores, items, n_boot=100, workers=3).to_json()
    )
