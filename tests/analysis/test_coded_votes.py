"""Votes from coded labels (analysis.frames._coded_votes: computed on the few categories) are the votes
the texts give, category for category: pairwise verdicts with ties, both-bad under both rules and
missing values, and scores; and collapse()'s constant columns are what coding their texts gives."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analysis.frames import COLLAPSED, coded, collapse, votes
from benchmarks.bench_report import synthetic
from contracts.columns import coded_column


def _labels(seed: int) -> pd.DataFrame:
    labels, _ = synthetic(500, seed=seed)
    rng = np.random.default_rng(seed)
    labels = labels.copy()
    labels.loc[rng.random(len(labels)) < 0.05, "value"] = "bothbad"
    labels.loc[rng.random(len(labels)) < 0.03, "value"] = None
    return labels


def _plain(v: pd.DataFrame) -> pd.DataFrame:
    return v.assign(
        annotator=v["annotator"].astype(object), kind=v["kind"].astype(object), vote=v["vote"].astype(object)
    )


@pytest.mark.parametrize("twice", [False, True])
@pytest.mark.parametrize("bothbad", ["tie", "distinct"])
@pytest.mark.parametrize("ties", [True, False])
def test_coded_pairwise_votes_are_the_texts_votes(bothbad: str, ties: bool, twice: bool) -> None:
    """One label per (item, rater), and (``twice``) a judge run in both orders on some items."""
    labels = _labels(3)
    if twice:
        again = labels[labels["annotator"] == "judge-a"].head(100).assign(presented_order="ba")
        again.loc[again.index[::2], "value"] = "A"
        labels = pd.concat([labels, again], ignore_index=True)
    texts = votes(labels, ties=ties, bothbad=bothbad)
    codes = votes(coded(labels), ties=ties, bothbad=bothbad)
    assert isinstance(codes["vote"].dtype, pd.CategoricalDtype)
    # the categories are those in use before ties are dropped, coded as the texts' votes would be
    every = votes(labels, bothbad=bothbad)["vote"].to_numpy(dtype=object)
    assert list(codes["vote"].dtype.categories) == list(coded_column(every).categories)
    pd.testing.assert_frame_equal(_plain(codes), _plain(texts), check_dtype=False)
    # a missing value stays a (missing) vote when each rater labeled an item once; grouping drops it
    # (both as before the codes: the texts' votes above are the same)
    assert codes["vote"].isna().any() == (not twice)


def test_an_unused_category_is_dropped_and_scores_keep_their_numbers() -> None:
    labels = _labels(4)
    held = coded(labels)
    held["value"] = held["value"].cat.add_categories(["zzz"])  # a category no label holds
    assert "zzz" not in list(votes(held)["vote"].dtype.categories)
    scores = labels.assign(value=(labels.index % 5 + 1).astype(str), value_num=(labels.index % 5 + 1).astype(float))
    texts, codes = votes(scores), votes(coded(scores))
    pd.testing.assert_frame_equal(_plain(codes), _plain(texts), check_dtype=False)


def test_collapse_codes_its_constant_columns_as_coding_gives_them() -> None:
    out = collapse(coded(_labels(5)))
    assert out.attrs[COLLAPSED]
    for column, value in (("status", "submitted"), ("presented_order", "ab")):
        expected = coded_column(np.full(len(out), value, dtype=object))
        assert out[column].dtype == expected.dtype
        assert (out[column].cat.codes.to_numpy() == expected.codes).all()


@pytest.mark.parametrize("kind", ["pairwise", "scores"])
def test_a_rater_with_several_labels_on_some_items_is_grouped_there_only(kind: str) -> None:
    """A judge run in both orders on some items: only those (item, rater)s are grouped; the rest are
    their own group of one, the same per-(item, rater) rows as grouping every label gives."""
    from analysis.frames import _groups

    labels, _ = synthetic(300, seed=9)
    again = labels[labels["annotator"] == "judge-a"].head(120).assign(presented_order="ba")
    again.loc[again.index[::3], "value"] = "A"
    both = pd.concat([labels, again], ignore_index=True)
    if kind == "scores":
        both = both.assign(value=(both.index % 5 + 1).astype(str), value_num=(both.index % 5 + 1).astype(float))
    for frame in (both, coded(both)):
        several = frame.duplicated(["item_id", "annotator"], keep=False).to_numpy()
        assert 0 < several.sum() < len(frame)
        every = np.ones(len(frame), dtype=bool)  # grouping every label: the rule the shortcut keeps
        pd.testing.assert_frame_equal(_groups(frame, several), _groups(frame, every))
    # the judge's two labels on an item that disagree are a tie; one label is its own vote
    v = votes(both).set_index(["item_id", "annotator"])["vote"] if kind == "pairwise" else None
    if v is not None:
        first = again.index[0]  # made "A" above
        item = both.loc[first, "item_id"]
        held = labels[(labels["item_id"] == item) & (labels["annotator"] == "judge-a")]["value"].iloc[0]
        assert v[(item, "judge-a")] == ("A" if held == "A" else "tie")
        alone = labels[(labels["annotator"] == "judge-b")].iloc[0]
        assert v[(alone["item_id"], "judge-b")] == ("tie" if alone["value"] in ("tie", "bothbad") else alone["value"])


@pytest.mark.parametrize("seed", [1, 2])
def test_coded_votes_with_a_few_repeated_labels_are_the_texts_votes(seed: int) -> None:
    """Coded labels where some (item, rater)s have several (both orders, disagreeing, some with
    probabilities, some missing or skipped): the repeated ones grouped, every other label read from
    its code (analysis.frames._pairwise_votes_coded), the votes the texts give under every rule."""
    from analysis.frames import _repeated

    rng = np.random.default_rng(seed)
    labels = _labels(seed)
    labels.loc[labels.index[:20], "status"] = "skipped"
    again = labels[rng.random(len(labels)) < 0.08].assign(presented_order="ba")
    again.loc[again.index[::2], "value"] = "B"
    both = pd.concat([labels, again], ignore_index=True)
    both["probabilities"] = [
        {"A": float(p), "B": float(1 - p)} if (i >= len(labels) or rng.random() < 0.5) and p < 0.9 else None
        for i, p in enumerate(rng.random(len(both)))
    ]
    frame = coded(both)
    assert np.array_equal(_repeated(frame), frame.duplicated(["item_id", "annotator"], keep=False).to_numpy())
    assert 0 < _repeated(frame).sum() < len(frame) // 4
    for rules in ({}, {"ties": False}, {"bothbad": "distinct"}, {"orders": "first"}):
        texts = votes(both, **rules)
        codes = votes(frame, **rules)
        assert isinstance(codes["vote"].dtype, pd.CategoricalDtype)
        every = votes(both, **{**rules, "ties": True})["vote"].to_numpy(dtype=object)
        assert list(codes["vote"].dtype.categories) == list(coded_column(every).categories), rules
        pd.testing.assert_frame_equal(_plain(codes), _plain(texts), check_dtype=False)
