"""Agreement between raters: percent agreement (with/without ties), Cohen's kappa (unweighted,
linear, quadratic), Fleiss' kappa, Krippendorff's alpha, Spearman/Kendall/Pearson and MAE.

Low-level functions take arrays; :func:`agreement` takes a labels frame and two rater selections,
pools every (a, b) pair that labeled the same item (vote level, as in MT-Bench) or compares with the
per-item majority of side B, and gives each figure an item-level bootstrap 95% CI.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import asdict, dataclass
from functools import partial
from typing import Any, Literal, cast

import krippendorff
import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from scipy import stats

from analysis._kernels import F64, Level, cell_sums, fleiss_from_sums, fleiss_per_item
from analysis.errors import MetricUndefinedError, bad_argument
from analysis.frames import COLLAPSED, lookup, majority, orders_rule, select_raters, vote_numbers, votes
from analysis.intervals import kappa_dirichlet, proportion, rows_total
from analysis.resampling import Resampler, estimates, unit_of
from analysis.vote_grid import VoteGrid
from contracts.columns import SCALE_ATTR

Weights = Literal["linear", "quadratic"] | None


# ------------------------------------------------------------------ kappa family on confusion matrices


def _disagreement_weights(k: int, weights: Weights) -> F64:
    i, j = np.meshgrid(np.arange(k), np.arange(k), indexing="ij")
    if weights is None:
        return (i != j).astype(np.float64)
    if weights == "linear":
        return np.abs(i - j) / max(k - 1, 1)
    if weights == "quadratic":
        return ((i - j) / max(k - 1, 1)) ** 2
    raise bad_argument("weights", weights, [None, "linear", "quadratic"])


def kappa_from_confusion(confusion: ArrayLike, *, weights: Weights = None) -> F64:
    """Cohen's kappa from confusion matrices shaped (..., k, k) (rows: rater A, columns: rater B)."""
    c = np.asarray(confusion, dtype=np.float64)
    k = c.shape[-1]
    w = _disagreement_weights(k, weights)
    n = c.sum(axis=(-2, -1))
    expected = (
        c.sum(axis=-1)[..., :, None] * c.sum(axis=-2)[..., None, :] / np.where(n == 0, np.nan, n)[..., None, None]
    )
    observed_d = (w * c).sum(axis=(-2, -1))
    expected_d = (w * expected).sum(axis=(-2, -1))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.asarray(1.0 - observed_d / expected_d, dtype=np.float64)


def confusion(a: ArrayLike, b: ArrayLike, categories: Sequence[object]) -> F64:
    index = {c: i for i, c in enumerate(categories)}
    k = len(categories)
    out = np.zeros((k, k))
    np.add.at(out, ([index[x] for x in np.asarray(a)], [index[x] for x in np.asarray(b)]), 1)
    return out


def cohen_kappa(
    a: ArrayLike, b: ArrayLike, *, categories: Sequence[object] | None = None, weights: Weights = None
) -> float:
    """Cohen's kappa between two aligned label arrays. ``categories`` fixes the order (needed for
    weighted kappa on an ordinal scale; default: sorted union). Equal to scikit-learn's
    ``cohen_kappa_score`` (tested).

    >>> cohen_kappa(["A", "A", "B", "B"], ["A", "B", "B", "B"])  # p_o = .75, p_e = .5
    0.5
    >>> round(cohen_kappa([1, 2, 3, 3], [1, 2, 3, 2], weights="quadratic"), 3)
    0.8
    """
    a_arr, b_arr = np.asarray(a), np.asarray(b)
    if a_arr.shape != b_arr.shape or a_arr.ndim != 1:
        raise MetricUndefinedError(
            f"cohen_kappa needs two 1-D arrays of equal length, got {a_arr.shape} and {b_arr.shape}"
        )
    if a_arr.size == 0:
        raise MetricUndefinedError("cohen_kappa needs at least one item rated by both raters; got 0")
    cats = list(categories) if categories is not None else sorted(set(a_arr.tolist()) | set(b_arr.tolist()))
    if len(set(a_arr.tolist()) | set(b_arr.tolist())) < 2:
        raise MetricUndefinedError(
            f"cohen_kappa is undefined when both raters use a single category ({cats[0]!r}) on all {a_arr.size} items",
            fix="read percent agreement instead, or add items where the raters use another category",
        )
    return float(kappa_from_confusion(confusion(a_arr, b_arr, cats), weights=weights))


def fleiss_kappa(counts: ArrayLike) -> float:
    """Fleiss' kappa from an (items x categories) table of how many raters chose each category.
    Every item must have the same number of raters (>= 2). Equal to statsmodels' ``fleiss_kappa``.

    >>> round(fleiss_kappa([[3, 0], [0, 3], [2, 1], [1, 2]]), 4)  # 4 items, 3 raters, 2 categories
    0.3333
    """
    table = np.asarray(counts, dtype=np.float64)
    if table.ndim != 2 or table.shape[0] == 0:
        raise MetricUndefinedError(f"fleiss_kappa needs a non-empty items x categories table, got shape {table.shape}")
    m = table.sum(axis=1)
    if not np.all(m == m[0]) or m[0] < 2:
        raise MetricUndefinedError(
            f"fleiss_kappa needs the same number (>= 2) of raters on every item; got {sorted(set(m.tolist()))[:5]}"
        )
    return float(fleiss_from_sums(fleiss_per_item(table).sum(axis=0)[None, :], table.shape[1])[0])


# ------------------------------------------------------------------ Krippendorff's alpha


def krippendorff_alpha(reliability_data: ArrayLike, *, level: Level) -> float:
    """Krippendorff's alpha of a (raters x units) matrix of numbers, NaN for missing.

    The level of measurement is required (never the library's default). Validates up front and
    calls ``krippendorff.alpha`` on the same matrix.

    >>> nan = float("nan")
    >>> data = [[1, 2, 3, 3, nan], [1, 2, 3, 4, 2]]  # 2 raters x 5 units; the last unit is not pairable
    >>> round(krippendorff_alpha(data, level="nominal"), 4), round(krippendorff_alpha(data, level="interval"), 4)
    (0.6957, 0.8889)
    """
    if level not in ("nominal", "ordinal", "interval", "ratio"):
        raise bad_argument("level", level, ["nominal", "ordinal", "interval", "ratio"])
    data = np.asarray(reliability_data, dtype=np.float64)
    if data.ndim != 2:
        raise MetricUndefinedError(f"krippendorff_alpha needs a raters x units matrix, got shape {data.shape}")
    pairable = int((np.sum(~np.isnan(data), axis=0) >= 2).sum())
    if pairable == 0:
        raise MetricUndefinedError(
            f"krippendorff_alpha needs at least one unit rated by 2 raters; got 0 of {data.shape[1]} units",
            fix="have at least two raters label the same items",
        )
    values = np.unique(data[~np.isnan(data)])
    if values.size < 2:
        raise MetricUndefinedError(f"krippendorff_alpha is undefined when every rating is the same value ({values[0]})")
    return float(krippendorff.alpha(reliability_data=data, level_of_measurement=level))


# ------------------------------------------------------------------ correlations on scores


def correlations(a: ArrayLike, b: ArrayLike) -> dict[str, float]:
    """Spearman rho, Kendall tau-b, Pearson r and MAE between two aligned score arrays.

    >>> {k: round(v, 3) for k, v in correlations([1, 2, 3, 4], [1, 3, 2, 4]).items()}
    {'spearman': 0.8, 'kendall': 0.667, 'pearson': 0.8, 'mae': 0.5}
    """
    x, y = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if x.size < 3:
        raise MetricUndefinedError(
            f"correlations need at least 3 items scored by both sides; got {x.size}",
            fix="score at least 3 of the same items with both sides",
        )
    if np.ptp(x) == 0 or np.ptp(y) == 0:
        raise MetricUndefinedError("correlations are undefined when one side gives every item the same score")
    return {
        "spearman": float(stats.spearmanr(x, y).statistic),
        "kendall": float(stats.kendalltau(x, y).statistic),
        "pearson": float(stats.pearsonr(x, y).statistic),
        "mae": float(np.mean(np.abs(x - y))),
    }


# ------------------------------------------------------------------ comparisons over a labels frame


def comparisons(
    labels: pd.DataFrame,
    a: str | Sequence[str],
    b: str | Sequence[str],
    *,
    ties: bool = True,
    majority_b: bool = False,
    min_votes: int = 1,
) -> pd.DataFrame:
    """The vote-level comparisons between side ``a`` and side ``b``.

    Pooled (default): every pair (x from a, y from b, x != y) that voted on the same item; when the
    sides overlap, an unordered pair is counted once. ``majority_b``: side b is one rater, its
    per-item strict majority of at least ``min_votes`` votes (items without one are dropped):
    without the side-a rater when it belongs to side b, else each leave-one-out majority of side b in
    turn (a judge faces the same majorities as a human; averaging over the left-out rater).
    ``ties=False`` drops a comparison when either vote is a tie (or both-bad).
    Columns: ``item_id, rater_a, rater_b, vote_a, vote_b, num_a, num_b``.
    """
    return comparisons_from_votes(
        votes(labels, ties=True),
        select_raters(labels, a),
        select_raters(labels, b),
        ties=ties,
        majority_b=majority_b,
        min_votes=min_votes,
    )


def comparisons_from_votes(
    v: pd.DataFrame,
    raters_a: list[str],
    raters_b: list[str],
    *,
    ties: bool = True,
    majority_b: bool = False,
    min_votes: int = 1,
    majorities: Callable[[list[str], str | None, int], pd.Series] | None = None,
    grid: VoteGrid | None = None,
) -> pd.DataFrame:
    """:func:`comparisons` on an already collapsed votes frame (``analysis.frames.votes``);
    ``majorities(raters, left_out, min_votes)``: :func:`analysis.frames.majority` of ``v``, as a caller
    keeps them (:class:`ComparisonMemo`). Read from the votes' grid (``analysis.vote_grid``; ``grid``:
    made already) where it holds them, else by joining the votes frame with itself: the same frame."""
    if majorities is None:
        majorities = partial(_majority_of, v)
    made = None
    if grid is None:
        grid = VoteGrid.of(v)
    if grid is not None:
        if majority_b:
            made = grid.against_majorities(raters_a, raters_b, min_votes, majorities)
        else:
            pairs = grid.pairs(raters_a, raters_b)
            made = (pairs, 0) if len(pairs) else None
    if made is None:
        made = _joined(v, raters_a, raters_b, majority_b=majority_b, min_votes=min_votes, majorities=majorities)
        if made is None:
            return _empty_comparisons()
    out, no_majority = made
    out.attrs[DROPPED] = {}  # what dropping the ties removed (agreement() reports it)
    out.attrs[NO_MAJORITY] = no_majority
    return out if ties else drop_ties(out)


def _majority_of(v: pd.DataFrame, raters: list[str], left_out: str | None, min_votes: int) -> pd.Series:
    return majority(v, raters, exclude=left_out, min_votes=min_votes)


def _joined(
    v: pd.DataFrame,
    raters_a: list[str],
    raters_b: list[str],
    *,
    majority_b: bool,
    min_votes: int,
    majorities: Callable[[list[str], str | None, int], pd.Series],
) -> tuple[pd.DataFrame, int] | None:
    """:func:`comparisons_from_votes` by joining the votes frame with itself (any votes frame: also
    several votes of one rater on an item), with the votes that found no majority; None: none of
    side a's votes found a majority."""
    left = v[v["annotator"].isin(raters_a)]
    no_majority = 0
    if majority_b:
        parts = []
        for rater in raters_a:
            mine = left[left["annotator"] == rater]
            # a rater of side b is compared with the majority of the others; any other rater (a judge)
            # with each leave-one-out majority in turn, so both face majorities of the same size
            left_out = [rater] if rater in raters_b else (list(raters_b) if len(raters_b) > 1 else [None])
            for gone in left_out:
                maj = majorities(list(raters_b), gone, min_votes).rename("vote_b")
                found = mine.merge(maj.rename_axis("item_id").reset_index(), on="item_id")
                no_majority += len(mine) - len(found)
                name = "majority" if gone is None or gone == rater else f"majority without {gone}"
                parts.append(found.assign(rater_b=name))
        pairs = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()
        if pairs.empty:
            return None
        pairs = pairs.rename(columns={"annotator": "rater_a", "vote": "vote_a"})
    else:
        right = v[v["annotator"].isin(raters_b)]
        pairs = left.merge(right, on="item_id", suffixes=("_a", "_b"))
        pairs = pairs[pairs["annotator_a"] != pairs["annotator_b"]]
        both = set(raters_a) & set(raters_b)
        dup = (
            pairs["annotator_a"].isin(both)
            & pairs["annotator_b"].isin(both)
            & (pairs["annotator_a"] > pairs["annotator_b"])
        )
        pairs = pairs[~dup].rename(columns={"annotator_a": "rater_a", "annotator_b": "rater_b"})
    out = pairs[["item_id", "rater_a", "rater_b", "vote_a", "vote_b"]].copy()
    to_num = vote_numbers(v)
    out["num_a"] = lookup(out["vote_a"], to_num)
    out["num_b"] = lookup(out["vote_b"], to_num)
    return out.sort_values(["item_id", "rater_a", "rater_b"]).reset_index(drop=True), no_majority


DROPPED = "judgelab_dropped_ties"  # DataFrame.attrs key set by comparisons_from_votes(ties=False)
NO_MAJORITY = "judgelab_no_majority"  # attrs key: comparisons dropped for want of a majority


def _empty_comparisons() -> pd.DataFrame:
    return pd.DataFrame(columns=["item_id", "rater_a", "rater_b", "vote_a", "vote_b", "num_a", "num_b"])


class ComparisonMemo:
    """The comparisons of one frame's votes (``source``, collapsed: its votes do not depend on the
    orders rule), each computed once by the first caller that asks for it and then shared; a
    report's figures run on several threads at once, and several of them compare the same sides
    (a judge's agreement and its distance to the human ceiling). Without ties is the with-ties
    comparisons with the ties dropped (:func:`drop_ties`)."""

    def __init__(self, source: pd.DataFrame) -> None:
        self.source = source
        self._lock = threading.Lock()
        self._made: dict[tuple[object, ...], Future[Any]] = {}

    def votes(self) -> pd.DataFrame:
        return self._once(("votes",), lambda: votes(self.source, ties=True))

    def comparisons(
        self, a: list[str], b: list[str], *, ties: bool = True, majority_b: bool = False, min_votes: int = 1
    ) -> pd.DataFrame:
        """:func:`comparisons_from_votes` of the source's votes (a copy: callers may add columns)."""
        if not ties and not majority_b:
            return drop_ties(self.comparisons(a, b))
        key = ("comparisons", tuple(a), tuple(b), ties, majority_b, min_votes if majority_b else 1)
        made = self._once(
            key,
            lambda: comparisons_from_votes(
                self.votes(),
                a,
                b,
                ties=ties,
                majority_b=majority_b,
                min_votes=min_votes,
                majorities=self.majority,
                grid=self.grid(),
            ),
        )
        return made.copy()

    def wide(self, column: str) -> pd.DataFrame:
        """The votes' ``column`` as an items x raters table (``votes.pivot``; shared, not to be changed):
        the alternative annotator test reads it once for every judge."""
        table = self._once(
            ("wide", column), lambda: self.votes().pivot(index="item_id", columns="annotator", values=column)
        )
        return cast(pd.DataFrame, table)

    def grid(self) -> VoteGrid | None:
        """The votes' grid (``analysis.vote_grid``), None where it cannot hold them."""
        return cast("VoteGrid | None", self._once(("grid",), lambda: VoteGrid.of(self.votes())))

    def raters(self, selector: str | Sequence[str]) -> list[str]:
        """:func:`analysis.frames.select_raters` of the source."""
        key = ("raters", selector if isinstance(selector, str) else tuple(selector))
        return list(self._once(key, lambda: select_raters(self.source, selector)))

    def vote_order(self) -> list[str]:
        """The votes' values in the order of their numbers (the categories of :func:`agreement`)."""
        return list(self._once(("vote_order",), lambda: _vote_order(self.votes())))

    def majority(self, raters: list[str], left_out: str | None, min_votes: int) -> pd.Series:
        """:func:`analysis.frames.majority` of the source's votes (the human block and every judge
        face the same leave-one-out majorities)."""
        return self._once(
            ("majority", tuple(raters), left_out, min_votes),
            lambda: majority(self.votes(), raters, exclude=left_out, min_votes=min_votes),
        )

    def _once(self, key: tuple[object, ...], make: Callable[[], Any]) -> Any:
        with self._lock:
            pending = self._made.get(key)
            mine = pending is None
            if pending is None:
                pending = self._made[key] = Future()
        if mine:
            try:
                pending.set_result(make())
            except BaseException as exc:
                pending.set_exception(exc)
        return pending.result()

    def serves(self, labels: pd.DataFrame) -> bool:
        """Whether ``labels`` is the frame these comparisons are of (a collapsed one)."""
        return labels is self.source and COLLAPSED in labels.attrs


def drop_ties(comps: pd.DataFrame) -> pd.DataFrame:
    """With-ties comparisons (``comparisons_from_votes(..., ties=True)``) as ``ties=False`` gives them
    (it calls this): the comparisons where either vote is a tie (or both-bad) dropped, the shares
    dropped in attrs."""
    if not len(comps):
        return comps.copy()
    tie_a = comps["vote_a"].isin(["tie", "bothbad"]).to_numpy()
    tie_b = comps["vote_b"].isin(["tie", "bothbad"]).to_numpy()
    keep = ~(tie_a | tie_b)
    out = comps[keep].reset_index(drop=True)
    out.attrs[DROPPED] = {
        "dropped_share": float(1 - keep.mean()),
        "tie_share_a": float(tie_a.mean()),
        "tie_share_b": float(tie_b.mean()),
    }
    out.attrs[NO_MAJORITY] = comps.attrs.get(NO_MAJORITY, 0)
    return out


def _vote_order(v: pd.DataFrame) -> list[str]:
    """The distinct votes (as text) in the order of their numbers."""
    return [str(x) for x in v.drop_duplicates("vote").sort_values("vote_num")["vote"]]


def agreement_statistics(
    k: int, *, weights: Weights = None, symmetric: bool = False
) -> tuple[Callable[[F64], F64], Callable[[F64], F64]]:
    """Percent agreement and kappa as vectorized statistics of summed confusion cells (rows x k*k,
    cell ``a * k + b``): the functions every agreement interval resamples."""
    agree_cells = [i * k + i for i in range(k)]

    def agreement_stat(sums: F64) -> F64:
        with np.errstate(invalid="ignore", divide="ignore"):  # a resample may miss every item of a stratum
            return np.asarray(sums[:, agree_cells].sum(axis=1) / sums.sum(axis=1), dtype=np.float64)

    def kappa_stat(sums: F64) -> F64:
        conf = sums.reshape(-1, k, k)
        if symmetric:
            conf = (conf + np.transpose(conf, (0, 2, 1))) / 2
        return kappa_from_confusion(conf, weights=weights)

    return agreement_stat, kappa_stat


@dataclass
class AgreementResult:
    n: int
    n_items: int
    agreement: float
    agreement_ci95: tuple[float, float]
    kappa: float | None
    kappa_ci95: tuple[float, float] | None
    categories: list[str]
    weights: str | None = None
    resampling_unit: str | None = None  # what the bootstrap drew: "item" or the cluster field
    orders: str | None = None  # how a rater labeled in both orders counted (contracts.vocab.ORDER_RULES)
    # which kappa: "cohen" (two sides, each with its own marginals) or "scott" (a group against itself:
    # the pooled pairs' confusion symmetrized, one shared marginal: Scott's pi, Fleiss' form for pairs)
    kappa_form: str | None = None
    # without ties (S2): the share of the comparisons dropped, and of each side's votes that were ties
    dropped_share: float | None = None
    tie_share_a: float | None = None
    tie_share_b: float | None = None
    # how each interval was made (analysis.intervals) and why it cannot be vouched for (None: it can)
    ci_method: str | None = None
    ci_flag: str | None = None
    kappa_ci_method: str | None = None
    kappa_ci_flag: str | None = None
    # against a majority: the fewest votes a majority needs, and the comparisons dropped for want of one
    min_votes: int | None = None
    n_no_majority: int | None = None
    bothbad: str | None = None  # how a both-bad verdict counted: "tie" or "distinct"

    def to_dict(self) -> dict[str, object]:
        d = asdict(self)
        d["agreement_ci95"] = list(self.agreement_ci95)
        d["kappa_ci95"] = None if self.kappa_ci95 is None else list(self.kappa_ci95)
        return d


def agreement_from_comparisons(
    comps: pd.DataFrame,
    *,
    categories: Sequence[str] | None = None,
    weights: Weights = None,
    symmetric: bool = False,
    n_boot: int = 1000,
    seed: int = 0,
    what: str = "these raters",
    resampler: Resampler | None = None,
) -> AgreementResult:
    """Percent agreement and Cohen's kappa over pooled comparisons; the agreement's interval is
    Jeffreys on the effective sample size, kappa's from its Dirichlet-Perks posterior
    (:mod:`analysis.intervals`), both reading the same (item or cluster) bootstrap.
    ``symmetric`` (a group against itself): the confusion matrix is symmetrized, since a pair has no
    side."""
    if comps.empty:
        raise MetricUndefinedError(
            f"agreement needs at least one item rated by both sides; {what} share 0 items",
            fix="label some of the same items with both sides (raise the task's overlap, or run the judge on them)",
        )
    cats = (
        list(categories)
        if categories is not None
        else sorted(set(comps["vote_a"].unique()) | set(comps["vote_b"].unique()), key=str)
    )
    k = len(cats)
    index = {c: i for i, c in enumerate(cats)}
    item_codes, items = pd.factorize(comps["item_id"], sort=True)
    cell = (lookup(comps["vote_a"], index) * k + lookup(comps["vote_b"], index)).astype(np.int64)
    per_item = cell_sums(item_codes, cell, (len(items), k * k))
    agreement_stat, kappa_stat = agreement_statistics(k, weights=weights, symmetric=symmetric)
    (agree, agree_ci), (kappa_value, kappa_ci_value) = estimates(
        per_item,
        [(agreement_stat, partial(proportion, trials=rows_total)), (kappa_stat, kappa_dirichlet)],
        n_boot=n_boot,
        seed=seed,
        resampler=resampler,
        item_ids=items,
    )
    kappa: float | None = kappa_value
    kappa_ci: tuple[float, float] | None = kappa_ci_value.pair
    if k < 2 or not np.isfinite(kappa_value):
        kappa, kappa_ci = None, None
    drawn = unit_of(resampler, n_boot) is not None
    return AgreementResult(
        n=len(comps),
        n_items=len(items),
        agreement=agree,
        agreement_ci95=agree_ci.pair,
        kappa=kappa,
        kappa_ci95=kappa_ci,
        ci_method=agree_ci.method if drawn else None,
        ci_flag=agree_ci.flag,
        kappa_ci_method=kappa_ci_value.method if drawn and kappa is not None else None,
        kappa_ci_flag=kappa_ci_value.flag if kappa is not None else None,
        categories=[str(c) for c in cats],
        weights=weights,
        resampling_unit=unit_of(resampler, n_boot),
        kappa_form=None if kappa is None else ("scott" if symmetric else "cohen"),
    )


def agreement(
    labels: pd.DataFrame,
    a: str | Sequence[str],
    b: str | Sequence[str],
    *,
    ties: bool = True,
    majority_b: bool = False,
    weights: Weights = None,
    n_boot: int = 1000,
    seed: int = 0,
    resampler: Resampler | None = None,
    orders: str = "combined",
    min_votes: int = 2,
    scale: Sequence[str] | None = None,
    bothbad: str = "tie",
    memo: ComparisonMemo | None = None,
) -> AgreementResult:
    """Agreement of side ``a`` with side ``b`` (selectors as in :func:`analysis.frames.select_raters`);
    ``orders`` counts a rater labeled in both presented orders once (``combined``), per order
    (``each``) or by its first order (``first``). ``scale``: the task's scale points in order
    (default: ``labels.attrs[contracts.columns.SCALE_ATTR]`` when the reader set it), the categories
    of weighted kappa; without it, the points the raters used. ``memo``: comparisons shared with other
    figures of the same collapsed ``labels`` (:class:`ComparisonMemo`; the same result)."""
    if memo is not None and memo.serves(labels):
        raters_a, raters_b = memo.raters(a), memo.raters(b)
        comps = memo.comparisons(raters_a, raters_b, ties=ties, majority_b=majority_b, min_votes=min_votes)
        ordered = memo.vote_order()
    else:
        raters_a, raters_b = select_raters(labels, a), select_raters(labels, b)
        v = votes(labels, ties=True, orders=orders, bothbad=bothbad)
        comps = comparisons_from_votes(v, raters_a, raters_b, ties=ties, majority_b=majority_b, min_votes=min_votes)
        ordered = _vote_order(v)
    if scale is None:
        scale = labels.attrs.get(SCALE_ATTR)
    same = not majority_b and set(raters_a) == set(raters_b)
    if weights is None and set(ordered) <= {"A", "B", "tie", "bothbad"}:
        categories = ["A", "B", "tie", "bothbad"] if ties else ["A", "B"]
    else:
        categories = ordered
    present = set(comps["vote_a"].unique()) | set(comps["vote_b"].unique())  # unique(): arrow strings iterate slowly
    if scale is not None and present <= set(scale):
        # the task's scale: weighted kappa's distances count every point, used or not
        categories = list(scale)
    else:
        categories = [c for c in categories if c in present] or sorted(present, key=str)
    result = agreement_from_comparisons(
        comps,
        categories=categories,
        weights=weights,
        symmetric=same,
        n_boot=n_boot,
        seed=seed,
        what=f"{a!r} and {b!r}" + ("" if ties else " (after dropping comparisons with a tie)"),
        resampler=resampler,
    )
    distinct = "bothbad" in present
    result = dataclasses.replace(
        result, orders=orders_rule(labels, orders), bothbad="distinct" if distinct or bothbad == "distinct" else "tie"
    )
    if not ties and comps.attrs.get(DROPPED):
        result = dataclasses.replace(result, **comps.attrs[DROPPED])
    if majority_b:
        result = dataclasses.replace(result, min_votes=min_votes, n_no_majority=int(comps.attrs.get(NO_MAJORITY, 0)))
    return result
