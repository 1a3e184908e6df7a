"""Analysis of tasks with several questions (issue 17): votes by level of measurement, checklist pass
rates and the coverage of their intervals."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analysis.frames import votes
from analysis.questions import pass_rates
from contracts.columns import LEVEL_ATTR, QUESTION_ATTR, SCALE_ATTR


def _frame(rows: list[tuple[int, str, str, float]], level: str, scale: list[str] | None = None) -> pd.DataFrame:
    frame = pd.DataFrame(
        [
            {
                "item_id": i,
                "annotator": r,
                "kind": "human",
                "status": "submitted",
                "value": v,
                "value_num": n,
                "presented_order": "ab",
            }
            for i, r, v, n in rows
        ]
    )
    frame.attrs[LEVEL_ATTR] = level
    frame.attrs[QUESTION_ATTR] = {"name": "q", "kind": "choice"}
    if scale:
        frame.attrs[SCALE_ATTR] = scale
    return frame


def test_nominal_votes_take_the_plurality_and_drop_an_even_split() -> None:
    rows = [
        (1, "r", "cat", 0.0),
        (1, "r", "cat", 0.0),
        (1, "r", "dog", 1.0),
        (2, "r", "cat", 0.0),
        (2, "r", "dog", 1.0),
    ]
    v = votes(_frame(rows, "nominal"))
    assert v[["item_id", "vote", "vote_num"]].values.tolist() == [[1, "cat", 0.0]], "item 2 split evenly: no vote"


def test_an_ordered_choice_takes_the_median_option() -> None:
    scale = ["low", "mid", "high"]
    rows = [(1, "r", "low", 0.0), (1, "r", "high", 2.0), (2, "r", "mid", 1.0), (2, "r", "high", 2.0)]
    v = votes(_frame(rows, "ordinal", scale))
    assert v[["item_id", "vote"]].values.tolist() == [[1, "mid"], [2, "high"]]  # 1.5 rounds half up


def _checklist(rng: np.random.Generator, n_items: int, n_entries: int, p: np.ndarray) -> pd.DataFrame:
    rows = []
    for i in range(n_items):
        for k in range(1, n_entries + 1):
            yes = rng.random() < p[i]
            rows.append(
                {
                    "item_id": i,
                    "entry": k,
                    "annotator": "h",
                    "kind": "human",
                    "status": "submitted",
                    "value": "yes" if yes else "no",
                    "value_num": float(yes),
                    "presented_order": "ab",
                }
            )
    return pd.DataFrame(rows)


def test_pass_rate_is_the_mean_over_items_of_the_share_of_yes() -> None:
    frame = _checklist(np.random.default_rng(0), 3, 4, np.array([1.0, 0.0, 1.0]))
    frame.loc[frame.index[0], "value"] = "no"  # item 0: 3 of 4
    (row,) = pass_rates(frame, ["h"], n_boot=0, seed=0)
    assert row["pass_rate"] == pytest.approx((0.75 + 0.0 + 1.0) / 3) and (row["n_items"], row["n_entries"]) == (3, 12)


def test_pass_rate_interval_covers_at_its_level() -> None:
    """Seeded simulation: items differ in how often their entries pass (a beta(2, 2) item effect, so
    entries within an item are correlated); 60 items x 5 entries; the BCa interval over items must
    cover the population pass rate (0.5) close to 95% of the time (200 data sets, 200 resamples each)."""
    rng = np.random.default_rng(17)
    reps, hits = 200, 0
    for rep in range(reps):
        p = rng.beta(2, 2, size=60)
        (row,) = pass_rates(_checklist(rng, 60, 5, p), ["h"], n_boot=200, seed=rep)
        low, high = row["pass_rate_ci95"]
        hits += low <= 0.5 <= high
    coverage = hits / reps
    print(f"pass-rate BCa 95% CI coverage over {reps} data sets: {coverage:.3f}")
    assert 0.91 <= coverage <= 0.985
