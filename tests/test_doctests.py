"""The examples in the docstrings of analysis/ and contracts/ run as tests (the krippendorff
package's habit: the documentation cannot drift from the code), and the public metrics have one."""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import analysis
import contracts
from analysis.compare import _one_sided_p
from analysis.frames import majority, votes
from contracts.columns import LABEL_REQUIRED
from contracts.vocab import majority_verdict, plurality, rater_verdict

MODULES = sorted(
    name
    for package in (analysis, contracts)
    for name in [package.__name__] + [f"{package.__name__}.{m.name}" for m in pkgutil.iter_modules(package.__path__)]
)
# the public metrics and contracts a reader meets first: each shows a worked example
MUST_HAVE_EXAMPLES = [
    "analysis.agreement.cohen_kappa",
    "analysis.agreement.fleiss_kappa",
    "analysis.agreement.krippendorff_alpha",
    "analysis.agreement.correlations",
    "analysis.compare.benjamini_yekutieli",
    "analysis.calibration.confidence_of",
    "contracts.vocab.plurality",
    "contracts.vocab.sql_in",
    "contracts.vocab.flip_pairwise",
    "contracts.vocab.rater_verdict",
    "contracts.vocab.majority_verdict",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_run(name: str) -> None:
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE, verbose=False)
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples in {name} failed"


@pytest.mark.parametrize("qualified", MUST_HAVE_EXAMPLES)
def test_public_metrics_show_an_example(qualified: str) -> None:
    module_name, _, attr = qualified.rpartition(".")
    tests = doctest.DocTestFinder().find(getattr(importlib.import_module(module_name), attr), attr)
    assert sum(len(t.examples) for t in tests) > 0, f"{qualified} has no docstring example"


def test_the_public_api_is_what_all_says() -> None:
    for name in analysis.__all__:
        assert getattr(analysis, name) is not None
    with pytest.raises(AttributeError):
        analysis.no_such_metric  # noqa: B018


def test_the_vectorized_majority_is_the_plurality_rule() -> None:
    """analysis.frames.majority (per item over a votes frame) and contracts.plurality (the one
    definition) agree on random votes, shared top counts included, with texts and with coded
    columns (``analysis.frames.coded``), a left-out rater and a fewest-votes rule."""
    from analysis.frames import coded

    rng = np.random.default_rng(3)
    for _ in range(50):
        n_items, raters = int(rng.integers(1, 30)), [f"r{i}" for i in range(int(rng.integers(1, 6)))]
        rows = [
            (item, r, str(rng.choice(["A", "B", "tie"])))
            for item in range(n_items)
            for r in raters
            if rng.random() < 0.8
        ]
        frame = pd.DataFrame(rows, columns=["item_id", "annotator", "vote"])
        gone, fewest = str(rng.choice(raters)), int(rng.integers(1, 4))
        for held in (frame, coded(frame, ("annotator", "vote"))):
            fast = majority(held, raters).to_dict()
            slow = {
                item: verdict
                for item, group in frame.groupby("item_id")
                if (verdict := plurality(group["vote"].tolist())) is not None
            }
            assert fast == slow
            fast = majority(held, raters, exclude=gone, min_votes=fewest).to_dict()
            slow = {
                item: verdict
                for item, group in frame[frame["annotator"] != gone].groupby("item_id")
                if len(group) >= fewest and (verdict := plurality(group["vote"].tolist())) is not None
            }
            assert fast == slow


def test_the_vectorized_verdict_is_the_rater_verdict_rule() -> None:
    """analysis.frames.votes (one vote per item and rater, vectorized: what the report and the
    dashboard read) and contracts.rater_verdict (what the wide and DPO exports apply) agree on random
    labels: both orders, replicates, probabilities on some raters, scores with medians between points."""
    rng = np.random.default_rng(5)
    for trial in range(60):
        pairwise = trial % 2 == 0
        rows = []
        for item in range(int(rng.integers(1, 15))):
            for r in range(int(rng.integers(1, 4))):
                with_probs = pairwise and r == 0 and trial % 4 == 0  # a logprob judge: every label has them
                for order in ("ab", "ba")[: int(rng.integers(1, 3))]:
                    for replicate in range(int(rng.integers(1, 3))):
                        if pairwise:
                            value = str(rng.choice(["A", "B", "tie", "bothbad"]))
                            p = rng.dirichlet([1, 1, 1])
                            probs = {"A": p[0], "B": p[1], "tie": p[2]} if with_probs else None
                            num = {"A": 1.0, "B": 0.0}.get(value, 0.5)
                        else:
                            num = float(rng.integers(1, 6))
                            value, probs = str(int(num)), None
                        rows.append((item, f"r{r}", "human", "submitted", value, num, order, replicate, probs))
        labels = pd.DataFrame(
            rows,
            columns=[*LABEL_REQUIRED, "replicate", "probabilities"],  # rows are built in this order
        )
        fast = {(row.item_id, row.annotator): row.vote for row in votes(labels).itertuples()}
        slow = {
            key: rater_verdict(group["value"].tolist(), group["probabilities"].tolist())
            for key, group in labels.groupby(["item_id", "annotator"])
        }
        assert fast == slow, trial
        # and the exports' majority over those verdicts is the analysis' majority of 2+ votes
        frame = votes(labels)
        by_item = frame.groupby("item_id")["vote"].agg(list)
        raters = sorted(frame["annotator"].unique())
        expected = {i: m for i, v in by_item.items() if (m := majority_verdict(v)) is not None}
        assert majority(frame, raters, min_votes=2).to_dict() == expected


def test_the_one_sided_t_test_matches_the_t_distribution() -> None:
    rng = np.random.default_rng(4)
    for _ in range(100):
        d = rng.choice([-1.0, 0.0, 1.0], size=int(rng.integers(3, 60)))
        if d.std(ddof=1) == 0:
            continue
        eps = float(rng.uniform(0, 0.4))
        t = (d.mean() - eps) / (d.std(ddof=1) / np.sqrt(d.size))
        assert _one_sided_p(d, eps) == pytest.approx(stats.t.cdf(t, df=d.size - 1), rel=1e-10, abs=1e-15)
