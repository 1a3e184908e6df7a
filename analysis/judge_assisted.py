"""``judgelab estimate`` and ``judgelab plan`` on a task's frames: the target's human and judge values
per item (:func:`values`), which human labels may stand for a random sample (:func:`usable_humans`),
and the three estimates side by side (:func:`estimate`) or the human labels a width needs
(:func:`plan_for`). The arithmetic is :mod:`analysis.estimates`.

Targets (the estimand is always what the *humans* would say, over the items the judge labeled):
``win-rate:MODEL``
    pairwise items where MODEL is one side; an item's human value is 1 when the humans' per-item
    majority prefers MODEL, 0 when it prefers the other, 1/2 for a tie (a both-bad verdict counts as
    a tie, and so do humans split evenly); the judge's value is its verdict read the same way (its
    two orders combined into one vote, MT-Bench's rule).
``pass-rate`` (with a threshold)
    single-answer scores: 1 when the humans' mean score of the item is at or above the threshold.
``mean-score``
    single-answer scores: the humans' mean score of the item.

Which human labels count: PPI is valid when the human-labeled items are a random sample of the items.
A label's ``metadata.selection`` says how its item was chosen: ``queue`` (served by the annotator
page, whose order is random and independent of the item), ``random`` (declared by an import),
anything else or nothing (``unrecorded``: an imported file, whose sampling judgelab cannot know).
Only ``queue`` and ``random`` labels are used unless ``assume_random``; where labels state
``metadata.inclusion_probability`` (items drawn with known, unequal chances), the estimates weigh each
labeled item by 1/p (:func:`analysis.estimates.ppi_weighted`). Skipped items are not random misses:
the skip rate is reported with a warning.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from analysis import estimates
from analysis.errors import ArgumentError, MetricUndefinedError
from analysis.frames import majority, select_raters, votes
from contracts.vocab import RANDOM_SELECTIONS

TARGETS = ("win-rate:MODEL", "pass-rate", "mean-score")
COUNTING = {
    "win-rate": "per item: the humans' majority verdict (ties, both-bad and even splits count 1/2) for MODEL's side; "
    "the judge's verdict with its two orders combined",
    "pass-rate": "per item: 1 when the humans' mean score is at or above the threshold; the judge's score likewise",
    "mean-score": "per item: the humans' mean score; the judge's score (its replicates' median)",
}
BIASED = "the judge's labels alone: carries the judge's error, a bias of unknown size; no interval is claimed"


def parse_target(target: str, threshold: float | None) -> tuple[str, str | None]:
    kind, _, model = target.partition(":")
    if kind == "win-rate" and model:
        return kind, model
    if kind in ("pass-rate", "mean-score") and not model:
        if kind == "pass-rate" and threshold is None:
            raise ArgumentError("pass-rate needs --threshold", fix="give the score that passes, e.g. --threshold 4")
        return kind, None
    raise ArgumentError(f"unknown target {target!r}", fix=f"use one of {list(TARGETS)}")


def usable_humans(
    labels: pd.DataFrame, humans: Sequence[str], *, assume_random: bool
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """The human labels the estimate may use, and what was used and left out, with reasons."""
    mine = labels[labels["annotator"].isin(list(humans))]
    chosen = np.full(len(mine), "unrecorded", dtype=object)
    if "metadata" in mine.columns:
        meta = mine["metadata"]
        present = meta.notna().to_numpy()  # most labels carry no metadata: only the others are read
        chosen[present] = [
            str(m.get("selection")) if isinstance(m, dict) and m.get("selection") else "unrecorded"
            for m in meta.to_numpy(dtype=object)[present]
        ]
    selection = pd.Series(chosen, index=mine.index)
    counts = selection.value_counts().to_dict()
    ok = selection.isin(RANDOM_SELECTIONS).to_numpy() | (assume_random & selection.eq("unrecorded").to_numpy())
    used, left = mine[ok], mine[~ok]
    served = used["item_id"].nunique()
    skipped = used.loc[used["status"] == "skipped", "item_id"].nunique()
    skip_rate = skipped / served if served else 0.0
    info: dict[str, Any] = {
        "by_selection": {str(k): int(v) for k, v in counts.items()},
        "used": len(used),
        "left_out": len(left),
        "rule": (
            "labels whose item was served by the annotator page's random queue, or imported as a random sample"
            + ("; labels of unrecorded selection assumed random (--assume-random)" if assume_random else "")
        ),
        "skip_rate": round(skip_rate, 4),
    }
    warnings = []
    if len(left):
        warnings.append(
            f"{len(left)} human labels left out: their items were not chosen at random as far as judgelab knows "
            "(pass --assume-random if the file's items were a random sample)"
        )
    if skip_rate > 0.02:
        warnings.append(
            f"humans skipped {skip_rate:.1%} of the items served to them; a skipped item is not a random miss, so "
            "the estimate holds for the items humans would answer"
        )
    info["warnings"] = warnings
    return used, info


def _probabilities(used: pd.DataFrame) -> pd.Series:
    """Per item, the stated probability that humans were given it (``metadata.inclusion_probability``)."""
    if "metadata" not in used.columns or used.empty:
        return pd.Series(dtype=float)
    prob = pd.to_numeric(
        used["metadata"].map(lambda m: m.get("inclusion_probability") if isinstance(m, dict) else None),
        errors="coerce",
    )
    keep = (prob > 0) & (prob <= 1)
    return prob[keep].groupby(used.loc[keep, "item_id"]).mean()


def values(
    labels: pd.DataFrame,
    items: pd.DataFrame,
    humans_used: pd.DataFrame,
    judge: str,
    kind: str,
    model: str | None,
    threshold: float | None,
) -> pd.DataFrame:
    """Per item of the target: ``y`` (the human value, NaN where no usable human label) and ``f``
    (the judge's value, NaN where the judge has none), indexed by item id."""
    judge_votes = votes(labels[labels["annotator"] == judge])
    human_votes = votes(humans_used)
    if kind == "win-rate":
        assert model is not None
        return for_model(items, *a_side(human_votes, judge_votes), model)
    index = pd.Index(items["item_id"])
    y = human_votes.groupby("item_id")["vote_num"].mean().astype(float).reindex(index)
    f = judge_votes.groupby("item_id")["vote_num"].mean().astype(float).reindex(index)
    if kind == "pass-rate":
        assert threshold is not None
        y, f = (y >= threshold).astype(float).where(y.notna()), (f >= threshold).astype(float).where(f.notna())
    return pd.DataFrame({"y": y, "f": f})


def a_side(human_votes: pd.DataFrame, judge_votes: pd.DataFrame) -> tuple[pd.Series, pd.Series]:
    """Per pairwise item, from side A's view (1: A preferred, 0: B, 1/2: a tie): the humans'
    majority (no clear majority: a tie) and the judge's verdict."""
    maj = majority(human_votes, sorted(set(human_votes["annotator"])))
    voted = human_votes["item_id"].unique()
    as_a = pd.Series(0.5, index=pd.Index(voted)).astype(float)
    as_a.loc[maj.index] = maj.map({"A": 1.0, "B": 0.0}).fillna(0.5).to_numpy()
    return as_a, judge_votes.set_index("item_id")["vote_num"].astype(float)


def for_model(items: pd.DataFrame, y_a: pd.Series, f_a: pd.Series, model: str) -> pd.DataFrame:
    """The win-rate values of ``model`` on the items where it is one side (read from its side)."""
    if not {"model_a", "model_b"} <= set(items.columns):
        raise MetricUndefinedError("win-rate needs pairwise items with model_a and model_b")
    side = items.set_index("item_id")
    on_a = side.index[(side["model_a"] == model).to_numpy()]
    on_b = side.index[(side["model_b"] == model).to_numpy()]
    if len(on_a) + len(on_b) == 0:
        models = sorted(set(side["model_a"].dropna()) | set(side["model_b"].dropna()))
        raise ArgumentError(f"no item compares model {model!r}", fix=f"use one of {models[:20]}")
    index = on_a.append(on_b)
    flip = pd.Series(np.r_[np.zeros(len(on_a)), np.ones(len(on_b))], index=index)
    y, f = y_a.reindex(index), f_a.reindex(index)
    return pd.DataFrame({"y": y.where(flip == 0, 1 - y), "f": f.where(flip == 0, 1 - f)})


def win_rates(
    labels: pd.DataFrame, items: pd.DataFrame, humans: Sequence[str], judges: Sequence[str], *, top: int = 12
) -> dict[str, Any]:
    """The report's table: for each judge and each of the ``top`` most compared models, the three
    estimates of the model's win rate (human labels known to be a random sample only)."""
    used, selection = usable_humans(labels, humans, assume_random=False)
    if used.empty:
        raise MetricUndefinedError(
            f"no human label is known to come from a random sample of the items ({selection['left_out']} "
            "imported without a record of how their items were chosen)",
            fix="judgelab estimate --assume-random, when the imported items were a random sample",
        )
    counts = pd.concat([items["model_a"], items["model_b"]]).value_counts()
    models = [str(m) for m in counts.index[:top]]
    human_votes = votes(used)
    probability = _probabilities(used)
    rows = []
    for judge in judges:
        y_a, f_a = a_side(human_votes, votes(labels[labels["annotator"] == judge]))
        for model in models:
            data = for_model(items, y_a, f_a, model)
            rows.append(
                {
                    "judge": judge,
                    "target": f"win-rate:{model}",
                    **_three(data, probability),
                    "plan": _plan_row(data, PLAN_WIDTH),
                }
            )
    return {
        "counting": COUNTING["win-rate"],
        "used_human_labels": selection["used"],
        "left_out_human_labels": selection["left_out"],
        "selection_rule": selection["rule"],
        "skip_rate": selection["skip_rate"],
        "warnings": selection["warnings"],
        "rows": rows,
    }


def _keep_humans(data: pd.DataFrame, keep: int | None, seed: int) -> pd.DataFrame:
    """Hide the human values of all but ``keep`` random human-labeled items (a check of the method
    against the humans' own answer on the hidden ones)."""
    if keep is None:
        return data
    labeled = data.index[data["y"].notna().to_numpy()]
    if keep >= len(labeled):
        return data
    rng = np.random.default_rng(seed)
    hidden = labeled[rng.permutation(len(labeled))[keep:]]
    out = data.copy()
    out.loc[hidden, "y"] = np.nan
    return out


PLAN_WIDTH = 0.1  # the report's budget: human labels for a 95% interval 0.1 wide (+-0.05)


def _plan_row(data: pd.DataFrame, width: float) -> dict[str, Any]:
    """The human-labeled items a 95% interval of ``width`` needs, from the relation measured so far."""
    judged = data[data["f"].notna()]
    labeled = judged[judged["y"].notna()]
    if len(labeled) < 2:
        return {"width": width, "human_only": None, "ppi": None, "n_human_now": len(labeled)}
    relation = estimates.Relation.measured(labeled["y"], labeled["f"], judged["f"])
    need = estimates.plan(relation, len(judged), width)
    return {"width": width, **need, "n_human_now": len(labeled)}


def _three(data: pd.DataFrame, probability: pd.Series) -> dict[str, Any]:
    judged = data[data["f"].notna()]
    labeled = judged[judged["y"].notna()]
    unlabeled = judged[judged["y"].isna()]
    stated = probability.reindex(labeled.index)
    if stated.notna().any():  # unequal, known chances: the inverse-probability-weighted forms
        xi = judged["y"].notna().to_numpy()
        share = len(labeled) / len(judged)  # a labeled item without a stated chance: the average one
        pi = probability.reindex(judged.index).fillna(share).to_numpy()
        y, f = judged["y"].fillna(0.0).to_numpy(), judged["f"].to_numpy()
        human, _ = estimates.ppi_weighted(y, np.zeros(len(judged)), xi, pi)
        assisted, lam = estimates.ppi_weighted(y, f, xi, pi)
        method, human_method = "PPI++ weighted by 1/inclusion probability (active inference)", "Horvitz-Thompson"
    else:
        human = estimates.human_only(labeled["y"].to_numpy())
        assisted, lam = estimates.ppi(labeled["y"].to_numpy(), labeled["f"].to_numpy(), unlabeled["f"].to_numpy())
        method, human_method = "PPI++ (power-tuned), normal", "normal (CLT)"
    eff = estimates.effective_n(len(labeled), human, assisted)
    out: dict[str, Any] = {
        "human_only": {
            "estimate": human.estimate,
            "ci95": [human.low, human.high],
            "n": human.n,
            "ci_method": human_method,
            "ci_flag": human.flag,
        },
        "judge_only": {
            "estimate": float(judged["f"].mean()) if len(judged) else None,
            "n": len(judged),
            "biased": True,
            "note": BIASED,
        },
        "ppi": {
            "estimate": assisted.estimate,
            "ci95": [assisted.low, assisted.high],
            "n_human": len(labeled),
            "n_judge": len(unlabeled),
            "lambda": lam,
            "ci_method": method,
            "ci_flag": assisted.flag,
        },
        "effective_n_human": eff,
        "width_ratio": assisted.width / human.width if human.width > 0 else None,
        "n_items_without_judge": int(data["f"].isna().sum()),
    }
    return out


def _target_data(
    labels: pd.DataFrame,
    items: pd.DataFrame,
    target: str,
    judge: str,
    humans: str | Sequence[str],
    threshold: float | None,
    assume_random: bool,
    *,
    humans_required: bool,
) -> tuple[str, str, list[str], pd.DataFrame, dict[str, Any], pd.DataFrame]:
    """What estimate and plan both start from: the target's kind, the one judge's name, the human
    raters, their usable labels and the selection record, and the per-item values. Without
    ``humans_required``, a selector matching no human is no human (a plan may rest on a guess)."""
    kind, model = parse_target(target, threshold)
    judges = select_raters(labels, judge)
    if len(judges) != 1:
        raise ArgumentError(f"--judge {judge!r} names {len(judges)} raters: {judges[:5]}", fix="name one judge")
    try:
        human_names = [h for h in select_raters(labels, humans) if h != judges[0]]
    except MetricUndefinedError:
        if humans_required:
            raise
        human_names = []
    used, selection = usable_humans(labels, human_names, assume_random=assume_random)
    data = values(labels, items, used, judges[0], kind, model, threshold)
    return kind, judges[0], human_names, used, selection, data


def estimate(
    labels: pd.DataFrame,
    items: pd.DataFrame,
    *,
    target: str,
    judge: str,
    humans: str | Sequence[str] = "kind:human",
    threshold: float | None = None,
    by: str | None = None,
    assume_random: bool = False,
    keep_humans: int | None = None,
    seed: int = 0,
) -> dict[str, Any]:
    """Human-only, judge-only and judge-assisted (PPI++) estimates of ``target`` for one judge."""
    kind, name, human_names, used, selection, data = _target_data(
        labels, items, target, judge, humans, threshold, assume_random, humans_required=True
    )
    probability = _probabilities(used)
    everything = data.copy()
    data = _keep_humans(data, keep_humans, seed)
    out: dict[str, Any] = {
        "target": target,
        "threshold": threshold,
        "judge": name,
        "humans": human_names,
        "counting": COUNTING[kind],
        "selection": selection,
        **_three(data, probability),
    }
    if keep_humans is not None:
        known = everything.loc[everything["y"].notna() & everything["f"].notna(), "y"]
        out["hidden_check"] = {
            "kept_humans": int(min(keep_humans, len(known))),
            "seed": seed,
            "all_humans_estimate": float(known.mean()) if len(known) else None,
            "n_all_humans": len(known),
            "ppi_covers": _covers(out["ppi"]["ci95"], known),
            "human_only_covers": _covers(out["human_only"]["ci95"], known),
        }
    if by:
        if by not in items.columns:
            raise ArgumentError(f"no item field {by!r}", fix=f"use one of {[c for c in items.columns][:20]}")
        field = items.set_index("item_id")[by].reindex(data.index)
        out["by"] = by
        out["strata"] = [
            {by: None if key is None or key != key else key, **_three(part, probability)}
            for key, part in data.groupby(field.to_numpy(), dropna=False)
        ]
    return out


def _covers(ci: list[float], known: pd.Series) -> bool | None:
    if not len(known) or any(math.isnan(v) for v in ci):
        return None
    return bool(ci[0] <= float(known.mean()) <= ci[1])


def plan_for(
    labels: pd.DataFrame,
    items: pd.DataFrame,
    *,
    target: str,
    judge: str,
    width: float,
    humans: str | Sequence[str] = "kind:human",
    threshold: float | None = None,
    assume_random: bool = False,
    correlation: float | None = None,
) -> dict[str, Any]:
    """How many human-labeled items a 95% interval of ``width`` needs, human-only and judge-assisted,
    from the human-judge relation measured so far (or a stated ``correlation``), and how many more
    than the task has."""
    kind, name, _, _, selection, data = _target_data(
        labels, items, target, judge, humans, threshold, assume_random, humans_required=False
    )
    judged = data[data["f"].notna()]
    labeled = judged[judged["y"].notna()]
    if correlation is not None:
        sd_f = float(judged["f"].std(ddof=0))
        sd_y = float(labeled["y"].std(ddof=0)) if len(labeled) > 1 else sd_f
        relation = estimates.Relation.stated(sd_y, sd_f, correlation)
        source = f"stated: correlation {correlation} between human and judge values"
    else:
        if len(labeled) < 2:
            raise MetricUndefinedError(
                "too few items labeled by both humans and the judge to measure their relation",
                fix="pass --correlation R (a guess of the human-judge correlation)",
            )
        relation = estimates.Relation.measured(labeled["y"], labeled["f"], judged["f"])
        source = f"measured on {len(labeled)} items labeled by both"
    need = estimates.plan(relation, len(judged), width)
    return {
        "target": target,
        "judge": name,
        "width": width,
        "n_items": len(judged),
        "n_human_now": len(labeled),
        "relation": {"sd_human": relation.sd_y, "sd_judge": relation.sd_f, "cov": relation.cov, "source": source},
        "human_only": {"n": need["human_only"], "more": _more(need["human_only"], len(labeled))},
        "ppi": {"n": need["ppi"], "more": _more(need["ppi"], len(labeled))},
        "counting": COUNTING[kind],
        "selection": selection,
        "note": "None: even every item of the task labeled by humans would not give that width",
    }


def _more(n: int | None, have: int) -> int | None:
    return None if n is None else max(0, n - have)
