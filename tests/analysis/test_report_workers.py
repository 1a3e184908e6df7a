"""The report computes its figures on a thread pool (analysis.report.Jobs): the same report, to the
last digit, with one worker and with several, for pairwise verdicts and for scores."""

from __future__ import annotations

import pandas as pd
import pytest

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


def test_shared_comparisons_are_the_ones_each_figure_would_compute() -> None:
    """A report's figures share their comparisons (analysis.agreement.ComparisonMemo): each agreement,
    the human ceiling and a judge's distance to it are what they are when computed alone, and the
    comparisons without ties (dropped from the with-ties ones) equal ``comparisons_from_votes``'s,
    in rows, order and dropped shares, also with a rater labeled in both orders counted per order."""
    import numpy as np

    from analysis.agreement import ComparisonMemo, agreement, comparisons_from_votes, drop_ties
    from analysis.compare import human_ceiling, judge_minus_ceiling
    from analysis.frames import collapse, votes

    labels, _ = synthetic(400, seed=9)
    twice = labels[labels["annotator"] == "h1"].head(150).assign(presented_order="ba")
    twice["value"] = np.where(twice["value"] == "A", "tie", twice["value"])
    labels = pd.concat([labels, twice], ignore_index=True)
    for orders in ("combined", "each"):
        counted = collapse(labels, orders=orders)
        memo = ComparisonMemo(counted)
        humans, options = ["h1", "h2", "h3"], {"n_boot": 50, "seed": 1}
        for a, b, ties, majority_b in (
            (["judge-a"], humans, True, False),
            (["judge-a"], humans, False, False),
            (humans, humans, False, False),
            (["judge-b"], humans, True, True),
        ):
            alone = agreement(counted, a, b, ties=ties, majority_b=majority_b, **options)
            shared = agreement(counted, a, b, ties=ties, majority_b=majority_b, memo=memo, **options)
            assert shared == alone
            v = votes(counted, ties=True)
            want = comparisons_from_votes(v, a, b, ties=False)
            got = drop_ties(comparisons_from_votes(v, a, b, ties=True))
            pd.testing.assert_frame_equal(got, want)
            assert got.attrs == want.attrs and got.attrs["judgelab_dropped_ties"]["dropped_share"] > 0
        assert len(memo._made) >= 4  # the memo served them (votes and three comparisons at least)
        assert human_ceiling(counted, humans, memo=memo, **options) == human_ceiling(counted, humans, **options)
        assert judge_minus_ceiling(counted, "judge-b", humans, memo=memo, **options) == judge_minus_ceiling(
            counted, "judge-b", humans, **options
        )


def test_kept_draws_give_the_same_report_and_are_drawn_once() -> None:
    """``build_report(kept=)``: the second report over the same items takes the first one's draws
    (nothing drawn again) and equals a report drawn on its own; other items draw anew."""
    import analysis.resampling as resampling
    from annotation.services import Recent

    labels, items = synthetic(400, seed=8)
    kept = Recent()
    made: list[int] = []
    create = resampling.Resampler.create

    def counting(*args: object, **kwargs: object) -> resampling.Resampler:
        made.append(1)
        return create(*args, **kwargs)  # type: ignore[arg-type]

    alone = build_report(labels, items, n_boot=200, seed=3).to_json()
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(resampling.Resampler, "create", staticmethod(counting))
        first = build_report(labels, items, n_boot=200, seed=3, kept=kept).to_json()
        second = build_report(labels, items, n_boot=200, seed=3, kept=kept).to_json()
        assert len(made) == 1
        fewer = labels[labels["item_id"] != labels["item_id"].iloc[0]]
        build_report(fewer, items, n_boot=200, seed=3, kept=kept)
        assert len(made) == 2
    assert first == alone and second == alone
