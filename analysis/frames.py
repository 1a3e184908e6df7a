"""Frames in the column contract (``contracts.columns``) between annotation (which reads the database)
and analysis (pure functions): checks, one vote per (item, rater), majorities, rater selectors.

``labels``: one row per label; required: ``contracts.columns.LABEL_REQUIRED``; optional:
``question, replicate, confidence, confidence_p, probabilities, metadata`` (``ANALYSIS_LABEL_COLUMNS``); the
few-valued text columns (``LABEL_CODED``) are held as ordered categoricals (:func:`coded`).
``items``: one row per item. Required: ``item_id``; optional: ``model_a, model_b, category,
len_a, len_b, prompt, gold_value`` and any metadata key as a column.

Pairwise values are in the item's A/B frame: ``A``, ``B``, ``tie``, ``bothbad``
(``contracts.vocab.PAIRWISE_VALUES``).
"""

from __future__ import annotations

import fnmatch
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from analysis.errors import ArgumentError, MetricUndefinedError, bad_argument
from contracts.columns import (
    LABEL_CODED,
    LABEL_REQUIRED,
    LEVEL_ATTR,
    QUESTION_ATTR,
    SCALE_ATTR,
    coded_column,
    coded_order,
)
from contracts.vocab import (
    ANNOTATOR_KINDS,
    BOTHBAD_RULES,
    LEVELS,
    ORDER_RULES,
    PAIRWISE_NUMBERS,
    PAIRWISE_VALUES,
    PRESENTED_ORDERS,
    TIE_VALUES,
    round_half_up,
)

TIES = tuple(sorted(TIE_VALUES))
COLLAPSED = "judgelab_collapsed_pairwise"  # DataFrame.attrs key set by collapse()
ORDERS = "judgelab_orders"  # DataFrame.attrs key: the orders rule collapse() applied


def lookup(values: pd.Series | np.ndarray, mapping: Mapping[Any, Any]) -> np.ndarray:
    """``values`` mapped through ``mapping`` as float (NaN where a value is absent): ``Series.map``
    with a dict, vectorised. On the Arrow-backed strings of pandas 3, ``map`` converts every row
    through Python (a third of the whole report's time at 100,000 items); this maps each distinct
    value once."""
    codes, uniques = pd.factorize(values)
    table = np.array([mapping.get(u, np.nan) for u in uniques] + [np.nan], dtype=float)
    return table[codes]  # code -1 (a missing value) takes the last entry, NaN


def coded(frame: pd.DataFrame, columns: Sequence[str] = LABEL_CODED) -> pd.DataFrame:
    """``frame`` with its few-valued text ``columns`` (those it has) as ordered categoricals whose
    categories are the sorted values: the same texts, comparing and sorting as text, but filtered,
    taken, merged and grouped as integer codes. On pandas 3's Arrow-backed strings every filter and
    merge copied the strings (a third of a report's time at 100,000 items). Columns already coded so
    are kept; declared marks (``keep_marks``) carry over."""
    changed = {c: coded_column(frame[c]) for c in columns if c in frame.columns and not _is_coded(frame[c])}
    if not changed:
        return frame
    return keep_marks(frame, frame.assign(**changed))


def _is_coded(column: pd.Series) -> bool:
    dtype = column.dtype
    if not isinstance(dtype, pd.CategoricalDtype) or not dtype.ordered:
        return False
    categories = list(dtype.categories)
    return categories == sorted(categories, key=coded_order)


def check_labels(labels: pd.DataFrame) -> None:
    missing = [c for c in LABEL_REQUIRED if c not in labels.columns]
    if missing:
        raise ArgumentError(
            f"the labels frame lacks columns {missing}", fix=f"give it the columns {list(LABEL_REQUIRED)}"
        )


def is_pairwise(labels: pd.DataFrame) -> bool:
    """A frame of pairwise verdicts: its declared level (``contracts.columns.LEVEL_ATTR``, set by the
    reader of one question's labels), else values that are all pairwise verdicts."""
    if LEVEL_ATTR in labels.attrs:
        return bool(labels.attrs[LEVEL_ATTR] == "pairwise")
    values = labels.loc[labels["status"] == "submitted", "value"].dropna().unique()
    return len(values) > 0 and set(values) <= set(PAIRWISE_VALUES)


def level_of(labels: pd.DataFrame) -> str:
    """The level of measurement of a frame's values (``contracts.vocab.LEVELS``): declared by the reader
    (``LEVEL_ATTR``), else ``pairwise`` for pairwise verdicts and ``ordinal`` for scores."""
    declared = labels.attrs.get(LEVEL_ATTR)
    if declared in LEVELS:
        return str(declared)
    return "pairwise" if is_pairwise(labels) else "ordinal"


def keep_marks(source: pd.DataFrame, target: pd.DataFrame) -> pd.DataFrame:
    """Carry a frame's declared question, level and scale (``contracts.columns``) over to a derived frame."""
    for key in (LEVEL_ATTR, SCALE_ATTR, QUESTION_ATTR):
        if key in source.attrs:
            target.attrs[key] = source.attrs[key]
    return target


def submitted(labels: pd.DataFrame) -> pd.DataFrame:
    check_labels(labels)
    return labels[labels["status"] == "submitted"]


def select_raters(labels: pd.DataFrame, selector: str | Sequence[str]) -> list[str]:
    """Annotator names matching a selector: ``name:GLOB``, ``kind:human``, ``kind:llm_judge``, a plain
    name, or a list of those. Raises when nothing matches."""
    selectors = [selector] if isinstance(selector, str) else list(selector)
    codes, raters = pd.factorize(labels["annotator"])
    # each rater's first row (its kind): factorize numbers raters in order of first appearance, so the
    # running maximum of the codes rises exactly there (a missing name, -1, never raises it)
    first = np.flatnonzero(np.diff(np.maximum.accumulate(codes), prepend=-1) > 0)
    # the kind of those few rows only (a whole text column to numpy costs as much as the factorizing)
    kinds = dict(zip(np.asarray(raters, dtype=object), labels["kind"].iloc[first].to_numpy(dtype=object), strict=True))
    names = sorted(kinds)
    chosen: list[str] = []
    for sel in selectors:
        if sel.startswith("kind:"):
            kind = sel.removeprefix("kind:")
            if kind not in ANNOTATOR_KINDS:
                raise ArgumentError(
                    f"selector {sel!r}: unknown kind", fix=f"use one of {[f'kind:{k}' for k in ANNOTATOR_KINDS]}"
                )
            found = [n for n in names if kinds[n] == kind]
        else:
            pattern = sel.removeprefix("name:")
            found = [n for n in names if fnmatch.fnmatchcase(n, pattern)]
        if not found:
            raise MetricUndefinedError(
                f"selector {sel!r} matches no annotator with labels; annotators are {names[:20]}",
                fix="use name:GLOB, a plain name, kind:human or kind:llm_judge",
            )
        chosen.extend(n for n in found if n not in chosen)
    return chosen


def votes(labels: pd.DataFrame, *, ties: bool = True, orders: str = "combined", bothbad: str = "tie") -> pd.DataFrame:
    """One vote per (item, annotator): ``item_id, annotator, kind, vote`` (+ ``vote_num``).

    ``orders`` (``contracts.vocab.ORDER_RULES``) says how a rater labeled in both presented orders
    counts: ``combined`` (one vote per item, below; MT-Bench's rule), ``each`` (each order its own
    vote: a judge run in both orders then has two votes per item, LLMBar's rule), ``first`` (only
    the ``ab`` label of a rater who has both).

    A rater with several labels on one item (both presented orders, or replicates) gets one vote: the
    common value when they agree; for pairwise labels that disagree, ``tie`` (an inconsistent verdict,
    as MT-Bench counts it), unless every label carries probabilities: then the most likely option of
    their mean (likelihood-aware aggregation of the two orders); for scores, the median (``vote_num``)
    and, on a scale of whole numbers, the median rounded half up as the category (``vote``).
    ``bothbad="tie"`` counts ``bothbad`` as ``tie`` (one tie class); ``"distinct"`` keeps it a
    category of its own. ``ties=False`` drops tie (and both-bad) votes.
    """
    if orders not in ORDER_RULES:
        raise bad_argument("orders", orders, list(ORDER_RULES))
    if bothbad not in BOTHBAD_RULES:
        raise bad_argument("bothbad", bothbad, list(BOTHBAD_RULES))
    if orders == "each" and COLLAPSED not in labels.attrs:
        parts = [_votes(labels[labels["presented_order"] == o], ties=ties, bothbad=bothbad) for o in PRESENTED_ORDERS]
        return pd.concat([p for p in parts if not p.empty] or parts[:1], ignore_index=True)
    if orders == "first" and COLLAPSED not in labels.attrs:
        labels = _first_order(labels)
    return _votes(labels, ties=ties, bothbad=bothbad)


def _first_order(labels: pd.DataFrame) -> pd.DataFrame:
    """Drop the ``ba`` labels of every (item, rater) that also has an ``ab`` label."""
    has_ab = labels.loc[labels["presented_order"] == "ab", ["item_id", "annotator"]].drop_duplicates()
    key = pd.MultiIndex.from_frame(labels[["item_id", "annotator"]])
    shadowed = key.isin(pd.MultiIndex.from_frame(has_ab)) & (labels["presented_order"] == "ba").to_numpy()
    return labels[~shadowed]


def _votes(labels: pd.DataFrame, *, ties: bool, bothbad: str = "tie") -> pd.DataFrame:
    tie_like = TIES if bothbad == "tie" else ("tie",)
    no_tie = list(TIES)  # ties=False drops both kinds
    if COLLAPSED in labels.attrs:
        # made by collapse(): already one vote per (item, rater)
        v = labels[["item_id", "annotator", "kind", "value", "value_num"]].rename(
            columns={"value": "vote", "value_num": "vote_num"}
        )
        return v[~v["vote"].isin(no_tie)].reset_index(drop=True) if (not ties and labels.attrs[COLLAPSED]) else v
    sub = submitted(labels)
    if sub.empty:
        return pd.DataFrame(columns=["item_id", "annotator", "kind", "vote", "vote_num"])
    pairwise = is_pairwise(sub)
    several = _repeated(sub)  # the labels whose (item, rater) has others
    if not several.any():
        # already one label per (item, rater): no collapsing needed
        vote: Any
        if _is_coded(sub["value"]):  # coded values stay coded, recoded on their few categories
            vote, num = _coded_votes(sub, tie_like if pairwise else None)
        else:
            vote = sub["value"].to_numpy(dtype=object)
            num = sub["value_num"].to_numpy(dtype=float)
            if pairwise:
                is_tie = np.isin(vote, tie_like)
                vote = np.where(is_tie, "tie", vote).astype(object)
                num = np.where(np.isin(vote, no_tie), 0.5, np.where(vote == "A", 1.0, 0.0))
        fast = pd.DataFrame(
            {
                "item_id": sub["item_id"].to_numpy(),
                "annotator": sub["annotator"].array,  # as held (coded: the codes, not the texts)
                "kind": sub["kind"].array,
                "vote": vote,
                "vote_num": num,
            }
        )
        if pairwise and not ties:
            fast = fast[~np.isin(fast["vote"].to_numpy(), no_tie)]
        return fast.reset_index(drop=True)
    # the (item, rater)s with several labels are grouped; the rest are their own group of one (a judge
    # run in both orders on some items left every label of the task to the grouping and the
    # probabilities' per-row parse: 0.7 s at 500,000 labels)
    if pairwise and _is_coded(sub["value"]) and isinstance(sub["annotator"].dtype, pd.CategoricalDtype):
        return _pairwise_votes_coded(sub, several, tie_like, ties)
    first = _groups(sub, several)
    if pairwise:
        vote = np.where(first["nunique"] > 1, "tie", first["value"].to_numpy())
        vote = np.where(np.isin(vote, tie_like), "tie", vote)
        combined = _combined_probabilities(sub[several])  # used only where a rater has several labels
        if combined is not None:
            # likelihood-aware aggregation: a rater whose every label carries probabilities (a logprob
            # judge, both orders) votes the most likely option of the averaged distribution
            key = pd.MultiIndex.from_frame(first[["item_id", "annotator"]])
            best = combined.reindex(key)["best"].to_numpy()
            vote = np.where(pd.notna(best) & (first["n"].to_numpy() > 1), best, vote)
        num = lookup(vote, PAIRWISE_NUMBERS)  # Series.map went through Python for every row
    elif level_of(labels) == "nominal":
        # categories without order: the rater's most frequent label; a shared top count is no vote
        # (dropped below), never a category in between
        top = _plurality_per_rater(sub, first)
        vote = np.where(first["nunique"] > 1, top, first["value"].to_numpy())
        num = pd.to_numeric(pd.Series(_codes(sub, vote)), errors="coerce").to_numpy(dtype=float)
    else:
        # scores: vote_num is the median of the rater's labels (interval-level statistics read it);
        # the vote, a category, is a point of the scale: on a scale of whole numbers the median
        # rounded half up (6 and 7 -> 7, never a category "6.5"); an ordered choice's median
        # position rounded half up is its option
        num = first["median"].to_numpy(dtype=float)
        whole = bool(np.all(np.mod(sub["value_num"].dropna().to_numpy(dtype=float), 1) == 0))
        scale: list[str] = list(labels.attrs.get(SCALE_ATTR) or [])
        if scale and not all(str(p).lstrip("-").isdigit() for p in scale):
            num = np.asarray([round_half_up(x) for x in num], dtype=float)
            category = np.array([scale[int(x)] for x in num], dtype=object)
        else:
            category = pd.Series(num).map(lambda x: _fmt_num(round_half_up(x) if whole else x)).to_numpy()
        vote = np.where(first["nunique"] > 1, category, first["value"].to_numpy())
    out = pd.DataFrame(
        {
            "item_id": first["item_id"],
            "annotator": first["annotator"],
            "kind": first["kind"],
            # coded values stay coded (a text column of every vote cost as much as the grouping)
            "vote": coded_column(vote) if _is_coded(sub["value"]) else vote,
            "vote_num": num,
        }
    )
    if pairwise and not ties:
        out = out[~out["vote"].isin(no_tie)]
    return out[out["vote"].notna().to_numpy()].reset_index(drop=True)


def _pairwise_votes_coded(sub: pd.DataFrame, several: np.ndarray, tie_like: Sequence[str], ties: bool) -> pd.DataFrame:
    """:func:`_votes` of coded pairwise labels of which some (item, rater)s (``several``) have several:
    those are grouped and voted as :func:`_votes` votes them; every other label is its own vote, read
    from its code (the few categories mapped, not every row), and the two merged in (item, rater)
    order. The same frame as grouping every label (tests/analysis/test_coded_votes.py): at 500,000
    labels with a few repeated, 0.1 s instead of 0.38 s."""
    grouped = _grouped(sub[several])
    # the grouped (item, rater)s: as _votes votes them
    gvote = np.where(grouped["nunique"] > 1, "tie", grouped["value"].to_numpy())
    gvote = np.where(np.isin(gvote, tie_like), "tie", gvote)
    combined = _combined_probabilities(sub[several])
    if combined is not None:
        key = pd.MultiIndex.from_frame(grouped[["item_id", "annotator"]])
        best = combined.reindex(key)["best"].to_numpy()
        gvote = np.where(pd.notna(best) & (grouped["n"].to_numpy() > 1), best, gvote)
    gnum = lookup(gvote, PAIRWISE_NUMBERS)
    # the others: one label each, its vote its value (a tie-like value a tie)
    alone = np.flatnonzero(~several)
    value = sub["value"].array
    names = ["tie" if str(c) in tie_like else str(c) for c in value.categories]
    codes = np.asarray(value.codes, dtype=np.int64)[alone]
    numbers = np.append(lookup(np.asarray(names, dtype=object), PAIRWISE_NUMBERS), np.nan)
    # the votes' categories: the values in use, in coded order (coded_column of the votes' texts)
    used = {names[c] for c in np.unique(codes[codes >= 0])} | {v for v in gvote if isinstance(v, str)}
    kept = sorted(used, key=coded_order)
    rank = {n: i for i, n in enumerate(kept)}
    recode = np.array([rank.get(n, -1) for n in names] + [-1], dtype=np.int64)
    vote_codes = np.concatenate([recode[codes], np.array([rank.get(v, -1) for v in gvote], dtype=np.int64)])
    rater = sub["annotator"].array
    raters = np.concatenate(
        [np.asarray(rater.codes, dtype=np.int64)[alone], np.asarray(grouped["annotator"].array.codes, dtype=np.int64)]
    )
    items = np.concatenate([sub["item_id"].to_numpy()[alone], grouped["item_id"].to_numpy()])
    # the rows in (item, rater) order; the (item, rater)s are distinct, so the order is theirs alone
    order = np.lexsort((raters, items))
    kinds = sub["kind"].array
    kind_codes = (
        np.concatenate(
            [
                np.asarray(kinds.codes, dtype=np.int64)[alone],
                kinds.categories.get_indexer(pd.Index(grouped["kind"].to_numpy())),
            ]
        )
        if isinstance(kinds, pd.Categorical)
        else None
    )
    out = pd.DataFrame(
        {
            "item_id": items[order],
            "annotator": pd.Categorical.from_codes(raters[order], dtype=rater.dtype),
            "kind": pd.Categorical.from_codes(kind_codes[order], dtype=kinds.dtype)
            if kind_codes is not None
            else np.concatenate([np.asarray(kinds, dtype=object)[alone], grouped["kind"].to_numpy(dtype=object)])[
                order
            ],
            "vote": pd.Categorical.from_codes(vote_codes[order], categories=pd.Index(kept), ordered=True),
            "vote_num": np.concatenate([numbers[codes], gnum])[order],
        }
    )
    if not ties:
        out = out[~out["vote"].isin(list(TIES))]
    return out[out["vote"].notna().to_numpy()].reset_index(drop=True)


def _repeated(sub: pd.DataFrame) -> np.ndarray:
    """Whether each label's (item, rater) has another label (``duplicated(keep=False)``), found by
    sorting one integer key per label where the raters are coded (a third of the time)."""
    rater = sub["annotator"].array
    items = sub["item_id"].to_numpy()
    if isinstance(rater, pd.Categorical) and items.dtype.kind in "iu" and len(items):
        width = len(rater.categories) + 1
        if items.min() >= 0 and items.max() < np.iinfo(np.int64).max // width - 1:
            key = items.astype(np.int64) * width + (np.asarray(rater.codes, dtype=np.int64) + 1)
            order = np.argsort(key, kind="stable")
            same = key[order][1:] == key[order][:-1]
            marked = np.zeros(len(key), dtype=bool)
            marked[1:] |= same
            marked[:-1] |= same
            several = np.empty(len(key), dtype=bool)
            several[order] = marked
            return several
    return sub.duplicated(["item_id", "annotator"], keep=False).to_numpy()


def _grouped(rows: pd.DataFrame) -> pd.DataFrame:
    """Per (item, rater) of ``rows``, sorted: ``kind``, ``n`` labels, ``nunique`` values, the first
    ``value`` and the ``median`` number."""
    return (
        rows.groupby(["item_id", "annotator"], sort=True)
        .agg(
            kind=("kind", "first"),
            n=("value", "size"),
            nunique=("value", "nunique"),
            value=("value", "first"),
            median=("value_num", "median"),
        )
        .reset_index()
    )


def _groups(sub: pd.DataFrame, several: np.ndarray) -> pd.DataFrame:
    """Per (item, rater), in their order: ``kind``, ``n`` labels, ``nunique`` values, the first
    ``value`` and the ``median`` number; the rows of ``sub`` not marked ``several`` (the only label of
    their item and rater) taken as they are, the others grouped."""
    grouped = _grouped(sub[several])
    alone = sub[~several]
    single = pd.DataFrame(
        {
            "item_id": alone["item_id"].to_numpy(),
            "annotator": alone["annotator"].array,
            "kind": alone["kind"].array,
            "n": np.ones(len(alone), dtype=np.int64),
            "nunique": alone["value"].notna().to_numpy(dtype=np.int64),
            "value": alone["value"].array,
            "median": alone["value_num"].to_numpy(dtype=float),
        }
    )
    if grouped.empty:
        both = single
    elif single.empty:
        both = grouped
    else:
        both = pd.concat([grouped.astype(single.dtypes.to_dict()), single], ignore_index=True)
    return both.sort_values(["item_id", "annotator"], kind="stable").reset_index(drop=True)


def _coded_votes(sub: pd.DataFrame, tie_like: Sequence[str] | None) -> tuple[Any, np.ndarray]:
    """One label per (item, rater), its value coded: the votes as :func:`_votes` makes them from the
    texts, computed on the few categories instead of every row. ``tie_like`` (pairwise verdicts): the
    values that count as ``tie``, and the numbers are the verdicts' (a missing value 0.0, as there);
    None: the values and numbers as they are. The categories are those left in use, in coded order
    (``contracts.columns.coded_column`` of the votes' texts)."""
    value = sub["value"]
    names = [str(c) for c in value.cat.categories]
    if tie_like is not None:
        names = ["tie" if c in tie_like else c for c in names]
    codes = value.cat.codes.to_numpy(dtype=np.int64)
    used = np.bincount(codes[codes >= 0], minlength=len(names)) > 0
    kept = sorted({n for n, u in zip(names, used, strict=True) if u}, key=coded_order)
    rank = {n: i for i, n in enumerate(kept)}
    recode = np.array([rank.get(n, -1) for n in names] + [-1], dtype=np.int64)  # the last: missing stays missing
    vote = pd.Categorical.from_codes(recode[codes], categories=pd.Index(kept), ordered=True)
    if tie_like is None:
        return vote, sub["value_num"].to_numpy(dtype=float)
    numbers = np.array([0.5 if n in TIES else 1.0 if n == "A" else 0.0 for n in names] + [0.0])
    return vote, numbers[codes]


def _plurality_per_rater(sub: pd.DataFrame, first: pd.DataFrame) -> np.ndarray:
    """Per (item, rater) of ``first``: the strict plurality of the rater's values, None when shared:
    :func:`majority` (the one plurality rule) over each (item, rater)'s labels, each label a voter."""
    group = pd.MultiIndex.from_frame(first[["item_id", "annotator"]]).get_indexer(
        pd.MultiIndex.from_frame(sub[["item_id", "annotator"]])
    )
    pool = pd.DataFrame({"item_id": group, "annotator": np.arange(len(sub)), "vote": sub["value"].to_numpy()})
    top = majority(pool, list(pool["annotator"]))
    return np.array([top.get(i) for i in range(len(first))], dtype=object)


def _codes(sub: pd.DataFrame, vote: np.ndarray) -> list[float | None]:
    """The stored number of each vote's value (a nominal option's position)."""
    number = dict(zip(sub["value"], sub["value_num"], strict=False))
    return [number.get(v) if v is not None else None for v in vote]


def _combined_probabilities(sub: pd.DataFrame) -> pd.DataFrame | None:
    """Per (item, rater) whose every label has pairwise probabilities: the mean P(A), P(B), P(tie)
    and the most likely option (``best``). None when no label has probabilities."""
    if "probabilities" not in sub.columns:
        return None
    probs = sub["probabilities"]
    has = probs.map(lambda p: isinstance(p, dict) and ("A" in p or "B" in p)).to_numpy(dtype=bool)
    if not has.any():
        return None
    rows = sub[has]
    table = pd.DataFrame(
        {
            "item_id": rows["item_id"].to_numpy(),
            "annotator": rows["annotator"].to_numpy(),
            "A": [float(p.get("A", 0.0)) for p in rows["probabilities"]],
            "B": [float(p.get("B", 0.0)) for p in rows["probabilities"]],
            "tie": [float(p.get("tie", 0.0)) + float(p.get("bothbad", 0.0)) for p in rows["probabilities"]],
        }
    )
    mean = table.groupby(["item_id", "annotator"])[["A", "B", "tie"]].mean()
    with_probs = table.groupby(["item_id", "annotator"]).size()
    total = sub.groupby(["item_id", "annotator"]).size().reindex(with_probs.index)
    mean["best"] = mean[["A", "B", "tie"]].idxmax(axis=1)
    return mean[(with_probs == total).to_numpy()]


def collapse(labels: pd.DataFrame, *, orders: str = "combined", bothbad: str = "tie") -> pd.DataFrame:
    """A labels frame with one submitted row per (item, rater) (per order with ``orders="each"``),
    holding that rater's vote (see :func:`votes`), so that repeated metric calls skip the collapsing
    step."""
    v = votes(labels, ties=True, orders=orders, bothbad=bothbad)
    out = pd.DataFrame(
        {
            "item_id": v["item_id"],
            "annotator": v["annotator"],
            "kind": v["kind"],
            "status": _constant("submitted", len(v)),
            "value": v["vote"],
            "value_num": v["vote_num"],
            "presented_order": _constant("ab", len(v)),
        }
    )
    out = coded(out)  # the votes when they were not coded (coded columns are kept as they are)
    out.attrs[COLLAPSED] = is_pairwise(labels)  # votes() reads it back without recomputing
    out.attrs[ORDERS] = orders
    return keep_marks(labels, out)


def _constant(value: str, n: int) -> Any:
    """``n`` times ``value`` as a coded column (what ``coded_column`` gives, without reading n texts)."""
    return pd.Categorical.from_codes(
        np.zeros(n, dtype=np.int8), categories=pd.Index([value] if n else []), ordered=True
    )


def orders_rule(labels: pd.DataFrame, asked: str) -> str:
    """The orders rule that counted in ``labels``: the one :func:`collapse` applied, else ``asked``."""
    return str(labels.attrs.get(ORDERS, asked)) if COLLAPSED in labels.attrs else asked


def _fmt_num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else str(x)


def majority(
    votes_frame: pd.DataFrame, raters: Sequence[str], *, exclude: str | None = None, min_votes: int = 1
) -> pd.Series:
    """Per item, the strict plurality vote of ``raters`` (minus ``exclude``); items whose top count is
    shared, or with fewer than ``min_votes`` votes, have no majority and are left out. Counted as
    integers: each item a row, each distinct vote a column of one count table."""
    pool = votes_frame[votes_frame["annotator"].isin([r for r in raters if r != exclude]).to_numpy()]
    if pool.empty:
        return pd.Series(dtype=object, name="vote")
    item, item_ids = pd.factorize(pool["item_id"], sort=True)
    n = len(item_ids)
    enough = np.bincount(item, minlength=n) >= min_votes
    if not enough.any():
        return pd.Series(dtype=object, name="vote")
    vote, options = pd.factorize(pool["vote"])  # a missing vote (-1) counts toward min_votes only
    k = max(len(options), 1)
    counted = vote >= 0
    cell = item[counted] * k + vote[counted]
    table = np.bincount(cell, minlength=n * k).reshape(n, k)
    top = table.argmax(axis=1)
    top_n = table.max(axis=1)
    runner_up = np.partition(table, -2, axis=1)[:, -2] if k > 1 else np.zeros(n, dtype=table.dtype)
    clear = (top_n > runner_up) & enough
    if not isinstance(options.dtype, pd.CategoricalDtype):  # coded votes stay coded; others are inferred
        options = pd.Index(np.asarray(options, dtype=object))  # (object texts become text), as grouping did
    return pd.Series(options.take(top[clear]), index=pd.Index(item_ids[clear], name="item_id"), name="vote")


def vote_numbers(votes_frame: pd.DataFrame) -> dict[object, float]:
    """Each vote's number (``vote_num``), as its first row holds it."""
    first = votes_frame.drop_duplicates("vote")
    return dict(zip(first["vote"], first["vote_num"], strict=True))


def wide(votes_frame: pd.DataFrame) -> pd.DataFrame:
    """items x annotators table of votes (NaN where a rater did not vote)."""
    return votes_frame.pivot(index="item_id", columns="annotator", values="vote")
