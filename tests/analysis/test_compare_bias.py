"""Alternative annotator test, human ceiling, biases, consistency, calibration, system ranking."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from sklearn.metrics import brier_score_loss
from statsmodels.stats.multitest import multipletests

from analysis.bias import length_bias, logistic_slope, position_bias, self_preference, swap_consistency
from analysis.calibration import calibration
from analysis.compare import alt_test, benjamini_yekutieli, human_ceiling
from analysis.consistency import score_pairwise_inconsistency, transitivity
from analysis.errors import MetricUndefinedError
from analysis.system import bradley_terry
from tests.analysis.helpers import frame, simulated_pairwise


def test_benjamini_yekutieli_matches_statsmodels() -> None:
    rng = np.random.default_rng(5)
    for _ in range(200):
        p = rng.beta(0.3, 2, size=int(rng.integers(1, 12)))
        expected = multipletests(p, alpha=0.05, method="fdr_by")[0].tolist()
        assert benjamini_yekutieli(p, 0.05) == expected


def test_alt_test_passes_a_good_judge_and_fails_a_random_one() -> None:
    rng = np.random.default_rng(8)
    labels = simulated_pairwise(
        300, {"h1": 0.8, "h2": 0.8, "h3": 0.8, "h4": 0.8, "judge_good": 0.85, "judge_random": 0.0}, rng
    )
    good = alt_test(labels, "judge_good", "kind:human")
    bad = alt_test(labels, "judge_random", "kind:human")
    assert good.passed and good.winning_rate >= 0.5 and len(good.humans) == 4
    assert not bad.passed and bad.winning_rate == 0.0
    assert good.advantage_probability > bad.advantage_probability


def test_alt_test_needs_three_humans() -> None:
    rng = np.random.default_rng(9)
    labels = simulated_pairwise(50, {"h1": 0.8, "h2": 0.8, "judge": 0.8}, rng)
    with pytest.raises(MetricUndefinedError, match=r"at least 3 humans.*has 2"):
        alt_test(labels, "judge", "kind:human")


def test_human_ceiling_is_each_human_against_the_rest() -> None:
    labels = frame(
        [
            (1, "h1", "A", "ab"),
            (1, "h2", "A", "ab"),
            (1, "h3", "B", "ab"),
            (2, "h1", "B", "ab"),
            (2, "h2", "B", "ab"),
            (2, "h3", "B", "ab"),
        ]
    )
    ceiling = human_ceiling(labels, n_boot=0)
    by_name = {r["annotator"]: r["agreement"] for r in ceiling["per_human"]}
    assert by_name == {"h1": 0.75, "h2": 0.75, "h3": 0.5}


def test_position_and_swap() -> None:
    # the judge always picks the first-shown answer; it labeled both orders
    rows = []
    for item in range(10):
        rows += [(item, "judge", "A", "ab"), (item, "judge", "B", "ba"), (item, "h1", "A" if item % 2 else "B", "ab")]
    labels = frame(rows)
    pos = {r["annotator"]: r for r in position_bias(labels, ["judge", "h1"], n_boot=200)}
    assert pos["judge"]["p_first"] == 1.0 and pos["judge"]["n"] == 20
    assert pos["h1"]["p_first"] == 0.5
    swap = swap_consistency(labels, "judge")[0]
    assert (swap["consistency"], swap["flip_rate"], swap["n_items"]) == (0.0, 1.0, 10)


def test_length_bias_and_logistic_slope_oracle() -> None:
    items = pd.DataFrame(
        {
            "item_id": range(8),
            "len_a": [100, 10, 100, 10, 50, 50, 100, 10],
            "len_b": [10, 100, 10, 100, 52, 49, 10, 100],
        }
    )
    labels = frame([(i, "judge", "A" if items.len_a[i] > items.len_b[i] else "B", "ab") for i in range(8)])
    row = length_bias(labels, items, "judge", n_boot=100)[0]
    assert row["p_longer"] == 1.0 and row["n_differ"] == 6
    # logistic slope against statsmodels' Logit (a test-only oracle) on non-separable data
    rng = np.random.default_rng(3)
    x = rng.normal(size=400)
    y = (rng.random(400) < 1 / (1 + np.exp(-(0.3 + 1.2 * x)))).astype(float)
    oracle = sm.Logit(y, sm.add_constant(x)).fit(disp=0).params[1]
    assert logistic_slope(x, y) == pytest.approx(oracle, rel=1e-4)


def test_self_preference() -> None:
    items = pd.DataFrame(
        {
            "item_id": range(4),
            "model_a": ["gpt-x-1", "gpt-x-1", "other", "other"],
            "model_b": ["other", "other", "gpt-x-1", "gpt-x-1"],
        }
    )
    labels = frame(
        [
            (0, "judge", "A", "ab"),
            (1, "judge", "A", "ab"),
            (2, "judge", "B", "ab"),
            (3, "judge", "B", "ab"),
            (0, "h1", "A", "ab"),
            (1, "h1", "B", "ab"),
            (2, "h1", "A", "ab"),
            (3, "h1", "B", "ab"),
        ]
    )
    (row,) = self_preference(labels, items, {"judge": "gpt-x"})
    assert (row["judge_win_rate"], row["human_win_rate"], row["self_preference"]) == (1.0, 0.5, 0.5)


def test_transitivity_circular_and_equivalence() -> None:
    prefs = pd.DataFrame(
        [
            ("q1", "m1", "m2", "A"),
            ("q1", "m2", "m3", "A"),
            ("q1", "m1", "m3", "B"),  # m1>m2>m3>m1: circular
            ("q2", "m1", "m2", "tie"),
            ("q2", "m2", "m3", "tie"),
            ("q2", "m1", "m3", "A"),  # equivalence contradiction
            ("q3", "m1", "m2", "A"),
            ("q3", "m2", "m3", "A"),
            ("q3", "m1", "m3", "A"),  # consistent
            ("q4", "m1", "m2", "A"),
            ("q4", "m2", "m3", "tie"),
            ("q4", "m3", "m1", "B"),  # consistent (m1>m2=m3)
        ],
        columns=["group", "model_a", "model_b", "vote"],
    )
    res = transitivity(prefs)
    assert (res["n_triples"], res["circular"], res["equivalence_contradictions"]) == (4, 1, 1)


def test_score_pairwise_inconsistency() -> None:
    scores = pd.DataFrame({"group": ["q", "q", "r", "r"], "model": ["m1", "m2", "m1", "m2"], "score": [5, 3, 2, 4]})
    pairs = pd.DataFrame({"group": ["q", "r"], "model_a": ["m1", "m1"], "model_b": ["m2", "m2"], "vote": ["A", "A"]})
    assert score_pairwise_inconsistency(scores, pairs) == {"n": 2, "inconsistency": 0.5}


def test_calibration_ece_and_brier() -> None:
    conf = np.array([0.95, 0.95, 0.55, 0.55, 0.75, 0.75, 0.75, 0.75])
    correct = np.array([1, 1, 1, 0, 1, 1, 1, 0])
    res = calibration(conf, correct, bins=10)
    # bins: 0.95 -> acc 1.0 (gap .05, weight .25), 0.55 -> .5 (gap .05, .25), 0.75 -> .75 (gap 0, .5)
    assert res["ece"] == pytest.approx(0.25 * 0.05 + 0.25 * 0.05)
    assert res["brier"] == pytest.approx(brier_score_loss(correct, conf))
    assert res["risk_coverage"][-1]["accuracy"] == pytest.approx(correct.mean())


def test_bradley_terry_recovers_order_and_solves_its_equations() -> None:
    rng = np.random.default_rng(4)
    strength = {"m1": 1.5, "m2": 0.5, "m3": 0.0, "m4": -1.0}
    rows = []
    names = list(strength)
    for _ in range(3000):
        a, b = rng.choice(names, 2, replace=False)
        p = 1 / (1 + np.exp(strength[b] - strength[a]))
        rows.append((a, b, float(rng.random() < p)))
    comps = pd.DataFrame(rows, columns=["model_a", "model_b", "score_a"])
    bt = bradley_terry(comps)
    assert list(bt.index) == ["m1", "m2", "m3", "m4"]
    est = bt - bt.mean()
    truth = pd.Series(strength) - np.mean(list(strength.values()))
    assert np.max(np.abs(est - truth.loc[est.index])) < 0.15


def test_single_answer_report_has_score_metrics() -> None:
    """A 1-5 scale task: ordinal alpha, quadratic kappa, correlations against scipy, leniency."""
    from scipy import stats

    from analysis.agreement import correlations
    from analysis.report import build_report

    rng = np.random.default_rng(12)
    truth = rng.integers(1, 6, 60)
    rows = []
    for name, noise in (("h1", 0.6), ("h2", 0.8), ("h3", 0.7), ("judge", 0.9)):
        score = np.clip(truth + np.round(rng.normal(0, noise, 60)).astype(int) + (1 if name == "judge" else 0), 1, 5)
        rows += [(i, name, str(s), "ab") for i, s in enumerate(score)]
    labels = frame(rows)
    items = pd.DataFrame({"item_id": range(60)})
    report = build_report(labels, items, n_boot=200).to_json()
    assert report["protocol"] == "single"
    assert report["human_agreement"]["alpha"]["level"] == "ordinal"
    assert "quadratic_kappa" in report["human_agreement"]
    section = report["judges_vs_humans"][0]
    judge = labels[labels.annotator == "judge"].sort_values("item_id")["value_num"].to_numpy()
    human_mean = labels[labels.annotator != "judge"].groupby("item_id")["value_num"].mean().to_numpy()
    assert section["score_correlations"]["spearman"] == pytest.approx(stats.spearmanr(judge, human_mean).statistic)
    assert section["score_correlations"]["mae"] == pytest.approx(np.mean(np.abs(judge - human_mean)))
    assert report["bias"]["leniency"][0]["mean_diff"] > 0  # this judge scores one point up
    assert correlations([1, 2, 3, 4], [2, 4, 6, 8])["pearson"] == pytest.approx(1.0)


def test_transitivity_of_a_rater_without_decisive_pairs_is_zero_triples() -> None:
    """A rater whose votes leave no comparable pair (an empty frame of string votes) has 0 triples,
    not a type error (found by the hostile-content report: pandas maps an empty string column to
    strings, and the arithmetic on it failed)."""
    from analysis.consistency import transitivity

    empty = pd.DataFrame(
        {
            "group": pd.Series([], dtype=int),
            "model_a": pd.Series([], dtype="string"),
            "model_b": pd.Series([], dtype="string"),
            "vote": pd.Series([], dtype="string"),
        }
    )
    assert transitivity(empty) == {
        "n_triples": 0,
        "circular": 0,
        "equivalence_contradictions": 0,
        "violation_rate": None,
    }
