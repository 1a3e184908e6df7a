"""Judge against humans: the human ceiling (each human against the rest) and the alternative
annotator test (Calderon, Reichart & Dror 2025, "The Alternative Annotator Test for LLM-as-a-Judge")."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Literal

import numpy as np
import pandas as pd
from scipy import stats

from analysis.agreement import agreement
from analysis.errors import MetricUndefinedError, bad_argument
from analysis.frames import select_raters, votes
from analysis.resampling import Resampler

DEFAULT_EPSILON = 0.2  # the paper's recommended margin for expert annotators (0.1 for crowd workers)
MIN_ITEMS_PER_HUMAN = 30  # the paper's guidance: fewer items per annotator make the t-test fragile


def human_ceiling(
    labels: pd.DataFrame,
    humans: str | Sequence[str] = "kind:human",
    *,
    ties: bool = True,
    n_boot: int = 1000,
    seed: int = 0,
    resampler: Resampler | None = None,
) -> dict[str, object]:
    """Each human against the rest of the humans (pooled, leave-one-out): what one more human scores."""
    names = select_raters(labels, humans)
    if len(names) < 2:
        raise MetricUndefinedError(
            f"the human ceiling needs at least 2 humans; the selection has {len(names)}",
            fix="collect labels from a second human on the same items",
        )
    rows = []
    for name in names:
        others = [n for n in names if n != name]
        try:
            res = agreement(labels, [name], others, ties=ties, n_boot=n_boot, seed=seed, resampler=resampler)
        except MetricUndefinedError:
            continue
        rows.append({"annotator": name, **res.to_dict()})
    if not rows:
        raise MetricUndefinedError(f"no human shares an item with another human (of {len(names)} humans)")
    weights = np.array([r["n"] for r in rows], dtype=float)
    values = np.array([r["agreement"] for r in rows], dtype=float)
    kappas = np.array([np.nan if r["kappa"] is None else r["kappa"] for r in rows], dtype=float)
    return {
        "per_human": rows,
        "mean_agreement": float(np.mean(values)),
        "weighted_agreement": float(np.sum(weights * values) / np.sum(weights)),
        "mean_kappa": float(np.nanmean(kappas)) if np.isfinite(kappas).any() else None,
    }


def benjamini_yekutieli(pvalues: Sequence[float], q: float = 0.05) -> list[bool]:
    """Which hypotheses the Benjamini-Yekutieli step-up procedure rejects at FDR ``q``: adjusted
    p-values from ``scipy.stats.false_discovery_control(method="by")``, rejected where <= ``q``.

    >>> benjamini_yekutieli([0.001, 0.02, 0.04, 0.5], q=0.05)
    [True, False, False, False]
    """
    p = np.asarray(pvalues, dtype=float)
    if p.size == 0:
        return []
    adjusted = stats.false_discovery_control(p, method="by")
    return [bool(x) for x in adjusted <= q]


@dataclass
class AltTestHuman:
    annotator: str
    n_items: int
    rho_judge: float
    rho_human: float
    p_value: float
    rejected: bool = False


@dataclass
class AltTestResult:
    judge: str
    epsilon: float
    alpha: float
    winning_rate: float
    advantage_probability: float
    passed: bool
    humans: list[AltTestHuman] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


def alt_test(
    labels: pd.DataFrame,
    judge: str,
    humans: str | Sequence[str] = "kind:human",
    *,
    epsilon: float = DEFAULT_EPSILON,
    alpha: float = 0.05,
    similarity: Literal["accuracy", "neg_abs_error"] = "accuracy",
) -> AltTestResult:
    """Can ``judge`` replace a human? For each human j (left out in turn), on the items j and the judge
    both labeled and at least one other human labeled: the judge's and j's alignment with the other
    humans (mean similarity), W_f = [S_f >= S_j], W_j = [S_j >= S_f]; a one-sided paired t-test of
    H0: rho_f <= rho_j - epsilon; Benjamini-Yekutieli over the humans at ``alpha``. The judge passes
    when the winning rate (share of humans whose H0 is rejected) is at least 0.5.
    """
    if similarity not in ("accuracy", "neg_abs_error"):
        raise bad_argument("similarity", similarity, ["accuracy", "neg_abs_error"])
    names = [n for n in select_raters(labels, humans) if n != judge]
    if len(names) < 3:
        raise MetricUndefinedError(
            f"the alternative annotator test needs at least 3 humans on shared items; the selection has {len(names)}",
            fix="collect labels from at least 3 humans on items the judge labeled too",
        )
    v = votes(labels, ties=True)
    table = v.pivot(index="item_id", columns="annotator", values="vote" if similarity == "accuracy" else "vote_num")
    if judge not in table.columns:
        raise MetricUndefinedError(
            f"judge {judge!r} has no submitted labels", fix="run the judge on this task (judgelab judge run)"
        )
    human_table = table[names]
    results: list[AltTestHuman] = []
    warnings: list[str] = []
    for name in names:
        others = human_table.drop(columns=[name])
        mask = table[judge].notna() & table[name].notna() & others.notna().any(axis=1)
        if mask.sum() < 2:
            warnings.append(f"{name}: {int(mask.sum())} usable items (judge, {name} and another human); left out")
            continue
        s_f = _alignment(table.loc[mask, judge], others[mask], similarity)
        s_h = _alignment(table.loc[mask, name], others[mask], similarity)
        w_f = (s_f >= s_h).astype(float)
        w_h = (s_h >= s_f).astype(float)
        d = w_h - w_f
        n = int(mask.sum())
        p = _one_sided_p(d, epsilon)
        if n < MIN_ITEMS_PER_HUMAN:
            warnings.append(f"{name}: only {n} items (the paper advises at least {MIN_ITEMS_PER_HUMAN})")
        results.append(AltTestHuman(name, n, float(w_f.mean()), float(w_h.mean()), p))
    if len(results) < 3:
        raise MetricUndefinedError(
            f"the alternative annotator test needs at least 3 humans who share items with the judge and another "
            f"human; {len(results)} of {len(names)} do",
            fix="have each human label items the judge and another human labeled too (the task's overlap >= 2)",
        )
    for res, rejected in zip(results, benjamini_yekutieli([r.p_value for r in results], alpha), strict=True):
        res.rejected = bool(rejected)
    winning = float(np.mean([r.rejected for r in results]))
    return AltTestResult(
        judge=judge,
        epsilon=epsilon,
        alpha=alpha,
        winning_rate=winning,
        advantage_probability=float(np.mean([r.rho_judge for r in results])),
        passed=winning >= 0.5,
        humans=results,
        warnings=warnings,
    )


def _alignment(rater: pd.Series, others: pd.DataFrame, similarity: str) -> np.ndarray:
    vals = others.to_numpy()
    present = others.notna().to_numpy()
    r = rater.to_numpy()[:, None]
    sim = (vals == r).astype(float) if similarity == "accuracy" else -np.abs(vals.astype(float) - r.astype(float))
    sim = np.where(present, sim, 0.0)
    return np.asarray(sim.sum(axis=1) / present.sum(axis=1), dtype=float)


def _one_sided_p(d: np.ndarray, epsilon: float) -> float:
    """p-value of H0: mean(d) >= epsilon against H1: mean(d) < epsilon: the one-sided one-sample
    t-test (``scipy.stats.ttest_1samp(alternative="less")``). Without variance the t statistic is
    undefined (scipy gives NaN); the mean then decides: 0 when it lies below epsilon, else 1."""
    if float(d.std(ddof=1)) == 0.0:
        return 0.0 if float(d.mean()) < epsilon else 1.0
    return float(stats.ttest_1samp(d, epsilon, alternative="less").pvalue)
