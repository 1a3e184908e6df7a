"""System level: per-generator win rates and Bradley-Terry scores from a rater's verdicts, and the
rank correlation between the humans' ranking and a judge's."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from scipy import stats

from analysis._kernels import cell_sums
from analysis.errors import MetricUndefinedError
from analysis.frames import lookup, select_raters, votes
from contracts.vocab import PAIRWISE_NUMBERS


@dataclass(frozen=True)
class ItemModels:
    """Each item's two models as codes into ``names`` (sorted; -1: none), read once for every rater's
    ranking: joining each rater's votes with the items' model names (texts) was half of a ranking."""

    item_ids: pd.Index
    a: NDArray[np.int64]
    b: NDArray[np.int64]
    names: pd.Index

    @classmethod
    def of(cls, items: pd.DataFrame) -> ItemModels | None:
        """None when the items' ids repeat (then the votes are joined with the items as before)."""
        ids = pd.Index(items["item_id"].to_numpy())
        if not ids.is_unique:
            return None
        both = np.concatenate([items["model_a"].to_numpy(dtype=object), items["model_b"].to_numpy(dtype=object)])
        codes, names = pd.factorize(both, sort=True)  # a missing model is -1
        return cls(ids, codes[: len(ids)].astype(np.int64), codes[len(ids) :].astype(np.int64), pd.Index(names))

    def of_votes(self, v: pd.DataFrame) -> tuple[NDArray[np.bool_], NDArray[np.int64], NDArray[np.int64]]:
        """For each vote: whether its item has two different models, and their codes."""
        at = self.item_ids.get_indexer(pd.Index(v["item_id"].to_numpy()))
        a = np.where(at >= 0, self.a[at], -1)
        b = np.where(at >= 0, self.b[at], -1)
        return (a >= 0) & (b >= 0) & (a != b), a, b


def model_comparisons(
    labels: pd.DataFrame, items: pd.DataFrame, raters: str | Sequence[str], *, models: ItemModels | None = None
) -> pd.DataFrame:
    """``model_a, model_b, score_a`` (1 A won, 0 B won, 0.5 tie) for every vote of ``raters``.
    ``models``: the items' models read once (:class:`ItemModels`; the same comparisons, the models
    coded)."""
    v = votes(labels, ties=True)
    v = v[v["annotator"].isin(select_raters(labels, raters))]
    models = models if models is not None else ItemModels.of(items)
    if models is not None:
        keep, a, b = models.of_votes(v)
        comps = pd.DataFrame(
            {
                "model_a": pd.Categorical.from_codes(a[keep], categories=models.names),
                "model_b": pd.Categorical.from_codes(b[keep], categories=models.names),
                "score_a": lookup(v["vote"], PAIRWISE_NUMBERS)[keep],
            },
            index=v.index[keep],
        )
        return comps.dropna()
    v = v.join(items.set_index("item_id")[["model_a", "model_b"]], on="item_id")
    v = v.dropna(subset=["model_a", "model_b"])
    v = v[v["model_a"] != v["model_b"]]
    return pd.DataFrame(
        {"model_a": v["model_a"], "model_b": v["model_b"], "score_a": lookup(v["vote"], PAIRWISE_NUMBERS)}
    ).dropna()


def bradley_terry(comps: pd.DataFrame, *, iters: int = 1000, tol: float = 1e-10) -> pd.Series:
    """Bradley-Terry log-strengths (mean 0) by Hunter's (2004) MM algorithm; a tie counts as half a
    win for each side. A tiny prior (one half-win against a virtual average player) keeps every
    strength finite when a model never wins or never loses."""
    if comps.empty:
        raise MetricUndefinedError("Bradley-Terry needs at least one comparison between two models")
    names = sorted(set(comps["model_a"].unique()) | set(comps["model_b"].unique()))
    if len(names) < 2:
        raise MetricUndefinedError(f"Bradley-Terry needs at least 2 models; got {names}")
    idx = {m: i for i, m in enumerate(names)}
    a = lookup(comps["model_a"], idx).astype(np.int64)
    b = lookup(comps["model_b"], idx).astype(np.int64)
    s = comps["score_a"].to_numpy(float)
    k = len(names)
    wins = np.bincount(a, weights=s, minlength=k) + np.bincount(b, weights=1 - s, minlength=k) + 0.5
    games = cell_sums(a, b, (k, k))
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


def ranking(
    labels: pd.DataFrame, items: pd.DataFrame, raters: str | Sequence[str], *, models: ItemModels | None = None
) -> pd.DataFrame:
    comps = model_comparisons(labels, items, raters, models=models)
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


def bradley_terry_resampled(
    labels: pd.DataFrame,
    items: pd.DataFrame,
    raters: str | Sequence[str],
    models: Sequence[str],
    sums_of: Callable[[pd.Index, np.ndarray], np.ndarray],
    *,
    iters: int = 300,
    tol: float = 1e-8,
    item_models: ItemModels | None = None,
) -> np.ndarray:
    """Bradley-Terry log-strengths of ``models`` (in that order) on every resample at once: (B x k).
    The fit reads only sums over items (each model's wins, the games of each pair), so ``sums_of``
    (the report's resampler: item ids and per-item parts -> resampled sums) gives every resample's
    sums, and Hunter's MM iterations run on all resamples together (the same prior as
    :func:`bradley_terry`). ``item_models``: the items' models read once (:class:`ItemModels`)."""
    v = votes(labels, ties=True)
    v = v[v["annotator"].isin(select_raters(labels, raters))]
    k = len(models)
    idx = {m: i for i, m in enumerate(models)}
    item_models = item_models if item_models is not None else ItemModels.of(items)
    if item_models is not None:
        # each model code's place among ``models`` (-1: not one of them)
        place = np.array([idx.get(n, -1) for n in item_models.names] + [-1], dtype=np.int64)
        two, ca, cb = item_models.of_votes(v)
        a, b = place[ca], place[cb]
        keep = two & (a >= 0) & (b >= 0)
        v, a, b = v[keep], a[keep], b[keep]
    else:
        meta = items.set_index("item_id")[["model_a", "model_b"]]
        v = v.join(meta, on="item_id").dropna(subset=["model_a", "model_b"])
        v = v[(v["model_a"] != v["model_b"]) & v["model_a"].isin(models) & v["model_b"].isin(models)]
        a = lookup(v["model_a"], idx).astype(np.int64)
        b = lookup(v["model_b"], idx).astype(np.int64)
    score = lookup(v["vote"], PAIRWISE_NUMBERS)
    lo, hi = np.minimum(a, b), np.maximum(a, b)
    pair_codes, pairs = pd.factorize(pd.Series(lo * k + hi))
    n_pairs = len(pairs)
    item_codes, item_ids = pd.factorize(v["item_id"])
    shape = (len(item_ids), k + n_pairs)
    # scores are 0, 1/2 and 1: every partial sum is exact, so adding the three tables equals adding
    # each score into one table in turn
    parts = cell_sums(item_codes, a, shape, score) + cell_sums(item_codes, b, shape, 1 - score)
    parts += cell_sums(item_codes, k + pair_codes, shape)
    sums = sums_of(pd.Index(item_ids), parts)
    wins = sums[:, :k] + 0.5
    games = sums[:, k:]
    incidence = np.zeros((n_pairs, k))
    pair_values = np.asarray(pairs, dtype=int)
    incidence[np.arange(n_pairs), pair_values // k] = 1.0
    incidence[np.arange(n_pairs), pair_values % k] = 1.0
    first, second = pair_values // k, pair_values % k
    p = np.ones_like(wins)
    for _ in range(iters):
        denom = (games / (p[:, first] + p[:, second])) @ incidence + 1.0 / (p + 1.0)
        new = wins / denom
        new /= np.exp(np.mean(np.log(new), axis=1, keepdims=True))
        done = np.max(np.abs(new - p)) < tol
        p = new
        if done:
            break
    log_p = np.log(p)
    return np.asarray(log_p - log_p.mean(axis=1, keepdims=True), dtype=np.float64)


def rank_correlations(x: np.ndarray, y: np.ndarray) -> dict[str, np.ndarray]:
    """Row-wise Spearman and Kendall (tau-b) correlations of two (B x k) score matrices."""
    rx, ry = stats.rankdata(x, axis=1), stats.rankdata(y, axis=1)
    rx, ry = rx - rx.mean(axis=1, keepdims=True), ry - ry.mean(axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        spearman = (rx * ry).sum(axis=1) / np.sqrt((rx**2).sum(axis=1) * (ry**2).sum(axis=1))
    # Kendall's tau-b over all pairs of columns at once: (concordant - discordant) over the
    # geometric mean of the pairs untied in x and in y (scipy.stats.kendalltau's tau-b, tested)
    i, j = np.triu_indices(x.shape[1], k=1)
    sx, sy = np.sign(x[:, i] - x[:, j]), np.sign(y[:, i] - y[:, j])
    with np.errstate(invalid="ignore", divide="ignore"):
        kendall = (sx * sy).sum(axis=1) / np.sqrt((sx != 0).sum(axis=1) * (sy != 0).sum(axis=1))
    return {"spearman": np.asarray(spearman, dtype=float), "kendall": np.asarray(kendall, dtype=float)}
