"""Every figure of the report comes with n and an interval (the README's promise), each interval made
on the report's shared draws: the judge minus the human ceiling (paired), the ceiling's mean, swap
consistency, leniency, calibration, score correlations, the heatmap's cells, Bradley-Terry scores and
rank correlations, the length slope. The methods' coverage: ``test_coverage.py``; here, that the
figures have them and that the resampled computations equal the plain ones on the full data."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analysis.compare import human_ceiling, judge_minus_ceiling
from analysis.report import build_report
from analysis.resampling import Resampler
from analysis.system import bradley_terry, bradley_terry_resampled, model_comparisons
from tests.analysis.helpers import frame, simulated_pairwise

MODELS = ["m1", "m2", "m3", "m4"]


def _task(seed: int = 0, n: int = 240) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    labels = simulated_pairwise(n, {"h1": 0.8, "h2": 0.75, "h3": 0.7, "judge": 0.7}, rng)
    # the judge in both orders: a second label, consistent on most items
    judge = labels[labels["annotator"] == "judge"].copy()
    flip = rng.random(len(judge)) < 0.2
    judge["presented_order"] = np.where(judge["presented_order"] == "ab", "ba", "ab")
    judge.loc[flip, "value"] = np.where(judge.loc[flip, "value"] == "A", "B", "A")
    labels = pd.concat([labels, judge], ignore_index=True)
    labels["value_num"] = labels["value"].map({"A": 1.0, "B": 0.0, "tie": 0.5})
    labels["confidence_p"] = np.where(labels["annotator"] == "judge", rng.uniform(0.3, 1.0, len(labels)), np.nan)
    pairs = [(a, b) for i, a in enumerate(MODELS) for b in MODELS[i + 1 :]]
    chosen = [pairs[int(rng.integers(len(pairs)))] for _ in range(n)]
    items = pd.DataFrame(
        {
            "item_id": range(n),
            "prompt": [f"p{i // 4}" for i in range(n)],
            "model_a": [a for a, _ in chosen],
            "model_b": [b for _, b in chosen],
            "len_a": rng.integers(50, 500, n),
            "len_b": rng.integers(50, 500, n),
        }
    )
    return labels, items


def test_judge_minus_ceiling_is_the_paired_difference() -> None:
    labels, _ = _task()
    rs = Resampler.create(labels["item_id"].unique(), n_boot=500, seed=0)
    diff = judge_minus_ceiling(labels, "judge", ["h1", "h2", "h3"], resampler=rs)
    assert diff["difference"] == pytest.approx(diff["judge_agreement"] - diff["human_agreement"])
    low, high = diff["ci95"]
    assert low < diff["difference"] < high
    # the human side is the humans' pooled agreement (the ceiling weighted by comparisons)
    ceiling = human_ceiling(labels, ["h1", "h2", "h3"], resampler=rs)
    assert diff["human_agreement"] == pytest.approx(ceiling["weighted_agreement"])
    assert ceiling["mean_agreement_ci95"][0] < ceiling["mean_agreement"] < ceiling["mean_agreement_ci95"][1]
    # the same draws give the same interval: a report's figures are reproducible
    assert judge_minus_ceiling(labels, "judge", ["h1", "h2", "h3"], resampler=rs) == diff


def test_resampled_bradley_terry_on_the_full_data_is_the_plain_fit() -> None:
    labels, items = _task(1)
    comps = model_comparisons(labels, items, ["h1", "h2", "h3"])
    plain = bradley_terry(comps)
    ids = pd.Index(labels["item_id"].unique())
    once = Resampler(ids, np.ones((1, len(ids)), dtype=np.float32), "item", len(ids))  # every item once
    draws = bradley_terry_resampled(labels, items, ["h1", "h2", "h3"], list(plain.index), once.sums)
    assert draws[0] == pytest.approx(plain.to_numpy(), abs=1e-6)


def test_every_figure_of_the_report_has_an_interval() -> None:
    labels, items = _task(2)
    report = build_report(labels, items, n_boot=300, seed=0, judge_models={"judge": "m1"})
    judge = report.judges_vs_humans[0]
    assert judge.vs_ceiling is not None and judge.vs_ceiling.ci95 is not None
    assert report.human_ceiling.mean_agreement_ci95 is not None
    assert all(s.consistency_ci95 is not None for s in report.bias.swap)
    assert all(r.tie_rate_diff_ci95 is not None for r in report.bias.leniency)
    assert all(r.logit_slope_ci95 is not None for r in report.bias.length if r.logit_slope is not None)
    cal = report.calibration["judge"]
    assert cal.ece_ci95 is not None and cal.brier_ci95 is not None
    assert cal.n == 2 * cal.n_items  # the judge labeled each item in both orders; the items are the unit
    matrix = report.pairwise_matrix
    k = len(matrix.raters)
    assert all(matrix.ci95[i][j] is not None for i in range(k) for j in range(k) if i != j)
    humans_rank = report.system.humans
    assert all(r.bt_score_ci95 is not None for r in humans_rank)
    vs = report.system.judges["judge"].vs_humans
    assert vs.spearman_ci95 is not None
    for block in (judge.with_ties, judge.majority):
        assert block.ci_method == "clopper-pearson-eff" and block.kappa_ci_method == "dirichlet-perks"
    # 60 prompts of 4 items: the prompt is the unit, and 60 units are enough for every method
    assert report.settings.resampling_unit == "prompt" and report.settings.n_resampling_units == 60
    assert report.flags() == []


def test_single_answer_correlations_have_intervals() -> None:
    rng = np.random.default_rng(3)
    truth = rng.integers(1, 6, 120)
    rows = []
    for rater, noise in (("h1", 0.7), ("h2", 0.8), ("judge", 1.0)):
        scores = np.clip(np.round(truth + rng.normal(0, noise, 120)), 1, 5).astype(int)
        rows += [(i, rater, str(s), "ab") for i, s in enumerate(scores)]
    labels = frame(rows)
    report = build_report(labels, pd.DataFrame({"item_id": range(120)}), n_boot=300, seed=0)
    corr = report.judges_vs_humans[0].score_correlations
    for key in ("spearman", "kendall", "pearson", "mae"):
        low, high = getattr(corr, f"{key}_ci95")
        assert low <= getattr(corr, key) <= high, key
    lenient = report.bias.leniency[0]
    assert lenient.mean_diff_ci95 is not None and lenient.positive_rate_diff_ci95 is not None


def test_few_units_and_degenerate_intervals_are_flagged_everywhere_they_show() -> None:
    """20 items where everyone agrees: agreement's interval is informative ([0.83, 1], not [1, 1]);
    kappa is undefined; alpha's bootstrap is flagged (20 units < 50) and the report lists it."""
    rows = [(i, r, "A" if i % 2 else "B", "ab") for i in range(20) for r in ("h1", "h2", "judge")]
    report = build_report(frame(rows), pd.DataFrame({"item_id": range(20)}), n_boot=300, seed=0)
    judge = report.judges_vs_humans[0].with_ties
    assert judge.agreement == 1.0 and judge.agreement_ci95[0] < 0.9 and judge.ci_flag is None
    where = [w for w, _ in report.flags()]
    assert any("alpha" in w for w in where)
    from app.headline import flag_lines
    from app.report_text import render_text

    text = render_text(report)
    assert "flagged intervals (" in text and all(line in text for line in flag_lines(report))


def test_row_wise_rank_correlations_match_scipy() -> None:
    """The Bradley-Terry rank correlations are computed for every resample at once; with ties they
    equal scipy's spearmanr and kendalltau (tau-b) row by row."""
    from scipy import stats

    from analysis.system import rank_correlations

    rng = np.random.default_rng(0)
    x = rng.integers(0, 4, (200, 6)).astype(float)  # many ties
    y = rng.normal(size=(200, 6))
    y[:, 2] = y[:, 3]
    found = rank_correlations(x, y)
    defined = np.ptp(x, axis=1) > 0
    for row in np.flatnonzero(defined):
        assert found["kendall"][row] == pytest.approx(stats.kendalltau(x[row], y[row]).statistic, abs=1e-12)
        assert found["spearman"][row] == pytest.approx(stats.spearmanr(x[row], y[row]).statistic, abs=1e-12)
