"""System level: per-generator win rates and Bradley-Terry scores from a rater's verdicts, and the
rank correlation between the humans' ranking and a judge's."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy import stats

from analysis.errors import MetricUndefinedError
from analysis.frames import select_raters, votes
from contracts.vocab import PAIRWISE_NUMBERS


def model_comparisons(labels: pd.DataFrame, items: pd.DataFrame, raters: str | Sequence[str]) -> pd.DataFrame:
    """``model_a, model_b, score_a`` (1 A won, 0 B won, 0.5 tie) for every vote of ``raters``."""
    models = items.set_index("item_id")[["model_a", "model_b"]]
    v = votes(labels, ties=True)
    v = v[v["annotator"].isin(select_raters(labels, raters))].join(models, on="item_id")
    v = v.dropna(subset=["model_a", "model_b"])
    v = v[v["model_a"] != v["model_b"]]
    return pd.DataFrame(
        {"model_a": v["model_a"], "model_b": v["model_b"], "score_a": v["vote"].map(PAIRWISE_NUMBERS).astype(float)}
    ).dropna()


def bradley_terry(comps: pd.DataFrame, *, iters: int = 1000, tol: float = 1e-10) -> pd.Series:
    """Bradley-Terry log-strengths (mean 0) by Hunter's (2004) MM algorithm; a tie counts as half a
    win for each side. A tiny prior (one half-win against a virtual average player) keeps every
    strength finite when a model never wins or never loses."""
    if comps.empty:
        raise MetricUndefinedError("Bradley-Terry needs at least one comparison between two models")
    names = sorted(set(comps["model_a"]) | set(comps["model_b"]))
    if len(names) < 2:
        raise MetricUndefinedError(f"Bradley-Terry needs at least 2 models; got {names}")
    idx = {m: i for i, m in enumerate(names)}
    a = comps["model_a"].map(idx).to_numpy()
    b = comps["model_b"].map(idx).to_numpy()
    s = comps["score_a"].to_numpy(float)
    k = len(names)
    wins = np.bincount(a, weights=s, minlength=k) + np.bincount(b, weights=1 - s, minlength=k) + 0.5
    games = np.zeros((k, k))
    np.add.at(games, (a, b), 1.0)
    games = games + games.T
    p = np.ones(k)
    for _ in range(iters):
        denom = (games / (p[:, None] + p[None, :])).sum(axis=1) + 1.0 / (p + 1.0)
        new = wins / denom
        new /= np.exp(np.mean(np.log(new)))
        if np.max(np.abs(new - p)) < tol:
            p = new
            break
        p = new
    log_p = np.log(p)
    return pd.Series(log_p - log_p.mean(), index=names, name="bt_score").sort_values(ascending=False)


def win_rates(comps: pd.DataFrame) -> pd.Series:
    long = pd.concat(
        [
            pd.DataFrame({"model": comps["model_a"], "win": comps["score_a"]}),
            pd.DataFrame({"model": comps["model_b"], "win": 1 - comps["score_a"]}),
        ]
    )
    return long.groupby("model")["win"].mean().sort_values(ascending=False)


def ranking(labels: pd.DataFrame, items: pd.DataFrame, raters: str | Sequence[str]) -> pd.DataFrame:
    comps = model_comparisons(labels, items, raters)
    bt = bradley_terry(comps)
    return pd.DataFrame(
        {"bt_score": bt, "win_rate": win_rates(comps).reindex(bt.index), "rank": np.arange(1, len(bt) + 1)}
    )


def ranking_agreement(reference: pd.DataFrame, other: pd.DataFrame) -> dict[str, float | int | None]:
    """Spearman and Kendall correlation between two rankings' Bradley-Terry scores (shared models)."""
    shared = reference.index.intersection(other.index)
    if len(shared) < 3:
        return {"n_models": len(shared), "spearman": None, "kendall": None}
    x, y = reference.loc[shared, "bt_score"], other.loc[shared, "bt_score"]
    if np.ptp(x.to_numpy()) == 0 or np.ptp(y.to_numpy()) == 0:
        return {"n_models": len(shared), "spearman": None, "kendall": None}
    return {
        "n_models": len(shared),
        "spearman": float(stats.spearmanr(x, y).statistic),
        "kendall": float(stats.kendalltau(x, y).statistic),
    }
