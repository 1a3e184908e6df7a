"""Coverage of judgelab's 95% intervals, by seeded simulation (the issue's grid: n in 20, 50, 200,
1000 items; moderate and high agreement; with and without prompt clustering; agreement, kappa,
alpha and the judge's agreement with the human majority). Wherever an interval is not flagged it
must cover the truth at least 93% of the time; where coverage is not claimed it must be flagged.
The model and the truth: ``tests/analysis/coverage_sim.py`` (run it alone to print the grid)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from statsmodels.stats.proportion import proportion_confint

from analysis import intervals
from analysis.resampling import Resampler
from tests.analysis import coverage_sim


@pytest.fixture(scope="module")
def grid() -> list[coverage_sim.Cell]:
    # CI has two cores and runs the tests one at a time: the grid's four blocks use both
    return coverage_sim.run_grid(reps=400, n_boot=1000, seed=0, workers=2)


def test_unflagged_intervals_cover_at_least_93_percent(grid: list[coverage_sim.Cell]) -> None:
    short = [
        f"{c.statistic} n={c.n} {c.scenario} clustered={c.clustered}: {c.coverage:.3f} ({c.runs - c.flagged} runs)"
        for c in grid
        if c.runs - c.flagged >= 50 and c.coverage < 0.93
    ]
    assert not short, short
    # and most of the grid is claimed: the flags are the exception
    claimed = [c for c in grid if c.flagged < c.runs / 2]
    assert len(claimed) >= 0.75 * len(grid)


def test_coverage_is_not_claimed_where_units_are_few(grid: list[coverage_sim.Cell]) -> None:
    """Clustered 20 items are 4 prompts: every interval is flagged; alpha (BCa) below 50 units too."""
    for c in grid:
        units = c.n // coverage_sim.CLUSTER if c.clustered else c.n
        if units < intervals.MIN_UNITS[_method(c.statistic)]:
            assert c.flagged == c.runs, (c.statistic, c.n, c.clustered)


def _method(statistic: str) -> str:
    return {"agreement": "clopper-pearson-eff", "vs_majority": "clopper-pearson-eff", "kappa": "dirichlet-perks"}.get(
        statistic, "bca"
    )


def test_the_old_percentile_interval_falls_short_where_the_new_ones_hold() -> None:
    """The regression this replaces: at 20 items and high agreement the percentile interval collapses
    (often to [1, 1]) and covers far less than 95%; the Clopper-Pearson interval on the same draws holds."""
    cells = coverage_sim.run_grid(
        ns=(20,),
        reps=300,
        n_boot=1000,
        seed=1,
        methods={"agreement": intervals.percentile},
    )
    old = next(c for c in cells if c.scenario == "high" and not c.clustered)
    assert old.covered / old.runs < 0.85  # flagged or not, the old interval missed


def test_clopper_pearson_matches_statsmodels() -> None:
    for x, n in [(0, 10), (3, 10), (10, 10), (17, 50), (200, 1000)]:
        low, high = intervals.clopper_pearson(x, n)
        ref = proportion_confint(x, n, alpha=0.05, method="beta")
        assert (low, high) == pytest.approx((float(ref[0]), float(ref[1])), abs=1e-12)


def test_all_agree_gives_an_informative_interval_not_one_point() -> None:
    ids = pd.Index(range(20))
    rs = Resampler.create(ids, n_boot=500, seed=0)
    per_item = np.column_stack([np.ones(20), np.ones(20)])  # 20 of 20 agree
    iv = intervals.proportion(lambda s: s[:, 0] / s[:, 1], rs.draws(ids, per_item), trials=intervals.second_column)
    assert iv.flag is None
    assert iv.high == 1.0 and iv.low == pytest.approx(intervals.clopper_pearson(20, 20)[0])
    # the percentile interval of the same draws is the point [1, 1], and says so
    old = intervals.percentile(lambda s: s[:, 0] / s[:, 1], rs.draws(ids, per_item))
    assert (old.low, old.high) == (1.0, 1.0) and old.flag is not None and "degenerate" in old.flag


def test_undefined_resamples_are_flagged() -> None:
    """A ratio whose denominator is zero on most items: many resamples draw none of the others."""
    ids = pd.Index(range(30))
    rs = Resampler.create(ids, n_boot=500, seed=0)
    per_item = np.zeros((30, 2))
    per_item[:2] = [1.0, 1.0]  # only 2 of 30 items count: about 13% of resamples have none
    iv = intervals.bca(lambda s: s[:, 0] / s[:, 1], rs.draws(ids, per_item))
    assert iv.flag is not None and "undefined" in iv.flag
