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


@pytest.mark.parametrize("bothbad", ["tie", "distinct"])
@pytest.mark.parametrize("ties", [True, False])
def test_coded_pairwise_votes_are_the_texts_votes(bothbad: str, ties: bool) -> None:
    labels = _labels(3)
    texts = votes(labels, ties=ties, bothbad=bothbad)
    codes = votes(coded(labels), ties=ties, bothbad=bothbad)
    assert isinstance(codes["vote"].dtype, pd.CategoricalDtype)
    # the categories are those in use before ties are dropped, coded as the texts' votes would be
    every = votes(labels, bothbad=bothbad)["vote"].to_numpy(dtype=object)
    assert list(codes["vote"].dtype.categories) == list(coded_column(every).categories)
    pd.testing.assert_frame_equal(_plain(codes), _plain(texts), check_dtype=False)
    assert codes["vote"].isna().any()  # a missing value stays a (missing) vote


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
