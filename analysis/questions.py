"""Tasks of several questions: each question is analysed on its own labels (``build_task_report`` in
:mod:`analysis.report`), with helpers here for checklists (TICK, Cook et al. 2024) and the table
across questions.

A checklist question's labels carry an ``entry`` column (1, 2, ... within the item). Agreement is
pooled over entries: each (item, entry) is a unit of analysis, and the bootstrap resamples whole
items (``checklist_item``), so the entries of one item, which are not independent, are drawn together.
The item-level pass rate is the share of an item's entries answered ``yes``, averaged over items.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from analysis._kernels import ratio
from analysis.frames import keep_marks, submitted
from analysis.resampling import Resampler, estimate

CHECKLIST_UNIT = "checklist_item"  # the item column the checklist's resampling clusters on
YES = "yes"


def checklist_units(labels: pd.DataFrame, items: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A checklist's labels and items as units (item, entry): ``item_id`` becomes the unit's id, and
    the units' item frame keeps the item's fields plus ``checklist_item`` (the item's id) and ``entry``.

    >>> labels = pd.DataFrame({"item_id": [7, 7, 8], "entry": [1, 2, 1], "annotator": ["h"] * 3,
    ...     "kind": ["human"] * 3, "status": ["submitted"] * 3, "value": ["yes", "no", "yes"],
    ...     "value_num": [1.0, 0.0, 1.0], "presented_order": ["ab"] * 3})
    >>> units, unit_items = checklist_units(labels, pd.DataFrame({"item_id": [7, 8], "prompt": ["p", "q"]}))
    >>> units["item_id"].tolist(), unit_items["checklist_item"].tolist()
    ([0, 1, 2], [7, 7, 8])
    """
    keys = labels[["item_id", "entry"]].drop_duplicates().sort_values(["item_id", "entry"]).reset_index(drop=True)
    keys["unit"] = np.arange(len(keys))
    lookup = keys.set_index(["item_id", "entry"])["unit"]
    units = labels.copy()
    units["item_id"] = lookup.reindex(pd.MultiIndex.from_frame(labels[["item_id", "entry"]])).to_numpy()
    keep_marks(labels, units)
    unit_items = keys.rename(columns={"item_id": CHECKLIST_UNIT}).merge(
        items.rename(columns={"item_id": CHECKLIST_UNIT}), on=CHECKLIST_UNIT, how="left"
    )
    unit_items = unit_items.rename(columns={"unit": "item_id"})
    return units, unit_items


def pass_rates(
    labels: pd.DataFrame,
    raters: Sequence[str],
    *,
    n_boot: int,
    seed: int,
    resampler: Resampler | None = None,
) -> list[dict[str, Any]]:
    """Per rater: the item-level pass rate (the share of an item's checklist entries answered yes,
    averaged over the items the rater answered), with n and a BCa 95% CI over items. ``labels``: a
    checklist's labels with ``item_id`` the item (not the unit) and ``entry``."""
    sub = submitted(labels)
    out: list[dict[str, Any]] = []
    for rater in raters:
        mine = sub[sub["annotator"] == rater]
        if mine.empty:
            continue
        yes = (mine["value"] == YES).astype(float)
        per_entry = yes.groupby([mine["item_id"], mine["entry"]]).mean()
        per_item = per_entry.groupby(level="item_id").mean()
        parts = np.column_stack([per_item.to_numpy(dtype=float), np.ones(len(per_item))])
        point, interval = estimate(parts, ratio, n_boot=n_boot, seed=seed, resampler=resampler, item_ids=per_item.index)
        out.append(
            {
                "rater": rater,
                "n_items": len(per_item),
                "n_entries": len(per_entry),
                "pass_rate": point,
                "pass_rate_ci95": list(interval.pair),
                "ci_flag": interval.flag,
                "ci_method": interval.method,
            }
        )
    return out


def overall_rows(reports: Mapping[str, Any]) -> list[dict[str, Any]]:
    """One row per (question, judge): the question's kind, the judge's agreement with ties and kappa
    against the pooled humans (with n and CI), alpha with the humans, and the alternative annotator
    test's verdict, read from each question's report (dicts of ``Report.to_json()``)."""
    rows: list[dict[str, Any]] = []
    for name, report in reports.items():
        question = report.get("question") or {}
        for section in report.get("judges_vs_humans", []):
            ties = section.get("with_ties") or {}
            alpha = section.get("alpha_with_humans") or {}
            alt = section.get("alt_test") or {}
            rows.append(
                {
                    "question": name,
                    "kind": question.get("kind"),
                    "judge": section["judge"],
                    "n": ties.get("n"),
                    "agreement": ties.get("agreement"),
                    "agreement_ci95": ties.get("agreement_ci95"),
                    "kappa": ties.get("kappa"),
                    "kappa_ci95": ties.get("kappa_ci95"),
                    "alpha_with_humans": alpha.get("value"),
                    "alt_test_passed": alt.get("passed"),
                    "alt_test_winning_rate": alt.get("winning_rate"),
                    "error": ties.get("error"),
                }
            )
    return rows
