"""Report sections as tables a person reads: headers in words, numbers as the headline table writes
them (three decimals, intervals as ``[low, high]``), nothing for a missing value."""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

WORDS = {"ci95": "95% CI", "q": "Q"}  # the parts of a name said otherwise; the rest as they are


def header(name: str) -> str:
    """A column name in words.

    >>> header("consistency_ci95"), header("n_items"), header("p_value")
    ('consistency 95% CI', 'n items', 'p value')
    """
    return " ".join(WORDS.get(part, part) for part in str(name).split("_"))


def cell(value: Any) -> Any:
    """A value as the table shows it.

    >>> cell(0.16666666666666666), cell([0.1, 0.25]), cell(None), cell(12), cell(float("nan"))
    ('0.167', '[0.100, 0.250]', '', 12, '')
    """
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, int):  # bool too
        return value
    if isinstance(value, float):
        return f"{value:.3f}"
    if (
        isinstance(value, list | tuple)
        and len(value) == 2
        and all(isinstance(v, int | float) or v is None for v in value)
    ):
        return "" if None in value else f"[{value[0]:.3f}, {value[1]:.3f}]"
    return value


def readable(frame: pd.DataFrame) -> pd.DataFrame:
    """Every header in words and every number formatted (the frame's values are not changed)."""
    out = frame.rename(columns=header)
    for column in out.columns:
        out[column] = [cell(v) for v in out[column]]
    return out


def _with_ci(value: float | None, ci: Any) -> str:
    shown = cell(value)
    interval = cell(list(ci)) if ci else ""
    return f"{shown} {interval}".strip() if shown != "" else ""


def overall_cells(row: Any) -> dict[str, Any]:
    """A row of the table across questions (``analysis.report_model.OverallRow``) as text cells."""
    alt = "" if row.alt_test_passed is None else ("passes" if row.alt_test_passed else "does not pass")
    if alt and row.alt_test_winning_rate is not None:
        alt += f" (winning rate {row.alt_test_winning_rate:.2f})"
    return {
        "question": row.question,
        "kind": row.kind or "",
        "judge": row.judge,
        "n": "" if row.n is None else row.n,
        "agreement": row.error or _with_ci(row.agreement, row.agreement_ci95),
        "kappa": _with_ci(row.kappa, row.kappa_ci95),
        "alpha": cell(row.alpha_with_humans),
        "alt_test": alt,
    }


def checklist_rows(report: Any) -> list[dict[str, Any]]:
    """A checklist question's pass rates, one row per rater, as text cells (none for other questions)."""
    if getattr(report, "checklist", None) is None:
        return []
    rows = []
    for r in report.checklist.pass_rate:
        text = _with_ci(r.pass_rate, r.pass_rate_ci95)
        rows.append(
            {
                "rater": r.rater,
                "n_items": r.n_items,
                "n_entries": r.n_entries,
                "text": text + (" (flagged)" if r.ci_flag else ""),
            }
        )
    return rows
