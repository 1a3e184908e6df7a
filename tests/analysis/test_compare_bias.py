"""Alternative annotator test, human ceiling, biases, consistency, calibration, system ranking."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from scipy import stats
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


def test_alt_test_allows_two_humans_with_a_warning_and_needs_two() -> None:
    rng = np.random.default_rng(9)
    labels = simulated_pairwise(50, {"h1": 0.8, "h2": 0.8, "judge": 0.8}, rng)
    two = alt_test(labels, "judge", "kind:human")
    assert len(two.humans) == 2 and any("only 2 humans" in w for w in two.warnings)
    with pytest.raises(MetricUndefinedError, match=r"at least 2 humans.*has 1"):
        alt_test(labels[labels["annotator"] != "h2"], "judge", "kind:human")


def _reference_alt_test(
    llm: dict, humans: dict, *, eps: float, q: float, score: str, min_humans: int = 2, min_items: int = 30
) -> tuple[float, float]:
    """The alternative annotator test written straight from its definition (Calderon, Reichart & Dror,
    ACL 2025, Algorithm 1; the reference implementation's data layout: annotator -> instance -> label),
    independently of analysis.compare: plain loops, statistics by hand (Student t from scipy's
    distribution only), Benjamini-Yekutieli by its step-up rule."""
    annotators_of: dict = {}
    for h, anns in humans.items():
        for i in anns:
            annotators_of.setdefault(i, []).append(h)
    keep = {i for i, hs in annotators_of.items() if len(hs) >= min_humans and i in llm}

    def align(pred: object, rest: list) -> float:
        if score == "accuracy":
            return sum(pred == r for r in rest) / len(rest)
        return -float(np.sqrt(sum((float(pred) - float(r)) ** 2 for r in rest) / len(rest)))

    p_values, rhos = [], []
    for h, anns in humans.items():
        items = [i for i in anns if i in keep]
        if len(items) < min_items:
            continue
        d, w_llm = [], []
        for i in items:
            rest = [humans[k][i] for k in annotators_of[i] if k != h]
            s_f, s_h = align(llm[i], rest), align(anns[i], rest)
            w_llm.append(1.0 if s_f >= s_h else 0.0)
            d.append((1.0 if s_h >= s_f else 0.0) - w_llm[-1])
        n = len(d)
        mean = sum(d) / n
        sd = (sum((x - mean) ** 2 for x in d) / (n - 1)) ** 0.5
        t = (mean - eps) / (sd / n**0.5) if sd > 0 else (-np.inf if mean < eps else np.inf)
        p_values.append(float(stats.t.cdf(t, df=n - 1)))
        rhos.append(sum(w_llm) / n)
    m = len(p_values)
    c_m = sum(1 / k for k in range(1, m + 1))
    order = sorted(range(m), key=lambda k: p_values[k])
    last = max((r for r, k in enumerate(order) if p_values[k] <= (r + 1) * q / (m * c_m)), default=-1)
    return (last + 1) / m, sum(rhos) / m


@pytest.mark.parametrize("kind", ["categories", "scores"])
def test_alt_test_matches_the_reference_definition(kind: str) -> None:
    """Simulated pools of 2 to 5 humans with uneven coverage (some humans below 30 items, who are
    left out of the test), categorical and numeric labels: winning rate exact, advantage probability
    to 1e-12."""
    rng = np.random.default_rng(21 if kind == "categories" else 22)
    checked = 0
    for _ in range(40):
        n_items = int(rng.integers(40, 120))
        n_humans = int(rng.integers(2, 6))
        truth = rng.integers(1, 6, n_items) if kind == "scores" else rng.choice(["A", "B", "tie"], n_items)
        humans: dict = {}
        rows = []
        for h in range(n_humans):
            coverage = float(rng.choice([0.2, 0.7, 1.0]))  # 0.2 of 40-120 items: often below 30
            anns = {}
            for i in range(n_items):
                if rng.random() < coverage:
                    noisy = rng.random() < 0.3
                    if kind == "scores":
                        anns[i] = int(np.clip(truth[i] + (rng.integers(-2, 3) if noisy else 0), 1, 5))
                    else:
                        anns[i] = str(rng.choice(["A", "B", "tie"])) if noisy else str(truth[i])
                    rows.append((i, f"h{h}", str(anns[i]), "ab"))
            humans[f"h{h}"] = anns
        judge_noise = float(rng.uniform(0.1, 0.6))
        llm = {}
        for i in range(n_items):
            if kind == "scores":
                llm[i] = int(np.clip(truth[i] + (rng.integers(-1, 2) if rng.random() < judge_noise else 0), 1, 5))
            else:
                llm[i] = str(rng.choice(["A", "B", "tie"])) if rng.random() < judge_noise else str(truth[i])
            rows.append((i, "judge", str(llm[i]), "ab"))
        labels = frame(rows)
        score = "accuracy" if kind == "categories" else "neg_rmse"
        try:
            ours = alt_test(labels, "judge", "kind:human", epsilon=0.15, similarity=score)
        except MetricUndefinedError:
            # no human reaches 30 counted items: the reference tests no one either
            with pytest.raises(ZeroDivisionError):
                _reference_alt_test(llm, humans, eps=0.15, q=0.05, score=score)
            continue
        winning, advantage = _reference_alt_test(llm, humans, eps=0.15, q=0.05, score=score)
        assert ours.winning_rate == winning
        assert ours.advantage_probability == pytest.approx(advantage, abs=1e-12)
        assert all(h.n_items >= 30 for h in ours.humans)
        checked += 1
    assert checked >= 20


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
    # families by an explicit map: "gpt-x" is not a substring match for "gpt-x-1"
    assert self_preference(labels, items, {"judge": "gpt-x"}, n_boot=0) == []
    (row,) = self_preference(labels, items, {"judge": "gpt-x"}, families={"gpt-x-1": "gpt-x"}, n_boot=0)
    assert (row["judge_win_rate"], row["human_win_rate"], row["self_preference"]) == (1.0, 0.5, 0.5)
    assert row["n_items"] == 4


def test_self_preference_compares_shared_items_only() -> None:
    """The judge also labeled items no human saw, where its family's response happens to be better:
    comparing all its items with the humans' would show a preference that is not there. On the
    shared items the judge votes as the humans do: self-preference 0, inside its CI."""
    rng = np.random.default_rng(31)
    n = 120
    items = pd.DataFrame(
        {
            "item_id": range(n),
            "model_a": np.where(np.arange(n) % 2 == 0, "kestrel-7b", "wren-3b"),
            "model_b": np.where(np.arange(n) % 2 == 0, "wren-3b", "kestrel-7b"),
        }
    )
    rows = []
    for i in range(n):
        if i < 60:  # shared: the judge votes as the human does
            verdict = str(rng.choice(["A", "B"]))
            rows += [(i, "judge", verdict, "ab"), (i, "h1", verdict, "ab")]
        else:  # on the items only the judge saw, kestrel (A on even items, B on odd) wins every time
            rows.append((i, "judge", "A" if i % 2 == 0 else "B", "ab"))
    labels = frame(rows)
    (row,) = self_preference(labels, items, {"judge": "Org/Kestrel-7B"}, n_boot=200)
    assert row["model"] == "kestrel-7b" and row["n_items"] == 60
    assert row["self_preference"] == 0.0
    lo, hi = row["self_preference_ci95"]
    assert lo <= 0.0 <= hi


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


def test_the_reports_transitivity_is_that_of_each_raters_named_verdicts() -> None:
    """The report numbers prompts and models once for every rater (integer codes); its figure equals
    ``transitivity`` on each rater's verdicts with the prompts and model names themselves, also with
    a prompt missing (those items are one group) and an item without its models (left out)."""
    from analysis.report import build_report

    rng = np.random.default_rng(7)
    models = ["m10", "m9", "alpha", "Beta"]  # names whose text order is not their number order
    n = 240
    pairs = np.array([rng.choice(4, size=2, replace=False) for _ in range(n)])
    items = pd.DataFrame(
        {
            "item_id": np.arange(n),
            "prompt": [None if i % 37 == 0 else f"q{i // 6}" for i in range(n)],
            "model_a": [None if i == 5 else models[a] for i, a in enumerate(pairs[:, 0])],
            "model_b": [models[b] for b in pairs[:, 1]],
        }
    )
    rows = [(i, r, str(rng.choice(["A", "B", "tie"])), "ab") for i in range(n) for r in ("h1", "h2", "judge")]
    labels = frame(rows)
    report = build_report(labels, items, n_boot=0)
    meta = items.set_index("item_id")
    for rater in ("h1", "h2", "judge"):
        mine = labels[labels["annotator"] == rater].join(meta, on="item_id").dropna(subset=["model_a", "model_b"])
        group = mine["prompt"].map(lambda p: "(none)" if p is None else p)
        named = pd.DataFrame(
            {"group": group, "model_a": mine["model_a"], "model_b": mine["model_b"], "vote": mine["value"]}
        )
        assert report.consistency is not None
        got = report.consistency[rater].model_dump()
        want = transitivity(named)
        assert want["n_triples"] > 0
        assert {k: got[k] for k in want} == want


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


def test_calibration_bins_put_a_confidence_on_an_edge_in_the_bin_above() -> None:
    result = calibration(np.array([0.3, 0.6, 0.7, 0.05, 1.0]), np.ones(5))
    assert [b["bin"] for b in result["curve"]] == [0, 3, 6, 7, 9]  # np.linspace edges gave 2, 5, 6


def test_a_humans_calibration_is_scored_against_the_other_humans() -> None:
    """Two humans who agree on half the items: against a majority that includes h1, h1 would be right
    every time the majority exists (accuracy 1.0); against the other human, 0.5."""
    from analysis.report import build_report

    rows = []
    for item in range(40):
        rows.append((item, "h1", "A", "ab"))
        rows.append((item, "h2", "A" if item % 2 else "B", "ab"))
    labels = frame(rows)
    labels["confidence_p"] = 0.75
    items = pd.DataFrame({"item_id": range(40)})
    cal = build_report(labels, items, n_boot=0, min_votes=1).calibration["h1"]
    assert cal.n == 40 and cal.accuracy == pytest.approx(0.5)
    # by default a majority needs 2 votes: one other human is no majority, so no calibration for h1
    assert "h1" not in build_report(labels, items, n_boot=0).calibration


def test_rankings_from_the_items_models_read_once_are_the_joins(monkeypatch: pytest.MonkeyPatch) -> None:
    """system.ItemModels (each item's models coded once for every ranking) gives the rankings and the
    resampled Bradley-Terry scores that joining each rater's votes with the items' model names gives,
    with items whose models are missing or the same on both sides."""
    from analysis import system
    from analysis.resampling import Resampler
    from benchmarks.bench_report import synthetic

    labels, items = synthetic(600, seed=4)
    items = items.copy()
    items.loc[items.index[::11], "model_b"] = None
    items.loc[items.index[5::13], "model_b"] = items.loc[items.index[5::13], "model_a"]
    raters = sorted(labels["annotator"].unique())
    rs = Resampler.create(items["item_id"].to_numpy(), n_boot=50, seed=1)
    coded_ = {r: system.ranking(labels, items, [r]) for r in raters}
    draws = {r: system.bradley_terry_resampled(labels, items, [r], list(coded_[r].index), rs.sums) for r in raters}
    monkeypatch.setattr(system.ItemModels, "of", classmethod(lambda cls, items: None))
    for r in raters:
        joined = system.ranking(labels, items, [r])
        pd.testing.assert_frame_equal(coded_[r], joined)
        assert np.array_equal(draws[r], system.bradley_terry_resampled(labels, items, [r], list(joined.index), rs.sums))
