"""The dashboard's disagreement table (app.dashboard.disagreements, computed on whole columns) against
a plain loop over judges and items written here from its definition: one row per (judge, item) where
the judge's vote differs from the human majority, its highest stated confidence, highest first."""

from __future__ import annotations

import numpy as np
import pandas as pd

from analysis.frames import majority, votes
from app.dashboard import DISAGREEMENT_COLUMNS, disagreements
from benchmarks.bench_report import synthetic


def _by_loop(labels: pd.DataFrame, items: pd.DataFrame) -> list[tuple[object, ...]]:
    v = votes(labels)
    humans = sorted(set(labels.loc[labels["kind"] == "human", "annotator"]))
    judges = sorted(set(labels.loc[labels["kind"] == "llm_judge", "annotator"]))
    maj = majority(v, humans)
    rows = []
    for judge in judges:
        mine = v[v["annotator"] == judge]
        for item_id, vote in zip(mine["item_id"], mine["vote"], strict=True):
            if item_id not in maj.index or maj[item_id] == vote:
                continue
            rows_of = labels[(labels["annotator"] == judge) & (labels["item_id"] == item_id)]
            conf = rows_of["confidence_p"].max()
            item = items[items["item_id"] == item_id].iloc[0]
            category = "" if pd.isna(item["category"]) else str(item["category"])
            rows.append(
                (judge, item["external_id"], category, vote, maj[item_id], None if pd.isna(conf) else round(conf, 3))
            )
    return sorted(rows, key=lambda r: (r[5] is None, -(r[5] or 0), r[0], r[1]))


def test_the_disagreement_table_equals_a_loop_over_judges_and_items() -> None:
    labels, items = synthetic(300, seed=3)
    rng = np.random.default_rng(4)
    # one judge states a confidence on most of its labels, the other on none
    judge_a = (labels["annotator"] == "judge-a").to_numpy() & (rng.random(len(labels)) < 0.8)
    labels["confidence_p"] = np.where(judge_a, rng.integers(0, 5, len(labels)) / 4, np.nan)
    items["external_id"] = [f"ext-{i:04d}" for i in items["item_id"]]
    items.loc[items.index[::7], "category"] = None
    table = disagreements(labels, items)
    assert list(table.columns) == [*DISAGREEMENT_COLUMNS, "item_id"]
    got = [
        (r[0], r[1], r[2], r[3], r[4], None if r[5] is None or pd.isna(r[5]) else r[5])
        for r in table[DISAGREEMENT_COLUMNS].itertuples(index=False)
    ]
    expected = _by_loop(labels, items)
    assert len(expected) > 50 and any(r[5] is None for r in expected) and any(r[2] == "" for r in expected)
    assert sorted(got, key=lambda r: (r[5] is None, -(r[5] or 0), r[0], r[1])) == expected
    confidences = [c for c in table["judge confidence"] if c is not None and not pd.isna(c)]
    assert confidences == sorted(confidences, reverse=True), "highest confidence first"


def test_items_without_categories_or_confidences_give_empty_cells() -> None:
    """No item has a category and no judge states a confidence (as an import without those fields
    reads): every category cell is empty and every confidence missing, ordered by judge and item."""
    labels, items = synthetic(120, seed=5)
    labels["confidence_p"] = np.nan
    items["category"] = None
    items["external_id"] = [f"ext-{i:04d}" for i in items["item_id"]]
    table = disagreements(labels, items)
    assert len(table) > 10
    assert set(table["category"]) == {""}
    assert table["judge confidence"].isna().all()
    got = [(r.judge, r.item) for r in table[["judge", "item"]].itertuples(index=False)]
    assert got == sorted(got) and got == [r[:2] for r in _by_loop(labels, items)]
