"""The votes' grid (analysis.vote_grid) gives the comparisons the frame join gives, frame for frame:
rows, order, dtypes, numbers and the count of votes without a majority; and it declines what it cannot
hold (two votes of one rater on an item, uncoded texts, a sparse crowd), which the join answers."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analysis.agreement import _joined, _majority_of, comparisons_from_votes
from analysis.frames import coded, collapse, votes
from analysis.vote_grid import VoteGrid
from benchmarks.bench_report import synthetic


def _votes(seed: int, *, gaps: float = 0.1, bothbad: str = "tie") -> pd.DataFrame:
    labels, _ = synthetic(400, seed=seed)
    rng = np.random.default_rng(seed)
    labels = labels[rng.random(len(labels)) > gaps].copy()  # raters miss items: pairs on some items only
    missing = rng.random(len(labels)) < 0.03
    labels.loc[missing, "value"] = None  # a submitted label without a value stays a (missing) vote
    labels.loc[rng.random(len(labels)) < 0.05, "value"] = "bothbad"
    return votes(collapse(coded(labels), bothbad=bothbad))


def _sides(v: pd.DataFrame) -> list[tuple[list[str], list[str]]]:
    humans = sorted(v.loc[v["kind"] == "human", "annotator"].unique())
    judges = sorted(v.loc[v["kind"] == "llm_judge", "annotator"].unique())
    return [
        (humans, humans),
        (judges[:1], humans),
        (judges, humans),
        (humans[:1], humans[1:]),
        (humans[:2], humans[1:]),  # overlapping sides: an unordered pair once
        (judges + humans, judges + humans),
        (humans[:1], humans[:1]),  # a rater with itself only: nothing to compare
    ]


def _same(grid_made: pd.DataFrame, joined: tuple[pd.DataFrame, int] | None) -> None:
    if joined is None:
        assert grid_made.empty and not grid_made.attrs
        return
    frame, no_majority = joined
    pd.testing.assert_frame_equal(grid_made, frame, check_index_type=True, check_exact=True)
    assert grid_made.attrs["judgelab_no_majority"] == no_majority


@pytest.mark.parametrize("seed, bothbad", [(1, "tie"), (2, "distinct"), (3, "tie")])
def test_the_grid_gives_the_joined_comparisons(seed: int, bothbad: str) -> None:
    v = _votes(seed, bothbad=bothbad)
    grid = VoteGrid.of(v)
    assert grid is not None  # one vote per (item, rater), coded: the grid holds them
    majorities = lambda raters, gone, k: _majority_of(v, raters, gone, k)  # noqa: E731
    for a, b in _sides(v):
        made = comparisons_from_votes(v, a, b, grid=grid)
        _same(made, _joined(v, a, b, majority_b=False, min_votes=1, majorities=majorities))
        for min_votes in (1, 2, 3):
            made = comparisons_from_votes(v, a, b, majority_b=True, min_votes=min_votes, grid=grid)
            _same(made, _joined(v, a, b, majority_b=True, min_votes=min_votes, majorities=majorities))
    # without ties: the same ties dropped, the same shares
    humans = sorted(v.loc[v["kind"] == "human", "annotator"].unique())
    fast = comparisons_from_votes(v, humans, humans, ties=False, grid=grid)
    assert fast.attrs["judgelab_dropped_ties"]["dropped_share"] > 0
    assert (fast["vote_a"].isin(["A", "B"]) | fast["vote_a"].isna()).all()


def test_the_grid_is_the_path_taken_and_its_pairs_are_right() -> None:
    """Checked by hand on a small case, not only against the join: item 7 has h1 and h2 (one pair),
    item 8 h1, h2 and h3 (three pairs), item 9 h1 alone (none)."""
    v = pd.DataFrame(
        {
            "item_id": [8, 7, 8, 9, 7, 8],
            "annotator": pd.Categorical(["h1", "h1", "h2", "h1", "h2", "h3"], ordered=True),
            "vote": pd.Categorical(["A", "B", "A", "A", "B", "tie"], categories=["A", "B", "tie"], ordered=True),
            "vote_num": [1.0, 0.0, 1.0, 1.0, 0.0, 0.5],
        }
    )
    made = comparisons_from_votes(v, ["h1", "h2", "h3"], ["h1", "h2", "h3"])
    assert made[["item_id", "rater_a", "rater_b", "vote_a", "vote_b"]].astype(str).values.tolist() == [
        ["7", "h1", "h2", "B", "B"],
        ["8", "h1", "h2", "A", "A"],
        ["8", "h1", "h3", "A", "tie"],
        ["8", "h2", "h3", "A", "tie"],
    ]
    assert made["num_b"].tolist() == [0.0, 1.0, 0.5, 0.5]
    # h3 (item 8 only) against each leave-one-out majority of h1 and h2: one vote each, A on item 8
    against = comparisons_from_votes(v, ["h3"], ["h1", "h2"], majority_b=True, min_votes=1)
    assert against[["item_id", "rater_b", "vote_a", "vote_b"]].astype(str).values.tolist() == [
        ["8", "majority without h1", "tie", "A"],
        ["8", "majority without h2", "tie", "A"],
    ]
    assert against.attrs["judgelab_no_majority"] == 0
    # with two votes needed no single human is a majority: nothing to compare
    assert comparisons_from_votes(v, ["h3"], ["h1", "h2"], majority_b=True, min_votes=2).empty


def test_what_the_grid_declines_the_join_answers() -> None:
    v = _votes(4)
    humans = sorted(v.loc[v["kind"] == "human", "annotator"].unique())
    # two votes of one rater on an item (orders counted each): only the join keeps both
    twice = pd.concat([v, v[v["annotator"] == humans[0]].head(20)], ignore_index=True)
    assert VoteGrid.of(twice) is None
    again = v[v["annotator"] == humans[0]].head(20)["item_id"]
    others = v[v["item_id"].isin(again) & v["annotator"].isin(humans[1:])]
    extra = len(others)  # the second vote pairs with every other human on its item
    assert len(comparisons_from_votes(twice, humans, humans)) == len(comparisons_from_votes(v, humans, humans)) + extra
    # texts not coded
    assert VoteGrid.of(v.assign(vote=v["vote"].astype(object))) is None
    # a sparse crowd: 2,000 raters with one vote each would be a grid of 2,000 x 2,000 cells
    crowd = pd.DataFrame(
        {
            "item_id": np.arange(2000) // 2,
            "annotator": pd.Categorical([f"c{i:04d}" for i in range(2000)], ordered=True),
            "vote": pd.Categorical(np.where(np.arange(2000) % 3 == 0, "A", "B"), ordered=True),
            "vote_num": np.where(np.arange(2000) % 3 == 0, 1.0, 0.0),
        }
    )
    assert VoteGrid.of(crowd) is None
    assert len(comparisons_from_votes(crowd, list(crowd["annotator"].astype(str)), ["c0001"])) == 1


@pytest.mark.parametrize("seed", [3, 4])
def test_alphas_matrix_from_the_grid_is_the_pivots(seed: int) -> None:
    """Krippendorff's alpha's nominal matrix read from a report's votes grid equals the pivot of the
    votes, for several rater sets, with submitted labels that hold no value (a vote whose value is
    missing) and raters who skipped items; alpha is then the same number."""
    from analysis.agreement import ComparisonMemo
    from analysis.reliability import alpha, reliability_matrix

    labels, _ = synthetic(400, seed=seed)
    rng = np.random.default_rng(seed)
    labels = labels[rng.random(len(labels)) > 0.15].copy()  # some raters miss some items
    labels.loc[labels.index[rng.random(len(labels)) < 0.03], "value"] = None
    collapsed = collapse(coded(labels))
    memo = ComparisonMemo(collapsed)
    assert memo.grid() is not None and (memo.grid().grid == -1).any()  # a vote without a value
    raters = sorted(labels["annotator"].unique())
    for chosen in (raters[:3], raters, [raters[0], raters[-1]]):
        got = reliability_matrix(collapsed, chosen, level="nominal", memo=memo)
        want = reliability_matrix(collapsed, chosen, level="nominal")
        assert np.array_equal(got[0], want[0], equal_nan=True) and got[1] == want[1]
        assert list(got[2]) == list(want[2])
        with_grid = alpha(collapsed, chosen, level="nominal", n_boot=50, memo=memo).to_dict()
        assert with_grid == alpha(collapsed, chosen, level="nominal", n_boot=50).to_dict()
