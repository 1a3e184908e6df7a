"""The whole report of a task: :func:`build_report` computes every figure and returns it as one typed
:class:`analysis.report_model.Report`, which the CLI (``--json``), the dashboard, the figures and the
HTML report read. A section whose metric is undefined on the data is ``Undefined`` with the reason
(``{"error": "..."}`` in JSON), so one thin section never hides the rest."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

import numpy as np
import pandas as pd

from analysis import bias, consistency, system
from analysis.agreement import AgreementResult, Level, agreement, correlations
from analysis.calibration import rater_calibration
from analysis.compare import DEFAULT_EPSILON, alt_test, human_ceiling
from analysis.errors import MetricUndefinedError
from analysis.frames import check_labels, collapse, is_pairwise, majority, votes
from analysis.reliability import alpha, fleiss
from analysis.report_model import Report
from analysis.resampling import Resampler, resampler_for, resampling_clusters
from analysis.strata import by_stratum
from contracts.vocab import LABEL_STATUSES


def _safe(fn: Callable[[], Any]) -> Any:
    try:
        return fn()
    except MetricUndefinedError as exc:
        return {"error": str(exc)}


def jsonable(obj: Any) -> Any:
    """Plain Python types only: numpy scalars unwrapped, NaN/inf as None, tuples as lists."""
    if isinstance(obj, dict):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [jsonable(v) for v in obj]
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, pd.Timestamp):
        return obj.isoformat()
    return obj


def _raters(labels: pd.DataFrame, kind: str) -> list[str]:
    return sorted(labels.loc[labels["kind"] == kind, "annotator"].unique())


def agreement_block(
    labels: pd.DataFrame,
    a: str | Sequence[str],
    b: str | Sequence[str],
    *,
    n_boot: int,
    seed: int,
    ordinal: bool = False,
    resampler: Resampler | None = None,
) -> dict[str, Any]:
    """With ties, without ties (pairwise only), and against side b's majority."""
    common: dict[str, Any] = {"n_boot": n_boot, "seed": seed, "resampler": resampler}
    block: dict[str, Any] = {
        "with_ties": _safe(lambda: agreement(labels, a, b, ties=True, **common).to_dict()),
        "majority": _safe(lambda: agreement(labels, a, b, majority_b=True, **common).to_dict()),
    }
    if is_pairwise(labels):
        block["without_ties"] = _safe(lambda: agreement(labels, a, b, ties=False, **common).to_dict())
    if ordinal:
        block["quadratic_kappa"] = _safe(lambda: agreement(labels, a, b, weights="quadratic", **common).to_dict())
    return block


def build_report(
    labels: pd.DataFrame,
    items: pd.DataFrame,
    *,
    task: str | None = None,
    judge_models: dict[str, str] | None = None,
    by: str | None = None,
    n_boot: int = 1000,
    seed: int = 0,
    epsilon: float = DEFAULT_EPSILON,
    length_threshold: float = 0.2,
    cluster: str | None = "auto",
    orders: str = "combined",
    families: dict[str, str] | None = None,
) -> Report:
    """Every figure for one task. ``labels``/``items`` follow ``analysis.frames``; ``judge_models``
    maps a judge's name to its model family (for self-preference). ``cluster`` chooses the bootstrap's
    resampling unit (``analysis.resampling.resampling_clusters``: by default the prompt, or MT-Bench's
    question, whenever items share one; ``"none"`` resamples items). ``orders`` is how a rater labeled
    in both presented orders counts in agreement (``analysis.frames.votes``). ``families`` maps
    generator model names to model families for self-preference (``analysis.bias.model_family``)."""
    check_labels(labels)
    humans = _raters(labels, "human")
    judges = _raters(labels, "llm_judge")
    pairwise = is_pairwise(labels)
    ordinal = not pairwise
    # one vote per (item, rater): computed once, reused by every metric; the agreement blocks count a
    # rater labeled in both orders by the ``orders`` rule (``counted``: per order with "each")
    collapsed = collapse(labels)
    counted = collapsed if orders == "combined" else collapse(labels, orders=orders)
    # one set of bootstrap draws over the task's items, shared by every figure's CI
    rs = (
        resampler_for(labels["item_id"].to_numpy(), items, n_boot=n_boot, seed=seed, cluster=cluster)
        if n_boot > 0
        else None
    )
    unit = rs.unit if rs is not None else resampling_clusters(items, cluster)[0]
    report: dict[str, Any] = {
        "task": task,
        "protocol": "pairwise" if pairwise else "single",
        "n_items": int(items["item_id"].nunique()),
        "settings": {
            "n_boot": n_boot,
            "seed": seed,
            "epsilon": epsilon,
            "length_threshold": length_threshold,
            "ci": f"{unit}-level percentile bootstrap, 95%",
            "resampling_unit": unit,
            "orders": orders,
            "n_resampling_units": rs.n_units if rs is not None else None,
        },
        "humans": humans,
        "judges": judges,
        "raters": _rater_counts(labels),
    }
    if len(humans) >= 2:
        level: Level = "nominal" if pairwise else "ordinal"
        report["human_agreement"] = {
            **agreement_block(counted, humans, humans, n_boot=n_boot, seed=seed, ordinal=ordinal, resampler=rs),
            "alpha": _safe(
                lambda: alpha(collapsed, humans, level=level, n_boot=n_boot, seed=seed, resampler=rs).to_dict()
            ),
            "fleiss": _safe(lambda: fleiss(collapsed, humans, n_boot=n_boot, seed=seed, resampler=rs).to_dict()),
        }
        report["human_ceiling"] = _safe(lambda: human_ceiling(counted, humans, n_boot=n_boot, seed=seed, resampler=rs))
    all_votes = votes(collapsed)
    reference = majority(all_votes, humans) if humans else pd.Series(dtype=object)
    report["judges_vs_humans"] = [
        _judge_section(
            labels,
            collapsed,
            counted,
            judge,
            humans,
            reference,
            n_boot=n_boot,
            seed=seed,
            epsilon=epsilon,
            pairwise=pairwise,
            resampler=rs,
        )
        for judge in judges
    ]
    report["pairwise_matrix"] = _matrix(collapsed, humans + judges)
    everyone = humans + judges
    if pairwise and everyone:
        report["bias"] = {
            "position": _safe(lambda: bias.position_bias(labels, everyone, n_boot=n_boot, seed=seed, resampler=rs)),
            "swap": _safe(lambda: bias.swap_consistency(labels, everyone)),
            "length": _safe(
                lambda: bias.length_bias(
                    collapsed, items, everyone, threshold=length_threshold, n_boot=n_boot, seed=seed, resampler=rs
                )
            ),
            "self_preference": _safe(
                lambda: bias.self_preference(
                    collapsed,
                    items,
                    judge_models or {},
                    humans,
                    families=families,
                    n_boot=n_boot,
                    seed=seed,
                    resampler=rs,
                )
            )
            if humans and judge_models
            else [],
            "leniency": _safe(lambda: bias.leniency(collapsed, judges, humans)) if humans and judges else [],
        }
        report["consistency"] = {r: _safe(partial(_transitivity, collapsed, items, r)) for r in everyone}
        report["system"] = _system(collapsed, items, humans, judges)
    elif everyone and humans and judges:
        report["bias"] = {"leniency": _safe(lambda: bias.leniency(collapsed, judges, humans))}
    # a human is scored against the majority of the *other* humans (a majority that includes them
    # would count their own vote as the right answer); a judge against the majority of all humans
    references = {r: majority(all_votes, humans, exclude=r) if r in humans else reference for r in everyone}
    report["calibration"] = {
        r: res
        for r in everyone
        if not isinstance(res := _safe(partial(rater_calibration, labels, r, references[r])), dict)
        or "error" not in res
    }
    if by:
        report["strata"] = {
            "by": by,
            "rows": _strata(counted, items, by, humans, judges, n_boot=n_boot, seed=seed, resampler=rs),
        }
    return Report.from_json(jsonable(report))


def _rater_counts(labels: pd.DataFrame) -> list[dict[str, Any]]:
    counts = labels.groupby(["annotator", "kind", "status"]).size().unstack("status", fill_value=0).reset_index()
    return [
        {
            "annotator": row["annotator"],
            "kind": row["kind"],
            **{s: int(row.get(s, 0)) for s in LABEL_STATUSES},
        }
        for row in counts.to_dict("records")
    ]


def _judge_section(
    labels: pd.DataFrame,
    collapsed: pd.DataFrame,
    counted: pd.DataFrame,
    judge: str,
    humans: list[str],
    reference: pd.Series,
    *,
    n_boot: int,
    seed: int,
    epsilon: float,
    pairwise: bool,
    resampler: Resampler | None,
) -> dict[str, Any]:
    mine = labels[labels["annotator"] == judge]
    section: dict[str, Any] = {
        "judge": judge,
        "n_labels": len(mine),
        "n_failed": int((mine["status"] == "failed").sum()),
        "failed_rate": float((mine["status"] == "failed").mean()) if len(mine) else None,
    }
    if not humans:
        return section
    section.update(
        agreement_block(counted, [judge], humans, n_boot=n_boot, seed=seed, ordinal=not pairwise, resampler=resampler)
    )
    level: Level = "nominal" if pairwise else "ordinal"
    section["alpha_with_humans"] = _safe(
        lambda: alpha(collapsed, [*humans, judge], level=level, n_boot=n_boot, seed=seed, resampler=resampler).to_dict()
    )
    section["alt_test"] = _safe(
        lambda: alt_test(
            collapsed, judge, humans, epsilon=epsilon, similarity="accuracy" if pairwise else "neg_rmse"
        ).to_dict()
    )
    if not pairwise:
        section["score_correlations"] = _safe(partial(_score_correlations, collapsed, judge, humans))
    section["confusion_vs_majority"] = _confusion(collapsed, judge, reference)
    return section


def _score_correlations(collapsed: pd.DataFrame, judge: str, humans: list[str]) -> dict[str, Any]:
    """Judge score against the mean human score, per item (Spearman, Kendall, Pearson, MAE)."""
    v = votes(collapsed)
    mine = v[v["annotator"] == judge].set_index("item_id")["vote_num"]
    human_mean = v[v["annotator"].isin(humans)].groupby("item_id")["vote_num"].mean()
    shared = mine.index.intersection(human_mean.index)
    return {"n_items": len(shared), **correlations(mine.loc[shared].to_numpy(), human_mean.loc[shared].to_numpy())}


def _confusion(collapsed: pd.DataFrame, judge: str, reference: pd.Series) -> dict[str, Any]:
    v = votes(collapsed)
    mine = v[v["annotator"] == judge].set_index("item_id")["vote"]
    shared = mine.index.intersection(reference.index)
    if len(shared) == 0:
        return {"error": f"{judge!r} shares no item with a human majority"}
    cats = sorted(set(mine.loc[shared]) | set(reference.loc[shared]), key=str)
    table = pd.crosstab(reference.loc[shared], mine.loc[shared]).reindex(index=cats, columns=cats, fill_value=0)
    return {"categories": cats, "rows": "human majority", "columns": judge, "matrix": table.to_numpy().tolist()}


def _matrix(collapsed: pd.DataFrame, raters: list[str]) -> dict[str, Any]:
    """Rater x rater percent agreement (with ties) and n, for the heatmap."""
    if not raters:
        return {"raters": [], "agreement": [], "n": []}
    table = votes(collapsed).pivot(index="item_id", columns="annotator", values="vote").reindex(columns=raters)
    values = table.to_numpy(dtype=object)
    present = table.notna().to_numpy()
    k = len(raters)
    agree = np.full((k, k), np.nan)
    n = np.zeros((k, k), dtype=int)
    for i in range(k):
        for j in range(k):
            both = present[:, i] & present[:, j]
            n[i, j] = int(both.sum())
            if n[i, j]:
                agree[i, j] = float(np.mean(values[both, i] == values[both, j]))
    return {"raters": raters, "agreement": agree.tolist(), "n": n.tolist()}


def _transitivity(collapsed: pd.DataFrame, items: pd.DataFrame, rater: str) -> dict[str, Any]:
    group_col = "question_id" if "question_id" in items.columns else "prompt"
    if group_col not in items.columns or not {"model_a", "model_b"} <= set(items.columns):
        raise MetricUndefinedError("transitivity needs the prompt (or question_id) and model_a/model_b of items")
    keys = [group_col, "turn"] if "turn" in items.columns else [group_col]
    meta = items.set_index("item_id")[[*keys, "model_a", "model_b"]]
    v = votes(collapsed)
    v = v[v["annotator"] == rater].join(meta, on="item_id").dropna(subset=["model_a", "model_b"])
    group = v.groupby(keys, sort=False).ngroup() if len(v) else pd.Series(dtype=int)
    prefs = pd.DataFrame({"group": group, "model_a": v["model_a"], "model_b": v["model_b"], "vote": v["vote"]})
    return consistency.transitivity(prefs)


def _system(collapsed: pd.DataFrame, items: pd.DataFrame, humans: list[str], judges: list[str]) -> dict[str, Any]:
    if not {"model_a", "model_b"} <= set(items.columns) or items["model_a"].isna().all():
        return {"error": "items carry no model_a/model_b: no system ranking"}
    out: dict[str, Any] = {}
    human_rank = _safe(lambda: system.ranking(collapsed, items, humans)) if humans else None
    if isinstance(human_rank, pd.DataFrame):
        out["humans"] = human_rank.reset_index(names="model").to_dict("records")
    elif human_rank is not None:
        out["humans"] = human_rank
    out["judges"] = {}
    for judge in judges:
        rank = _safe(partial(system.ranking, collapsed, items, [judge]))
        if isinstance(rank, pd.DataFrame):
            entry: dict[str, Any] = {"ranking": rank.reset_index(names="model").to_dict("records")}
            if isinstance(human_rank, pd.DataFrame):
                entry["vs_humans"] = system.ranking_agreement(human_rank, rank)
            out["judges"][judge] = entry
        else:
            out["judges"][judge] = rank
    return out


def _stratum_agreement(
    labels: pd.DataFrame, *, a: list[str], b: list[str], n_boot: int, seed: int, resampler: Resampler | None
) -> AgreementResult:
    return agreement(labels, a, b, n_boot=n_boot, seed=seed, resampler=resampler)


def _strata(
    labels: pd.DataFrame,
    items: pd.DataFrame,
    by: str,
    humans: list[str],
    judges: list[str],
    *,
    n_boot: int,
    seed: int,
    resampler: Resampler | None,
) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    pairs = [(j, humans) for j in judges] + ([("humans", humans)] if len(humans) >= 2 else [])
    for name, other in pairs:
        side = humans if name == "humans" else [name]
        for key, res in by_stratum(
            labels,
            items,
            by,
            partial(_stratum_agreement, a=side, b=other, n_boot=n_boot, seed=seed, resampler=resampler),
        ):
            row = {"rater": name, **key}
            row.update({"error": str(res)} if isinstance(res, MetricUndefinedError) else res.to_dict())
            rows.append(row)
    return rows
