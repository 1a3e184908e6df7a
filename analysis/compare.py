"""Judge against humans: the human ceiling (each human against the rest) and the alternative
annotator test (Calderon, Reichart & Dror 2025, "The Alternative Annotator Test for LLM-as-a-Judge")."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Literal

import numpy as np
import pandas as pd
from scipy import stats

from analysis._kernels import difference_of_rates
from analysis.agreement import ComparisonMemo, agreement, comparisons_from_votes
from analysis.errors import MetricUndefinedError, bad_argument
from analysis.frames import select_raters, votes
from analysis.resampling import Resampler, estimate, unit_of

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
    memo: ComparisonMemo | None = None,
) -> dict[str, object]:
    """Each human against the rest of the humans (pooled, leave-one-out): what one more human scores.
    ``memo``: comparisons shared with a report's other figures (``analysis.agreement.ComparisonMemo``)."""
    shared = memo if memo is not None and memo.serves(labels) else None
    names = select_raters(labels, humans)
    if len(names) < 2:
        raise MetricUndefinedError(
            f"the human ceiling needs at least 2 humans; the selection has {len(names)}",
            fix="collect labels from a second human on the same items",
        )
    rows = []
    tables = []  # the mean over humans as a statistic of per-item sums (each human's agreements and comparisons)
    v = shared.votes() if shared is not None else votes(labels, ties=True)
    for name in names:
        others = [n for n in names if n != name]
        try:  # with a memo the comparisons below are the ones this agreement built
            res = agreement(labels, [name], others, ties=ties, n_boot=n_boot, seed=seed, resampler=resampler, memo=memo)
        except MetricUndefinedError:
            continue
        if shared is not None:
            comps = shared.comparisons([name], others, ties=ties)
        else:
            comps = comparisons_from_votes(v, [name], others, ties=ties)
        rows.append({"annotator": name, **res.to_dict()})
        tables.append(_per_item_agreement(comps))
    if not rows:
        raise MetricUndefinedError(f"no human shares an item with another human (of {len(names)} humans)")
    weights = np.array([r["n"] for r in rows], dtype=float)
    values = np.array([r["agreement"] for r in rows], dtype=float)
    kappas = np.array([np.nan if r["kappa"] is None else r["kappa"] for r in rows], dtype=float)
    parts = pd.concat(tables, axis=1, keys=range(len(tables))).fillna(0.0)
    h = len(tables)

    def mean_of_rates(sums: np.ndarray) -> np.ndarray:
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.asarray((sums[:, 0 : 2 * h : 2] / sums[:, 1 : 2 * h : 2]).mean(axis=1), dtype=float)

    _, interval = estimate(
        parts.to_numpy(), mean_of_rates, n_boot=n_boot, seed=seed, resampler=resampler, item_ids=parts.index
    )
    unit = unit_of(resampler, n_boot)
    return {
        "per_human": rows,
        "mean_agreement": float(np.mean(values)),
        "weighted_agreement": float(np.sum(weights * values) / np.sum(weights)),
        "mean_kappa": float(np.nanmean(kappas)) if np.isfinite(kappas).any() else None,
        "mean_agreement_ci95": list(interval.pair) if unit else None,
        "ci_method": interval.method if unit else None,
        "ci_flag": interval.flag,
        "n_items": len(parts),
    }


def _per_item_agreement(comps: pd.DataFrame) -> pd.DataFrame:
    """Per item: the agreeing comparisons and all comparisons (``agree``, ``n``)."""
    frame = pd.DataFrame(
        {"item_id": comps["item_id"], "agree": (comps["vote_a"] == comps["vote_b"]).astype(float), "n": 1.0}
    )
    return frame.groupby("item_id")[["agree", "n"]].sum()


def judge_minus_ceiling(
    labels: pd.DataFrame,
    judge: str,
    humans: str | Sequence[str] = "kind:human",
    *,
    ties: bool = True,
    n_boot: int = 1000,
    seed: int = 0,
    resampler: Resampler | None = None,
    memo: ComparisonMemo | None = None,
) -> dict[str, object]:
    """The judge's pooled agreement with the humans minus the humans' pooled agreement with each other
    (the human ceiling, weighted by comparisons), with a paired bootstrap CI: both are resampled on the
    same draws of items (or prompts), so the interval is that of the difference, not two marginal ones.
    Negative: the judge agrees with humans less than they agree among themselves."""
    names = [n for n in select_raters(labels, humans) if n != judge]
    if len(names) < 2:
        raise MetricUndefinedError(
            f"judge minus the human ceiling needs at least 2 humans; the selection has {len(names)}",
            fix="collect labels from a second human on the same items",
        )
    if memo is not None and memo.serves(labels) and ties:  # ``memo``: comparisons shared with other figures
        judge_items = _per_item_agreement(memo.comparisons([judge], names))
        human_items = _per_item_agreement(memo.comparisons(names, names))
    else:
        v = votes(labels, ties=True)
        if not ties:
            v = v[v["vote"] != "tie"]
        judge_items = _per_item_agreement(comparisons_from_votes(v, [judge], names))
        human_items = _per_item_agreement(comparisons_from_votes(v, names, names))
    if judge_items.empty or human_items.empty:
        raise MetricUndefinedError(
            f"judge minus the human ceiling needs items the judge shares with humans and items humans share; "
            f"got {len(judge_items)} and {len(human_items)}"
        )
    parts = judge_items.merge(
        human_items, left_index=True, right_index=True, how="outer", suffixes=("_judge", "_humans")
    ).fillna(0.0)
    value, interval = estimate(
        parts.to_numpy(), difference_of_rates, n_boot=n_boot, seed=seed, resampler=resampler, item_ids=parts.index
    )
    totals = parts.sum(axis=0).to_numpy()
    unit = unit_of(resampler, n_boot)
    return {
        "judge_agreement": float(totals[0] / totals[1]),
        "human_agreement": float(totals[2] / totals[3]),
        "difference": float(value),
        "ci95": list(interval.pair) if unit else None,
        "n_items": len(parts),
        "n_judge": int(totals[1]),
        "n_humans": int(totals[3]),
        "resampling_unit": unit,
        "ci_method": interval.method if unit else None,
        "ci_flag": interval.flag,
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
    similarity: str = "accuracy"
    min_items: int = MIN_ITEMS_PER_HUMAN
    left_out: list[str] = field(default_factory=list)  # humans below min_items, not tested

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


Similarity = Literal["accuracy", "neg_rmse", "neg_abs_error"]


def alt_test(
    labels: pd.DataFrame,
    judge: str,
    humans: str | Sequence[str] = "kind:human",
    *,
    epsilon: float = DEFAULT_EPSILON,
    alpha: float = 0.05,
    similarity: Similarity = "accuracy",
    min_items: int = MIN_ITEMS_PER_HUMAN,
    memo: ComparisonMemo | None = None,
) -> AltTestResult:
    """Can ``judge`` replace a human? The alternative annotator test as its authors define it
    (Calderon, Reichart & Dror, ACL 2025; reference implementation nitaytech/AltTest).

    Items count when the judge and at least 2 humans labeled them. Each human j is left out in turn,
    on the counted items j labeled; a human with fewer than ``min_items`` (30, the paper's minimum
    for the t-test) is left out of the test and named in ``left_out``. Per item, the judge's and j's
    alignment with the remaining humans: ``accuracy`` (the share of them j matches) for categories,
    ``neg_rmse`` (minus the root mean squared difference) for scores; W_f = [S_f >= S_j],
    W_j = [S_j >= S_f]; a one-sided one-sample t-test of d = W_j - W_f against ``epsilon``
    (H0: mean(d) >= epsilon); Benjamini-Yekutieli over the tested humans at ``alpha``. Winning rate:
    the share of tested humans whose H0 is rejected; the judge passes at >= 0.5. Advantage
    probability: the mean over tested humans of rho_f = mean(W_f). Two humans are allowed (with a
    warning: the authors advise three or more). ``memo``: the votes' table shared with the other
    judges' tests of the same collapsed ``labels`` (``analysis.agreement.ComparisonMemo``).
    """
    if similarity not in ("accuracy", "neg_rmse", "neg_abs_error"):
        raise bad_argument("similarity", similarity, ["accuracy", "neg_rmse", "neg_abs_error"])
    names = [n for n in select_raters(labels, humans) if n != judge]
    if len(names) < 2:
        raise MetricUndefinedError(
            f"the alternative annotator test needs at least 2 humans on shared items; the selection has {len(names)}",
            fix="collect labels from at least 2 (better 3) humans on items the judge labeled too",
        )
    column = "vote" if similarity == "accuracy" else "vote_num"
    if memo is not None and memo.serves(labels):
        table = memo.wide(column)
    else:
        table = votes(labels, ties=True).pivot(index="item_id", columns="annotator", values=column)
    if judge not in table.columns:
        raise MetricUndefinedError(
            f"judge {judge!r} has no submitted labels", fix="run the judge on this task (judgelab judge run)"
        )
    human_table = table.reindex(columns=names)
    counted = table[judge].notna() & (human_table.notna().sum(axis=1) >= 2)
    results: list[AltTestHuman] = []
    warnings: list[str] = []
    left_out: list[str] = []
    if len(names) == 2:
        warnings.append("only 2 humans: the test then asks which of the two the judge matches; the authors advise 3+")
    for name in names:
        mask = counted & human_table[name].notna()
        n = int(mask.sum())
        if n < min_items:
            left_out.append(name)
            warnings.append(f"{name}: {n} usable items, fewer than {min_items}; left out of the test")
            continue
        others = human_table.loc[mask].drop(columns=[name])
        s_f = _alignment(table.loc[mask, judge], others, similarity)
        s_h = _alignment(table.loc[mask, name], others, similarity)
        w_f = (s_f >= s_h).astype(float)
        w_h = (s_h >= s_f).astype(float)
        results.append(AltTestHuman(name, n, float(w_f.mean()), float(w_h.mean()), _one_sided_p(w_h - w_f, epsilon)))
    if not results:
        raise MetricUndefinedError(
            f"the alternative annotator test needs a human with at least {min_items} items shared with the judge and "
            f"another human; none of {len(names)} has",
            fix=f"label more shared items (at least {min_items} per human), or lower min_items",
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
        similarity=similarity,
        min_items=min_items,
        left_out=left_out,
    )


def _alignment(rater: pd.Series, others: pd.DataFrame, similarity: str) -> np.ndarray:
    """Per item, the rater's alignment with the other raters present: the share it matches
    (``accuracy``), minus the root mean squared difference (``neg_rmse``), or minus the mean absolute
    difference (``neg_abs_error``)."""
    vals = others.to_numpy()
    present = others.notna().to_numpy()
    r = rater.to_numpy()[:, None]
    count = present.sum(axis=1)
    if similarity == "accuracy":
        return np.asarray(np.where(present, vals == r, False).sum(axis=1) / count, dtype=float)
    diff = np.where(present, vals.astype(float) - r.astype(float), 0.0)
    if similarity == "neg_rmse":
        return np.asarray(-np.sqrt((diff**2).sum(axis=1) / count), dtype=float)
    return np.asarray(-np.abs(diff).sum(axis=1) / count, dtype=float)


def _one_sided_p(d: np.ndarray, epsilon: float) -> float:
    """p-value of H0: mean(d) >= epsilon against H1: mean(d) < epsilon: the one-sided one-sample
    t-test, ``scipy.stats.ttest_1samp(alternative="less")`` as the reference implementation calls it
    (without variance scipy gives 0 or 1 by the mean's side; an undefined p, 0/0, is not a rejection)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        p = float(stats.ttest_1samp(d, epsilon, alternative="less").pvalue)
    return 1.0 if np.isnan(p) else p
