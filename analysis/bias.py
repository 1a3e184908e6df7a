"""Biases of any rater, human or judge, so a judge's figure can stand next to the humans':
position (first-shown answer), swap consistency, length, self-preference, leniency."""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial
from typing import Any

import numpy as np
import pandas as pd

from analysis._kernels import difference_of_rates, ratio
from analysis.errors import MetricUndefinedError
from analysis.frames import TIES, lookup, select_raters, submitted, votes
from analysis.intervals import Interval, proportion, second_column
from analysis.resampling import Resampler, estimate, estimate_each, unit_of
from contracts.vocab import PAIRWISE_NUMBERS, PAIRWISE_VALUES


def _rates_with_ci(
    parts: Sequence[tuple[pd.Series, np.ndarray]],
    *,
    n_boot: int,
    seed: int,
    resampler: Resampler | None = None,
) -> list[tuple[float, Interval, int]]:
    """A rate over rows grouped by item, with its Clopper-Pearson (effective n) CI, for each
    ``(item_ids, hits)`` part (a figure's raters: their products with the draws made at once)."""
    grouped = []
    for item_ids, hits in parts:
        frame = pd.DataFrame({"item": item_ids.to_numpy(), "hit": hits.astype(float), "one": 1.0})
        grouped.append(frame.groupby("item")[["hit", "one"]].sum())
    rated = estimate_each(
        [(g.index, g.to_numpy()) for g in grouped],
        ratio,
        method=partial(proportion, trials=second_column),
        n_boot=n_boot,
        seed=seed,
        resampler=resampler,
    )
    return [(value, ci, len(g)) for (value, ci), g in zip(rated, grouped, strict=True)]


def position_bias(
    labels: pd.DataFrame,
    raters: str | Sequence[str],
    *,
    n_boot: int = 1000,
    seed: int = 0,
    resampler: Resampler | None = None,
) -> list[dict[str, object]]:
    """Per rater: P(the first-shown answer is chosen) among decisive (A/B) labels, with CI; the tie
    rate; and P(A) under each presented order. 0.5 is no position bias."""
    sub = submitted(labels)
    shown = []
    for name in select_raters(labels, raters):
        mine = sub[(sub["annotator"] == name) & sub["value"].isin(["A", "B", *TIES])]
        decisive = mine[mine["value"].isin(["A", "B"])]
        if decisive.empty:
            continue
        first = ((decisive["presented_order"] == "ab") & (decisive["value"] == "A")) | (
            (decisive["presented_order"] == "ba") & (decisive["value"] == "B")
        )
        shown.append((name, mine, decisive, first.to_numpy()))
    rates = _rates_with_ci(
        [(decisive["item_id"], first) for _, _, decisive, first in shown], n_boot=n_boot, seed=seed, resampler=resampler
    )
    out = []
    for (name, mine, decisive, _), (value, ci, n_items) in zip(shown, rates, strict=True):
        by_order = {order: float((grp["value"] == "A").mean()) for order, grp in decisive.groupby("presented_order")}
        out.append(
            {
                "annotator": name,
                "kind": str(mine["kind"].iloc[0]),
                "p_first": value,
                "p_first_ci95": list(ci.pair),
                "n": len(decisive),
                "n_items": n_items,
                "tie_rate": float(mine["value"].isin(TIES).mean()),
                "p_a_when_ab": by_order.get("ab"),
                "p_a_when_ba": by_order.get("ba"),
            }
        )
    return out


def swap_consistency(
    labels: pd.DataFrame,
    raters: str | Sequence[str],
    *,
    n_boot: int = 1000,
    seed: int = 0,
    resampler: Resampler | None = None,
) -> list[dict[str, object]]:
    """Per rater labeled in both orders: the share of items with the same A/B-frame verdict in both
    orders (consistency, with a CI), and the share where it chose the same *position* both times
    (flip rate)."""
    sub = submitted(labels)
    found = []
    for name in select_raters(labels, raters):
        mine = sub[sub["annotator"] == name]
        rep = mine["replicate"] if "replicate" in mine.columns else 0
        both = mine.assign(replicate=rep).pivot_table(
            index=["item_id", "replicate"], columns="presented_order", values="value", aggfunc="first"
        )
        if "ab" not in both.columns or "ba" not in both.columns:
            continue
        both = both.dropna(subset=["ab", "ba"])
        if both.empty:
            continue
        ab = both["ab"].replace({"bothbad": "tie"})
        ba = both["ba"].replace({"bothbad": "tie"})
        flips = ((ab == "A") & (ba == "B")) | ((ab == "B") & (ba == "A"))
        found.append((name, both, ab, ba, flips))
    rates = _rates_with_ci(
        [
            (both.index.get_level_values("item_id").to_series(index=both.index), (ab == ba).to_numpy())
            for _, both, ab, ba, _ in found
        ],
        n_boot=n_boot,
        seed=seed,
        resampler=resampler,
    )
    drawn = unit_of(resampler, n_boot) is not None
    out = []
    for (name, both, ab, ba, flips), (_, ci, _) in zip(found, rates, strict=True):
        out.append(
            {
                "annotator": name,
                "n_items": len(both),
                "consistency": float((ab == ba).mean()),
                "flip_rate": float(flips.mean()),
                "consistency_ci95": ci.pair if drawn else None,
                "ci_method": ci.method if drawn else None,
                "ci_flag": ci.flag,
            }
        )
    return out


def length_bias(
    labels: pd.DataFrame,
    items: pd.DataFrame,
    raters: str | Sequence[str],
    *,
    threshold: float = 0.2,
    n_boot: int = 1000,
    seed: int = 0,
    resampler: Resampler | None = None,
) -> list[dict[str, object]]:
    """Per rater: P(the longer answer is chosen) among decisive votes on pairs whose lengths differ by
    more than ``threshold`` (relative to the longer); and the slope of a logistic fit of
    P(choose A) on log(len_a / len_b) over all decisive votes (0 = no length effect)."""
    if not {"len_a", "len_b"} <= set(items.columns):
        raise MetricUndefinedError("length bias needs item lengths (len_a, len_b) in the items frame")
    lengths = items.set_index("item_id")[["len_a", "len_b"]]
    v = votes(labels, ties=True)
    out = []
    longer: list[tuple[dict[str, object], pd.Series, np.ndarray]] = []  # the rows' rates, drawn at once below
    for name in select_raters(labels, raters):
        mine = v[(v["annotator"] == name) & v["vote"].isin(["A", "B"])].join(lengths, on="item_id")
        mine = mine[(mine["len_a"] > 0) & (mine["len_b"] > 0)]
        if mine.empty:
            continue
        la, lb = mine["len_a"].to_numpy(dtype=float), mine["len_b"].to_numpy(dtype=float)
        rel = np.abs(la - lb) / np.maximum(la, lb)
        differ = mine[rel > threshold]
        longer_chosen = ((differ["len_a"] > differ["len_b"]) & (differ["vote"] == "A")) | (
            (differ["len_b"] > differ["len_a"]) & (differ["vote"] == "B")
        )
        row: dict[str, object] = {"annotator": name, "kind": str(mine["kind"].iloc[0]), "n_differ": len(differ)}
        row.update(p_longer=None, p_longer_ci95=None)  # the rate, when there are such pairs: below
        if len(differ):
            longer.append((row, differ["item_id"], longer_chosen.to_numpy()))
        x = np.log(mine["len_a"].to_numpy(float) / mine["len_b"].to_numpy(float))
        y = (mine["vote"] == "A").to_numpy(float)
        row["logit_slope"] = logistic_slope(x, y)
        if row["logit_slope"] is not None and unit_of(resampler, n_boot) is not None:
            units = units_of(resampler, mine["item_id"])
            low, high, flag = logistic_slope_ci(x, y, units)
            row.update(logit_slope_ci95=[low, high], logit_slope_ci_flag=flag)
        out.append(row)
    rates = _rates_with_ci([(ids, hits) for _, ids, hits in longer], n_boot=n_boot, seed=seed, resampler=resampler)
    for (row, _, _), (value, ci, _) in zip(longer, rates, strict=True):
        row.update(p_longer=value, p_longer_ci95=list(ci.pair))
    return out


def logistic_slope(x: np.ndarray, y: np.ndarray, *, iters: int = 50) -> float | None:
    """Slope b1 of P(y=1) = sigmoid(b0 + b1 x), by Newton-Raphson with a tiny ridge (finite under
    separation). None when x has no spread or y a single class."""
    if x.size < 3 or np.ptp(x) == 0 or y.min() == y.max():
        return None
    design = np.column_stack([np.ones_like(x), x])
    beta = np.zeros(2)
    ridge = 1e-6 * np.eye(2)
    for _ in range(iters):
        p = 1 / (1 + np.exp(-(design @ beta)))
        grad = design.T @ (y - p) - ridge @ beta
        hess = (design * (p * (1 - p))[:, None]).T @ design + ridge
        step = np.linalg.solve(hess, grad)
        beta += step
        if np.max(np.abs(step)) < 1e-10:
            break
    return float(beta[1])


def logistic_slope_ci(
    x: np.ndarray, y: np.ndarray, units: np.ndarray, level: float = 0.95
) -> tuple[float, float, str | None]:
    """95% Wald interval of :func:`logistic_slope` with the cluster-robust (sandwich) variance over
    ``units`` (each vote's resampling unit: the item, or its prompt), the small-sample factor
    G / (G - 1) and a t quantile on G - 1 degrees of freedom (Cameron & Miller 2015). Flagged below
    50 units or under (near) separation."""
    from scipy import stats

    design = np.column_stack([np.ones_like(x), x])
    beta = np.zeros(2)
    ridge = 1e-6 * np.eye(2)
    for _ in range(50):
        p = 1 / (1 + np.exp(-(design @ beta)))
        hess = (design * (p * (1 - p))[:, None]).T @ design + ridge
        step = np.linalg.solve(hess, design.T @ (y - p) - ridge @ beta)
        beta += step
        if np.max(np.abs(step)) < 1e-10:
            break
    p = 1 / (1 + np.exp(-(design @ beta)))
    hess = (design * (p * (1 - p))[:, None]).T @ design + ridge
    codes, uniques = pd.factorize(pd.Series(units))
    g = len(uniques)
    scores = np.zeros((g, 2))
    np.add.at(scores, codes, design * (y - p)[:, None])
    bread = np.linalg.inv(hess)
    cov = bread @ (scores.T @ scores) @ bread * (g / (g - 1) if g > 1 else 1.0)
    se = float(np.sqrt(max(cov[1, 1], 0.0)))
    half = float(stats.t.ppf(1 - (1 - level) / 2, max(g - 1, 1))) * se
    flags = []
    if g < 50:
        flags.append(f"few units: {g} resampling units, coverage is checked from 50")
    if np.min(p * (1 - p)) < 1e-6 or abs(beta[1]) > 20:
        flags.append("separation: the fit is at the edge, its variance is not reliable")
    return float(beta[1] - half), float(beta[1] + half), "; ".join(flags) or None


def units_of(resampler: Resampler | None, item_ids: pd.Series) -> np.ndarray:
    """Each row's resampling unit (a code): the resampler's cluster of its item, else the item."""
    ids = item_ids.to_numpy()
    if resampler is None or resampler.codes is None:
        return np.asarray(pd.factorize(pd.Series(ids))[0])
    return np.asarray(resampler.codes[resampler.item_ids.get_indexer(pd.Index(ids))])


def win_rate_matrix(labels: pd.DataFrame, items: pd.DataFrame, raters: str | Sequence[str]) -> pd.DataFrame:
    """raters x generator models: the share of that model's comparisons it won in the rater's votes
    (a tie counts half)."""
    if not {"model_a", "model_b"} <= set(items.columns):
        raise MetricUndefinedError("win rates need model_a and model_b in the items frame")
    models = items.set_index("item_id")[["model_a", "model_b"]]
    v = votes(labels, ties=True)
    v = (
        v[v["annotator"].isin(select_raters(labels, raters))]
        .join(models, on="item_id")
        .dropna(subset=["model_a", "model_b"])
    )
    if v.empty:
        raise MetricUndefinedError("win rates need items with model_a and model_b; no labeled item has both")
    score_a = pd.Series(lookup(v["vote"], PAIRWISE_NUMBERS), index=v.index)
    long = pd.concat(
        [
            pd.DataFrame({"annotator": v["annotator"], "model": v["model_a"], "win": score_a}),
            pd.DataFrame({"annotator": v["annotator"], "model": v["model_b"], "win": 1 - score_a}),
        ]
    ).dropna()
    return long.groupby(["annotator", "model"])["win"].mean().unstack("model")


def model_family(model: object, families: dict[str, str] | None = None) -> str:
    """A model's family: ``families[model]`` when the map names it, else the model's own name without
    its organisation and in lower case (``Qwen/Qwen2.5-7B`` -> ``qwen2.5-7b``). Never a substring
    match: ``gpt-4`` and ``gpt-4o-mini`` are different families unless the map says otherwise.

    >>> model_family("Qwen/Qwen2.5-7B"), model_family("gpt-4o-mini", {"gpt-4o-mini": "gpt-4"})
    ('qwen2.5-7b', 'gpt-4')
    """
    name = str(model)
    if families and name in families:
        return families[name]
    return name.rsplit("/", 1)[-1].lower()


def _model_wins(v: pd.DataFrame, model: object) -> pd.DataFrame:
    """Per item: the wins of ``model`` in these votes (a tie counts half) and its comparisons."""
    in_a = (v["model_a"] == model).to_numpy()
    in_b = (v["model_b"] == model).to_numpy()
    score_a = lookup(v["vote"], PAIRWISE_NUMBERS)
    win = np.where(in_a, score_a, np.where(in_b, 1 - score_a, 0.0))
    frame = pd.DataFrame({"item_id": v["item_id"].to_numpy(), "win": win, "n": (in_a | in_b).astype(float)})
    return frame.groupby("item_id")[["win", "n"]].sum()


def self_preference(
    labels: pd.DataFrame,
    items: pd.DataFrame,
    judge_models: dict[str, str],
    humans: str | Sequence[str] = "kind:human",
    *,
    families: dict[str, str] | None = None,
    n_boot: int = 1000,
    seed: int = 0,
    resampler: Resampler | None = None,
) -> list[dict[str, object]]:
    """For each judge and each generator model of the judge's own family (:func:`model_family`): on
    the items both the judge and the humans labeled, the judge's win rate for that model minus the
    humans' pooled win rate for it (> 0: the judge prefers its own family), with a bootstrap CI of the
    difference (items resampled together). Comparing a judge on all its items with humans on theirs
    would mix in which items each side saw."""
    if not {"model_a", "model_b"} <= set(items.columns):
        raise MetricUndefinedError("self-preference needs model_a and model_b in the items frame")
    human_names = select_raters(labels, humans)
    models = items.set_index("item_id")[["model_a", "model_b"]]
    v = votes(labels, ties=True).join(models, on="item_id").dropna(subset=["model_a", "model_b"])
    v = v[v["vote"].isin(PAIRWISE_VALUES)]
    human_votes = v[v["annotator"].isin(human_names)]
    out: list[dict[str, object]] = []
    for judge, judge_model in judge_models.items():
        mine = v[v["annotator"] == judge]
        shared = np.intersect1d(mine["item_id"].unique(), human_votes["item_id"].unique())
        mine = mine[mine["item_id"].isin(shared)]
        theirs = human_votes[human_votes["item_id"].isin(shared)]
        family = model_family(judge_model, families)
        generators = pd.unique(pd.concat([mine["model_a"], mine["model_b"]]))
        for model in sorted((m for m in generators if model_family(m, families) == family), key=str):
            table = _model_wins(mine, model).add_suffix("_judge").join(_model_wins(theirs, model).add_suffix("_humans"))
            table = table[(table["n_judge"] > 0) & (table["n_humans"] > 0)]
            if table.empty:
                continue
            parts = table[["win_judge", "n_judge", "win_humans", "n_humans"]].to_numpy(dtype=float)
            value, interval = estimate(
                parts, difference_of_rates, n_boot=n_boot, seed=seed, resampler=resampler, item_ids=table.index
            )
            ci = interval.pair
            totals = parts.sum(axis=0)
            out.append(
                {
                    "judge": judge,
                    "family": family,
                    "model": model,
                    "n_items": len(table),
                    "judge_win_rate": float(totals[0] / totals[1]),
                    "human_win_rate": float(totals[2] / totals[3]),
                    "self_preference": float(value),
                    "self_preference_ci95": list(ci),
                }
            )
    return out


def leniency(
    labels: pd.DataFrame,
    judges: str | Sequence[str],
    humans: str | Sequence[str] = "kind:human",
    *,
    n_boot: int = 1000,
    seed: int = 0,
    resampler: Resampler | None = None,
) -> list[dict[str, object]]:
    """On the items a judge shares with the humans. Single-answer scores: judge mean minus the mean of
    the humans' per-item means, and the difference in the share of scores above the scale's midpoint.
    Pairwise: the difference in tie rate. Each difference with a BCa CI (items resampled together)."""
    v = votes(labels, ties=True)
    human_names = select_raters(labels, humans)
    hv = v[v["annotator"].isin(human_names)]
    pairwise = set(v["vote"].unique()) <= {"A", "B", "tie", "bothbad"}
    mid = (v["vote_num"].min() + v["vote_num"].max()) / 2
    out = []
    for judge in select_raters(labels, judges):
        jv = v[v["annotator"] == judge]
        shared = np.intersect1d(jv["item_id"].to_numpy(), hv["item_id"].to_numpy())  # not Python sets
        if not len(shared):
            continue
        j = jv[jv["item_id"].isin(shared)]
        h = hv[hv["item_id"].isin(shared)]
        if pairwise:
            parts = _two_rates(j, h, lambda x: (x["vote"] == "tie").astype(float))
            figures = {"tie_rate_diff": parts}
        else:
            h_mean = h.groupby("item_id")["vote_num"].mean().rename("vote_num").reset_index()
            figures = {
                "mean_diff": _two_rates(j, h_mean, lambda x: x["vote_num"].astype(float)),
                "positive_rate_diff": _two_rates(j, h, lambda x: (x["vote_num"] > mid).astype(float)),
            }
        row: dict[str, object] = {"judge": judge, "n_items": len(shared)}
        for name, table in figures.items():
            value, ci = estimate(
                table.to_numpy(),
                difference_of_rates,
                n_boot=n_boot,
                seed=seed,
                resampler=resampler,
                item_ids=table.index,
            )
            row[name] = float(value)
            row[f"{name}_ci95"] = list(ci.pair) if unit_of(resampler, n_boot) is not None else None
            row[f"{name}_ci_flag"] = ci.flag
        out.append(row)
    return out


def _two_rates(a: pd.DataFrame, b: pd.DataFrame, of: Any) -> pd.DataFrame:
    """Per item: [sum of ``of`` over a's rows, a's rows, the same over b's rows, b's rows]."""
    left = pd.DataFrame({"item_id": a["item_id"].to_numpy(), "x": of(a).to_numpy(), "n": 1.0})
    right = pd.DataFrame({"item_id": b["item_id"].to_numpy(), "x": of(b).to_numpy(), "n": 1.0})
    return (
        left.groupby("item_id")[["x", "n"]]
        .sum()
        .merge(
            right.groupby("item_id")[["x", "n"]].sum(),
            left_index=True,
            right_index=True,
            how="outer",
            suffixes=("_a", "_b"),
        )
        .fillna(0.0)
    )
