"""Reliability of a group of raters over a labels frame: Krippendorff's alpha and Fleiss' kappa,
each with a BCa bootstrap CI (``analysis.intervals``; flagged below 50 resampling units): alpha and Fleiss
are functions of per-item additive sums."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from analysis._kernels import Level, alpha_from_coincidence, cell_sums, coincidences, fleiss_from_sums, fleiss_per_item
from analysis.agreement import ComparisonMemo, krippendorff_alpha
from analysis.errors import MetricUndefinedError
from analysis.frames import lookup, select_raters, votes
from analysis.resampling import Resampler, estimate, unit_of
from analysis.vote_grid import ABSENT, VoteGrid


@dataclass
class GroupResult:
    metric: str
    value: float
    ci95: tuple[float, float]
    n_items: int
    n_raters: int
    level: str | None = None
    resampling_unit: str | None = None
    ci_method: str | None = None
    ci_flag: str | None = None

    def to_dict(self) -> dict[str, object]:
        return {
            "metric": self.metric,
            "value": self.value,
            "ci95": list(self.ci95),
            "n_items": self.n_items,
            "n_raters": self.n_raters,
            "level": self.level,
            "resampling_unit": self.resampling_unit,
            "ci_method": self.ci_method,
            "ci_flag": self.ci_flag,
        }


def reliability_matrix(
    labels: pd.DataFrame, raters: str | Sequence[str], *, level: Level, memo: ComparisonMemo | None = None
) -> tuple[np.ndarray, list[str], pd.Index]:
    """(raters x items) matrix for alpha: ordered numbers (``vote_num``) for ordinal/interval levels,
    category codes for nominal. Returns the matrix and the rater names. ``memo``: the votes' grid of
    a report's collapsed ``labels`` (``analysis.agreement.ComparisonMemo``), from which a nominal
    matrix is read without pivoting the votes (the same matrix)."""
    names = select_raters(labels, raters)
    grid = memo.grid() if memo is not None and memo.serves(labels) and level == "nominal" else None
    if grid is not None:
        found = _from_grid(grid, names)
        if found is not None:
            return found
    v = votes(labels, ties=True)
    v = v[v["annotator"].isin(names)]
    if level == "nominal":
        codes = {c: float(i) for i, c in enumerate(sorted(v["vote"].unique(), key=str))}
        v = v.assign(x=lookup(v["vote"], codes))
    else:
        v = v.assign(x=v["vote_num"].astype(float))
    table = v.pivot(index="annotator", columns="item_id", values="x").reindex(names)
    return table.to_numpy(dtype=np.float64), names, table.columns


def _from_grid(grid: VoteGrid, names: list[str]) -> tuple[np.ndarray, list[str], pd.Index] | None:
    """The nominal reliability matrix of ``names`` read from the votes' grid: the items any of them
    voted on (a missing value counts as a vote, as in the votes frame), each vote's code its place
    among the values they used sorted as text (a missing value taking its place as ``nan``, as
    sorting the votes' values does)."""
    columns = grid.raters.categories.get_indexer(pd.Index(names))
    if (columns < 0).any():
        return None
    cells = grid.grid[:, columns]
    rows = (cells != ABSENT).any(axis=1)
    cells = cells[rows]
    used = np.unique(cells[cells >= 0])
    values: list[object] = [grid.votes.categories[c] for c in used]
    if (cells == -1).any():
        values.append(float("nan"))
    order = sorted(range(len(values)), key=lambda i: str(values[i]))
    place = {values[i]: float(k) for k, i in enumerate(order)}
    number = np.full(len(grid.votes.categories) + 2, np.nan)  # the last two: a missing value, no vote
    for c in used:
        number[c] = place[grid.votes.categories[c]]
    data = number[np.where(cells >= 0, cells, len(number) - 1)].T.astype(np.float64)
    return data, names, pd.Index(grid.item_ids[rows], name="item_id")


def alpha(
    labels: pd.DataFrame,
    raters: str | Sequence[str],
    *,
    level: Level,
    n_boot: int = 1000,
    seed: int = 0,
    resampler: Resampler | None = None,
    memo: ComparisonMemo | None = None,
) -> GroupResult:
    """Krippendorff's alpha of ``raters`` at ``level`` (explicit), with a bootstrap CI over items;
    ``memo``: a report's votes grid (:func:`reliability_matrix`)."""
    data, names, item_ids = reliability_matrix(labels, raters, level=level, memo=memo)
    point = krippendorff_alpha(data, level=level)  # validated, library value
    pairable = np.sum(~np.isnan(data), axis=0) >= 2
    data = data[:, pairable]
    values = np.unique(data[~np.isnan(data)])
    per_item = coincidences(data, values).reshape(data.shape[1], -1)
    k = len(values)

    def stat(sums: np.ndarray) -> np.ndarray:
        return alpha_from_coincidence(sums.reshape(-1, k, k), values, level=level)

    _, ci = estimate(per_item, stat, n_boot=n_boot, seed=seed, resampler=resampler, item_ids=item_ids[pairable])
    unit = unit_of(resampler, n_boot)
    return GroupResult(
        "krippendorff_alpha",
        point,
        ci.pair,
        int(pairable.sum()),
        len(names),
        level,
        unit,
        ci.method if unit else None,
        ci.flag,
    )


def fleiss(
    labels: pd.DataFrame,
    raters: str | Sequence[str],
    *,
    n_boot: int = 1000,
    seed: int = 0,
    resampler: Resampler | None = None,
) -> GroupResult:
    """Fleiss' kappa of ``raters`` over the items that every one of them rated."""
    names = select_raters(labels, raters)
    if len(names) < 2:
        raise MetricUndefinedError(f"fleiss_kappa needs at least 2 raters; the selection has {len(names)}: {names}")
    v = votes(labels, ties=True)
    v = v[v["annotator"].isin(names)]
    per_item_raters = v.groupby("item_id")["annotator"].nunique()
    full = per_item_raters[per_item_raters == len(names)].index
    if len(full) == 0:
        raise MetricUndefinedError(
            f"fleiss_kappa needs items rated by all {len(names)} raters; none of {per_item_raters.size} items is"
        )
    rated = v[v["item_id"].isin(full)]
    # the item x category count table (pd.crosstab's, sorted items and categories), counted with
    # numpy: crosstab aggregates Arrow-backed strings through Python (4 s at 100,000 items)
    item_codes, item_ids = pd.factorize(rated["item_id"], sort=True)
    vote_codes, _ = pd.factorize(rated["vote"], sort=True)
    table = cell_sums(item_codes, vote_codes, (len(item_ids), int(vote_codes.max()) + 1 if len(vote_codes) else 0))
    if table.shape[1] < 2:
        raise MetricUndefinedError("fleiss_kappa is undefined when every rating falls in a single category")
    k = table.shape[1]
    value, ci = estimate(
        fleiss_per_item(table),
        lambda s: fleiss_from_sums(s, k),
        n_boot=n_boot,
        seed=seed,
        resampler=resampler,
        item_ids=pd.Index(item_ids),
    )
    unit = unit_of(resampler, n_boot)
    return GroupResult(
        "fleiss_kappa", value, ci.pair, len(full), len(names), None, unit, ci.method if unit else None, ci.flag
    )
