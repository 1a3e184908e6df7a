"""The whole report of a task: :func:`build_report` computes every figure and returns it as one typed
:class:`analysis.report_model.Report`, which the CLI (``--json``), the dashboard, the figures and the
HTML report read. A section whose metric is undefined on the data is ``Undefined`` with the reason
(``{"error": "..."}`` in JSON), so one thin section never hides the rest."""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Sequence
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from functools import partial
from typing import Any

import numpy as np
import pandas as pd

from analysis import bias, consistency, judge_assisted, system
from analysis._kernels import cell_sums, ratio
from analysis.agreement import AgreementResult, ComparisonMemo, Level, agreement, correlations
from analysis.blas_threads import one_blas_thread
from analysis.calibration import rater_calibration
from analysis.compare import DEFAULT_EPSILON, alt_test, human_ceiling, judge_minus_ceiling
from analysis.errors import MetricUndefinedError
from analysis.frames import check_labels, coded, collapse, is_pairwise, level_of, lookup, majority, votes
from analysis.intervals import percentile_interval, proportion, second_column
from analysis.questions import CHECKLIST_UNIT, checklist_units, overall_rows, pass_rates
from analysis.reliability import alpha, fleiss
from analysis.report_model import Report, TaskReport
from analysis.resampling import (
    Keeps,
    Resampler,
    estimate_each,
    resampled_rows,
    resampler_for,
    resampling_clusters,
    unit_of,
)
from analysis.strata import EXPLORATORY, by_stratum, heterogeneity
from contracts.columns import QUESTION_ATTR, SCALE_ATTR
from contracts.vocab import DEFAULT_QUESTION, LABEL_STATUSES


def _safe(fn: Callable[[], Any]) -> Any:
    try:
        return fn()
    except MetricUndefinedError as exc:
        return {"error": str(exc)}


class Jobs:
    """A report's figures computed at once on a thread pool: most of a figure's work is numpy,
    pandas and Arrow code that runs without the interpreter lock (two threads take about 1.8x less
    wall time on two cores). ``safe(fn)`` starts ``fn`` (a figure, an undefined metric as
    ``{"error": ...}``) and returns its future; ``run(fn)`` the same without the error rule;
    :func:`settled` and :func:`jsonable` wait for every future they meet. Without a pool each call
    runs at once. Every figure reads the shared frames and draws without changing them, so the
    report is the same whatever order the figures finish in (tested: one worker and several)."""

    def __init__(self, pool: Executor | None = None) -> None:
        self.pool = pool

    def safe(self, fn: Callable[[], Any]) -> Any:
        return self.pool.submit(_safe, fn) if self.pool is not None else _safe(fn)

    def run(self, fn: Callable[[], Any]) -> Any:
        return self.pool.submit(fn) if self.pool is not None else fn()


def settled(obj: Any) -> Any:
    """``obj`` with every :class:`Jobs` future in it replaced by its figure."""
    if isinstance(obj, Future):
        return settled(obj.result())
    if isinstance(obj, dict):
        return {k: settled(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [settled(v) for v in obj]
    return obj


def jsonable(obj: Any) -> Any:
    """Plain Python types only: numpy scalars unwrapped, NaN/inf as None, tuples as lists; a
    :class:`Jobs` future as its figure."""
    if isinstance(obj, Future):
        obj = obj.result()
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
    min_votes: int = 2,
    scale: Sequence[str] | None = None,
    jobs: Jobs | None = None,
    memo: ComparisonMemo | None = None,
) -> dict[str, Any]:
    """With ties, without ties (pairwise only), and against side b's majority (of at least
    ``min_votes`` votes); ``scale``: the task's scale points (weighted kappa's categories).
    With ``jobs``, the figures are futures (:class:`Jobs`); ``memo``: comparisons shared with other
    figures (``analysis.agreement.ComparisonMemo``)."""
    safe = (jobs or Jobs()).safe
    common: dict[str, Any] = {"n_boot": n_boot, "seed": seed, "resampler": resampler, "scale": scale, "memo": memo}
    block: dict[str, Any] = {
        "with_ties": safe(lambda: agreement(labels, a, b, ties=True, **common).to_dict()),
        "majority": safe(lambda: agreement(labels, a, b, majority_b=True, min_votes=min_votes, **common).to_dict()),
    }
    if is_pairwise(labels):
        block["without_ties"] = safe(lambda: agreement(labels, a, b, ties=False, **common).to_dict())
    if ordinal:
        block["quadratic_kappa"] = safe(lambda: agreement(labels, a, b, weights="quadratic", **common).to_dict())
    return block


def default_workers() -> int:
    """The threads a report computes its figures on by default: the machine's cores, at most 4."""
    return min(4, os.cpu_count() or 1)


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
    min_votes: int = 2,
    bothbad: str = "tie",
    workers: int | None = None,
    kept: Keeps | None = None,
    pool: Executor | None = None,
) -> Report:
    """Every figure for one task. ``labels``/``items`` follow ``analysis.frames``; ``judge_models``
    maps a judge's name to its model family (for self-preference). ``cluster`` chooses the bootstrap's
    resampling unit (``analysis.resampling.resampling_clusters``: by default the prompt, or MT-Bench's
    question, whenever items share one; ``"none"`` resamples items). ``orders`` is how a rater labeled
    in both presented orders counts in agreement (``analysis.frames.votes``). ``families`` maps
    generator model names to model families for self-preference (``analysis.bias.model_family``).
    ``min_votes``: the fewest human votes a per-item majority needs (the majority rows, the confusion
    matrix against the majority, calibration). ``bothbad``: in agreement, a both-bad verdict counts
    as a tie (``"tie"``, MT-Bench) or as its own category (``"distinct"``); the alternative annotator
    test always keeps them distinct where the data does (its authors compare the labels as given).
    ``workers``: threads computing the figures at once (default: the machine's cores, at most 4;
    1: one after another; the report is the same). ``kept``: where the bootstrap draws of earlier
    reports are kept (``analysis.resampling.resampler_for``; the report is the same). ``pool``: the
    caller's thread pool to compute the figures on, instead of one of ``workers`` threads made here
    (the dashboard's, which runs its own work among the report's)."""
    check_labels(labels)
    options = {k: v for k, v in locals().items() if k not in ("labels", "items", "workers", "pool")}
    labels = coded(labels)  # the few-valued text columns as integer codes, once for every figure
    workers = workers if workers is not None else default_workers()
    # BLAS on one thread: the pool's threads are the parallelism, and the sums are the same on every machine
    with one_blas_thread():
        if pool is not None:
            return _build(labels, items, Jobs(pool), **options)
        if workers > 1:
            with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="judgelab-report") as pool:
                return _build(labels, items, Jobs(pool), **options)
        return _build(labels, items, Jobs(), **options)


def _build(
    labels: pd.DataFrame,
    items: pd.DataFrame,
    jobs: Jobs,
    *,
    task: str | None,
    judge_models: dict[str, str] | None,
    by: str | None,
    n_boot: int,
    seed: int,
    epsilon: float,
    length_threshold: float,
    cluster: str | None,
    orders: str,
    families: dict[str, str] | None,
    min_votes: int,
    bothbad: str,
    kept: Keeps | None,
) -> Report:
    """:func:`build_report`'s body, its figures started on ``jobs``."""
    scale = labels.attrs.get(SCALE_ATTR)  # the task's scale points, when the reader knew them
    humans = _raters(labels, "human")
    judges = _raters(labels, "llm_judge")
    measured = level_of(labels)  # pairwise, nominal, ordinal or interval (contracts.vocab.LEVELS)
    pairwise = measured == "pairwise"
    ordinal = measured in ("ordinal", "interval")
    asked = labels.attrs.get(QUESTION_ATTR) or {}
    kind = asked.get("kind") or ("pairwise" if pairwise else "scale")
    scores = kind in ("scale", "numeric")  # negative RMSE in the alternative annotator test, correlations
    # one vote per (item, rater): computed once, reused by every metric; the agreement blocks count a
    # rater labeled in both orders by the ``orders`` rule (``counted``: per order with "each")
    # one set of bootstrap draws over the task's items, shared by every figure's CI (drawn on the
    # pool while the votes are collapsed here)
    drawn = (
        jobs.run(
            partial(
                resampler_for, labels["item_id"].to_numpy(), items, n_boot=n_boot, seed=seed, cluster=cluster, kept=kept
            )
        )
        if n_boot > 0
        else None
    )
    # the alternative annotator test's categories: both-bad kept apart (the same votes when no label is one)
    distinct = "bothbad" in set(labels["value"].dropna().unique())
    given = jobs.run(partial(collapse, labels, bothbad="distinct")) if distinct else None
    collapsed = collapse(labels)
    counted = (
        collapsed if (orders, bothbad) == ("combined", "tie") else collapse(labels, orders=orders, bothbad=bothbad)
    )
    as_given = settled(given) if given is not None else collapsed
    memo = ComparisonMemo(counted)  # the agreement figures' comparisons, each computed once
    given_memo = memo if as_given is counted else ComparisonMemo(as_given)  # the alternative annotator test's
    rs = settled(drawn)
    unit = rs.unit if rs is not None else resampling_clusters(items, cluster)[0]
    everyone = humans + judges
    # the longest figures start first, so that the pool's threads finish together (the system ranking
    # last ran alone at the end)
    matrix = jobs.run(partial(_matrix, collapsed, everyone, n_boot=n_boot, seed=seed, resampler=rs))
    ranked = (
        None
        if not (pairwise and everyone)
        else jobs.run(partial(_system, collapsed, items, humans, judges, resampler=rs))
    )
    report: dict[str, Any] = {
        "task": task,
        "protocol": "pairwise" if pairwise else "single",
        "n_items": int(items["item_id"].nunique()),
        "question": {"name": asked.get("name", DEFAULT_QUESTION), "kind": kind, "level": measured},
        "settings": {
            "n_boot": n_boot,
            "seed": seed,
            "epsilon": epsilon,
            "length_threshold": length_threshold,
            "ci": (
                f"95%, {unit}-level bootstrap: Clopper-Pearson on the effective n for proportions, "
                "Dirichlet-Perks for kappa, BCa otherwise; flagged where not vouched for"
            ),
            "resampling_unit": unit,
            "orders": orders,
            "n_resampling_units": rs.n_units if rs is not None else None,
            "min_votes": min_votes,
            "bothbad": bothbad,
        },
        "humans": humans,
        "judges": judges,
        "raters": _rater_counts(labels),
    }
    level: Level = "nominal" if measured in ("pairwise", "nominal") else "interval" if kind == "numeric" else "ordinal"
    if len(humans) >= 2:
        report["human_agreement"] = {
            **agreement_block(
                counted,
                humans,
                humans,
                n_boot=n_boot,
                seed=seed,
                ordinal=ordinal,
                resampler=rs,
                min_votes=min_votes,
                scale=scale,
                jobs=jobs,
                memo=memo,
            ),
            "alpha": jobs.safe(
                lambda: alpha(
                    collapsed, humans, level=level, n_boot=n_boot, seed=seed, resampler=rs, memo=memo
                ).to_dict()
            ),
            "fleiss": jobs.safe(lambda: fleiss(collapsed, humans, n_boot=n_boot, seed=seed, resampler=rs).to_dict()),
        }
        report["human_ceiling"] = jobs.safe(
            lambda: human_ceiling(counted, humans, n_boot=n_boot, seed=seed, resampler=rs, memo=memo)
        )
    all_votes = votes(collapsed)
    reference = majority(all_votes, humans, min_votes=min_votes) if humans else pd.Series(dtype=object)
    report["judges_vs_humans"] = [
        _judge_section(
            labels,
            collapsed,
            counted,
            as_given,
            judge,
            humans,
            reference,
            n_boot=n_boot,
            seed=seed,
            epsilon=epsilon,
            resampler=rs,
            min_votes=min_votes,
            scale=scale,
            ordinal=ordinal,
            level=level,
            scores=scores,
            jobs=jobs,
            memo=memo,
            given_memo=given_memo,
        )
        for judge in judges
    ]
    report["pairwise_matrix"] = matrix
    if pairwise and everyone:
        report["bias"] = {
            "position": jobs.safe(lambda: bias.position_bias(labels, everyone, n_boot=n_boot, seed=seed, resampler=rs)),
            "swap": jobs.safe(lambda: bias.swap_consistency(labels, everyone, n_boot=n_boot, seed=seed, resampler=rs)),
            "length": jobs.safe(
                lambda: bias.length_bias(
                    collapsed, items, everyone, threshold=length_threshold, n_boot=n_boot, seed=seed, resampler=rs
                )
            ),
            "self_preference": jobs.safe(
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
            "leniency": jobs.safe(
                lambda: bias.leniency(collapsed, judges, humans, n_boot=n_boot, seed=seed, resampler=rs)
            )
            if humans and judges
            else [],
        }
        if humans and judges and {"model_a", "model_b"} <= set(items.columns) and items["model_a"].notna().any():
            # what the humans would say about every item: human-only, judge-only, judge-assisted
            report["estimates"] = jobs.safe(partial(judge_assisted.win_rates, labels, items, humans, judges))
        keyed = _triple_keys(items)
        report["consistency"] = {r: jobs.safe(partial(_transitivity, collapsed, keyed, r)) for r in everyone}
        report["system"] = ranked
    elif everyone and humans and judges and kind != "choice":
        # leniency where it is defined: scores, and the pass rate of a checklist (yes = 1)
        report["bias"] = {
            "leniency": jobs.safe(
                lambda: bias.leniency(collapsed, judges, humans, n_boot=n_boot, seed=seed, resampler=rs)
            )
        }
    # a human is scored against the majority of the *other* humans (a majority that includes them
    # would count their own vote as the right answer); a judge against the majority of all humans
    references = {
        r: majority(all_votes, humans, exclude=r, min_votes=min_votes) if r in humans else reference for r in everyone
    }
    calibrated = partial(rater_calibration, n_boot=n_boot, seed=seed, resampler=rs)
    pending = {r: jobs.safe(partial(calibrated, labels, r, references[r])) for r in everyone}
    report["calibration"] = {
        r: res for r, res in settled(pending).items() if not isinstance(res, dict) or "error" not in res
    }
    if by:
        report = settled(report)  # the strata's heterogeneity reads the pooled figures
        rows = _strata(counted, items, by, humans, judges, n_boot=n_boot, seed=seed, resampler=rs)
        report["strata"] = {"by": by, "rows": rows, "note": EXPLORATORY, "heterogeneity": _heterogeneity(rows, report)}
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
    as_given: pd.DataFrame,
    judge: str,
    humans: list[str],
    reference: pd.Series,
    *,
    n_boot: int,
    seed: int,
    epsilon: float,
    resampler: Resampler | None,
    ordinal: bool,
    level: Level,
    scores: bool,
    min_votes: int = 2,
    scale: Sequence[str] | None = None,
    jobs: Jobs | None = None,
    memo: ComparisonMemo | None = None,
    given_memo: ComparisonMemo | None = None,
) -> dict[str, Any]:
    """One judge against the humans; ``ordinal``: weighted kappa too; ``level``: alpha's level of
    measurement; ``scores``: the alternative annotator test by negative RMSE, and correlations.
    ``memo``/``given_memo``: the comparisons of ``counted``/``as_given`` shared with the other figures."""
    jobs = jobs or Jobs()
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
        agreement_block(
            counted,
            [judge],
            humans,
            n_boot=n_boot,
            seed=seed,
            ordinal=ordinal,
            resampler=resampler,
            min_votes=min_votes,
            scale=scale,
            jobs=jobs,
            memo=memo,
        )
    )
    section["alpha_with_humans"] = jobs.safe(
        lambda: alpha(
            collapsed, [*humans, judge], level=level, n_boot=n_boot, seed=seed, resampler=resampler, memo=memo
        ).to_dict()
    )
    section["alt_test"] = jobs.safe(
        lambda: alt_test(
            as_given,
            judge,
            humans,
            epsilon=epsilon,
            similarity="neg_rmse" if scores else "accuracy",
            memo=given_memo,
        ).to_dict()
    )
    if len(humans) >= 2:
        section["vs_ceiling"] = jobs.safe(
            lambda: judge_minus_ceiling(
                counted, judge, humans, n_boot=n_boot, seed=seed, resampler=resampler, memo=memo
            )
        )
    if scores:
        section["score_correlations"] = jobs.safe(
            partial(_score_correlations, collapsed, judge, humans, n_boot=n_boot, seed=seed, resampler=resampler)
        )
    section["confusion_vs_majority"] = jobs.run(partial(_confusion, collapsed, judge, reference))
    return section


def _score_correlations(
    collapsed: pd.DataFrame,
    judge: str,
    humans: list[str],
    *,
    n_boot: int = 0,
    seed: int = 0,
    resampler: Resampler | None = None,
) -> dict[str, Any]:
    """Judge score against the mean human score, per item (Spearman, Kendall, Pearson, MAE), each with
    a percentile bootstrap CI over the same resamples (items or prompts)."""
    v = votes(collapsed)
    mine = v[v["annotator"] == judge].set_index("item_id")["vote_num"]
    human_mean = v[v["annotator"].isin(humans)].groupby("item_id")["vote_num"].mean()
    shared = mine.index.intersection(human_mean.index)
    x, y = mine.loc[shared].to_numpy(), human_mean.loc[shared].to_numpy()
    out: dict[str, Any] = {"n_items": len(shared), **correlations(x, y)}
    if unit_of(resampler, n_boot) is None:
        return out
    rows, unit, n_units = resampled_rows(shared, n_boot=n_boot, seed=seed, resampler=resampler)
    samples: dict[str, list[float]] = {k: [] for k in ("spearman", "kendall", "pearson", "mae")}
    undefined = 0
    for take in rows:
        try:
            found = correlations(x[take], y[take])
        except MetricUndefinedError:
            undefined += 1
            continue
        for key, value in found.items():
            samples[key].append(value)
    for key, values in samples.items():
        interval = percentile_interval(
            np.asarray(values), out[key], undefined=undefined / max(len(rows), 1), units=n_units
        )
        out[f"{key}_ci95"] = list(interval.pair)
        out[f"{key}_ci_flag"] = interval.flag
    out["resampling_unit"] = unit
    return out


def _confusion(collapsed: pd.DataFrame, judge: str, reference: pd.Series) -> dict[str, Any]:
    v = votes(collapsed)
    mine = v[v["annotator"] == judge].set_index("item_id")["vote"]
    shared = mine.index.intersection(reference.index)
    if len(shared) == 0:
        return {"error": f"{judge!r} shares no item with a human majority"}
    cats = sorted(set(mine.loc[shared].unique()) | set(reference.loc[shared].unique()), key=str)
    index = {c: i for i, c in enumerate(cats)}
    rows = lookup(reference.loc[shared], index).astype(np.int64)
    columns = lookup(mine.loc[shared], index).astype(np.int64)
    table = cell_sums(rows, columns, (len(cats), len(cats))).astype(np.int64)  # pd.crosstab's counts
    return {"categories": cats, "rows": "human majority", "columns": judge, "matrix": table.tolist()}


def _matrix(
    collapsed: pd.DataFrame, raters: list[str], *, n_boot: int = 0, seed: int = 0, resampler: Resampler | None = None
) -> dict[str, Any]:
    """Rater x rater percent agreement (with ties), n, and each cell's 95% CI (Clopper-Pearson on the
    effective n, the same draws as every other figure), for the heatmap."""
    if not raters:
        return {"raters": [], "agreement": [], "n": []}
    table = votes(collapsed).pivot(index="item_id", columns="annotator", values="vote").reindex(columns=raters)
    values = table.to_numpy(dtype=object)
    present = table.notna().to_numpy()
    k = len(raters)
    agree = np.full((k, k), np.nan)
    n = np.zeros((k, k), dtype=int)
    drawn = unit_of(resampler, n_boot) is not None
    cis: list[list[Any]] = [[None] * k for _ in range(k)]
    flags: list[list[str | None]] = [[None] * k for _ in range(k)]
    rate = partial(proportion, trials=second_column)
    cells, parts = [], []  # each pair's [hits, 1] per item, drawn at once below
    for i in range(k):
        for j in range(i, k):
            both = present[:, i] & present[:, j]
            n[i, j] = n[j, i] = int(both.sum())
            if not n[i, j]:
                continue
            hits = (values[both, i] == values[both, j]).astype(float)
            agree[i, j] = agree[j, i] = float(hits.mean())
            if drawn and i != j:
                cells.append((i, j))
                parts.append((table.index[both], np.column_stack([hits, np.ones_like(hits)])))
    rated = estimate_each(parts, ratio, method=rate, n_boot=n_boot, seed=seed, resampler=resampler)
    for (i, j), (_, interval) in zip(cells, rated, strict=True):
        cis[i][j] = cis[j][i] = list(interval.pair)
        flags[i][j] = flags[j][i] = interval.flag
    out: dict[str, Any] = {"raters": raters, "agreement": agree.tolist(), "n": n.tolist()}
    if drawn:
        out.update(ci95=cis, ci_flags=flags)
    return out


def _triple_keys(items: pd.DataFrame) -> pd.DataFrame | None:
    """Per item with both models: its group (the prompt, or MT-Bench's question and turn) and its two
    models, as integer codes (a model's code sorts as its name), indexed by item id; None when the
    items lack these fields. Computed once for every rater's transitivity."""
    group_col = "question_id" if "question_id" in items.columns else "prompt"
    if group_col not in items.columns or not {"model_a", "model_b"} <= set(items.columns):
        return None
    keys = [group_col, "turn"] if "turn" in items.columns else [group_col]
    known = items.drop_duplicates("item_id").dropna(subset=["model_a", "model_b"])
    group = known.groupby(keys, sort=False).ngroup().to_numpy(dtype=float)  # NaN: a key is missing
    names = pd.Index(pd.unique(np.concatenate([known["model_a"].to_numpy(object), known["model_b"].to_numpy(object)])))
    order = names.astype(str).argsort()  # the models' codes in the order of their names
    rank = np.empty(len(names), dtype=np.int64)
    rank[order] = np.arange(len(names))
    return pd.DataFrame(
        {
            # items whose key is missing are one group (a merge matches missing keys with each other)
            "group": np.where(np.isnan(group), -1, group).astype(np.int64),
            "model_a": rank[names.get_indexer(known["model_a"].to_numpy(object))],
            "model_b": rank[names.get_indexer(known["model_b"].to_numpy(object))],
        },
        index=pd.Index(known["item_id"].to_numpy()),
    )


def _transitivity(collapsed: pd.DataFrame, keyed: pd.DataFrame | None, rater: str) -> dict[str, Any]:
    if keyed is None:
        raise MetricUndefinedError("transitivity needs the prompt (or question_id) and model_a/model_b of items")
    v = votes(collapsed)
    v = v[(v["annotator"] == rater).to_numpy()]
    at = keyed.index.get_indexer(pd.Index(v["item_id"].to_numpy()))
    found = at >= 0
    prefs = keyed.iloc[at[found]].reset_index(drop=True).assign(vote=v["vote"].to_numpy(object)[found])
    return consistency.transitivity(prefs)


def _system(
    collapsed: pd.DataFrame,
    items: pd.DataFrame,
    humans: list[str],
    judges: list[str],
    *,
    resampler: Resampler | None = None,
) -> dict[str, Any]:
    """Bradley-Terry rankings of the humans and of each judge, and each judge's rank correlation with
    the humans; with a resampler, percentile CIs of every score and correlation on the shared draws."""
    if not {"model_a", "model_b"} <= set(items.columns) or items["model_a"].isna().all():
        return {"error": "items carry no model_a/model_b: no system ranking"}
    out: dict[str, Any] = {}
    models = system.ItemModels.of(items)  # the items' models, read once for every ranking
    human_rank = _safe(lambda: system.ranking(collapsed, items, humans, models=models)) if humans else None
    human_draws = None
    if isinstance(human_rank, pd.DataFrame):
        human_draws = _bt_draws(collapsed, items, humans, list(human_rank.index), resampler, models)
        out["humans"] = _rank_rows(human_rank, human_draws, resampler)
    elif human_rank is not None:
        out["humans"] = human_rank
    out["judges"] = {}
    for judge in judges:
        rank = _safe(partial(system.ranking, collapsed, items, [judge], models=models))
        if not isinstance(rank, pd.DataFrame):
            out["judges"][judge] = rank
            continue
        draws = _bt_draws(collapsed, items, [judge], list(rank.index), resampler, models)
        entry: dict[str, Any] = {"ranking": _rank_rows(rank, draws, resampler)}
        if isinstance(human_rank, pd.DataFrame):
            entry["vs_humans"] = system.ranking_agreement(human_rank, rank)
            shared = [m for m in human_rank.index if m in rank.index]
            if human_draws is not None and draws is not None and len(shared) >= 3 and resampler is not None:
                h = human_draws[:, [list(human_rank.index).index(m) for m in shared]]
                j = draws[:, [list(rank.index).index(m) for m in shared]]
                for key, values in system.rank_correlations(h, j).items():
                    point = entry["vs_humans"][key]
                    if point is None:
                        continue
                    interval = percentile_interval(values, point, units=resampler.n_units)
                    entry["vs_humans"][f"{key}_ci95"] = list(interval.pair)
                    entry["vs_humans"][f"{key}_ci_flag"] = interval.flag
        out["judges"][judge] = entry
    return out


def _bt_draws(
    collapsed: pd.DataFrame,
    items: pd.DataFrame,
    raters: list[str],
    models: list[str],
    resampler: Resampler | None,
    item_models: system.ItemModels | None = None,
) -> np.ndarray | None:
    if resampler is None:
        return None
    return system.bradley_terry_resampled(collapsed, items, raters, models, resampler.sums, item_models=item_models)


def _rank_rows(rank: pd.DataFrame, draws: np.ndarray | None, resampler: Resampler | None) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = [
        {str(k): v for k, v in r.items()} for r in rank.reset_index(names="model").to_dict("records")
    ]
    if draws is None or resampler is None:
        return rows
    for i, row in enumerate(rows):
        interval = percentile_interval(draws[:, i], row["bt_score"], units=resampler.n_units)
        row.update(bt_score_ci95=list(interval.pair), ci_flag=interval.flag)
    return rows


def _heterogeneity(rows: list[dict[str, Any]], report: dict[str, Any]) -> list[dict[str, Any]]:
    """Per rater: Cochran's Q across its strata, and its pooled agreement (the reference line)."""
    pooled = {j["judge"]: j.get("with_ties") for j in report["judges_vs_humans"]}
    if report.get("human_agreement"):
        pooled["humans"] = report["human_agreement"].get("with_ties")
    out = []
    for rater in dict.fromkeys(r["rater"] for r in rows):
        mine = [r for r in rows if r["rater"] == rater and "agreement" in r and r.get("agreement_ci95")]
        test = heterogeneity([r["agreement"] for r in mine], [tuple(r["agreement_ci95"]) for r in mine])
        reference = pooled.get(rater)
        out.append(
            {
                "rater": rater,
                **test,
                "pooled_agreement": reference.get("agreement") if isinstance(reference, dict) else None,
            }
        )
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


def by_entry(labels: pd.DataFrame) -> bool:
    """Whether a question's labels are analysed per checklist entry (units (item, entry)): a
    checklist question whose labels carry their entries."""
    asked = labels.attrs.get(QUESTION_ATTR) or {}
    return asked.get("kind") == "checklist" and not labels.empty and "entry" in labels.columns


def build_task_report(
    frames: dict[str, pd.DataFrame],
    items: pd.DataFrame,
    *,
    task: str | None = None,
    **options: Any,
) -> Report | TaskReport:
    """Every figure of a task, per question. ``frames``: each question's labels (marked by the reader:
    ``contracts.columns.LEVEL_ATTR``, ``QUESTION_ATTR``, ``SCALE_ATTR``), in the order asked. One
    question: its :class:`Report` (the JSON of a one-question task is unchanged, plus ``question``).
    Several: a :class:`TaskReport` with every question's report (``questions``), the table across
    questions (``overall``) and each judge's sections by question. A checklist question is analysed
    per entry (units (item, entry), resampled by item) and adds the item-level pass rates.
    ``options``: :func:`build_report`'s."""
    reports: dict[str, Report] = {}
    for name, labels in frames.items():
        reports[name] = _question_report(labels, items, task=task, **options)
    if len(reports) == 1:
        return next(iter(reports.values()))
    first = next(iter(reports.values()))
    as_json = {name: r.to_json() for name, r in reports.items()}
    judges = sorted({j for r in reports.values() for j in r.judges})
    humans = sorted({h for r in reports.values() for h in r.humans})
    return TaskReport.from_json(
        jsonable(
            {
                "task": task,
                "protocol": _protocol_of(items, first),
                "n_items": int(items["item_id"].nunique()),
                "humans": humans,
                "judges": judges,
                "questions": as_json,
                "overall": overall_rows(as_json),
                "judges_vs_humans": [
                    {
                        "judge": judge,
                        "questions": {
                            name: section
                            for name, r in as_json.items()
                            for section in r.get("judges_vs_humans", [])
                            if section["judge"] == judge
                        },
                    }
                    for judge in judges
                ],
            }
        )
    )


def _protocol_of(items: pd.DataFrame, first: Report) -> str:
    """A task's protocol from its items: pairwise when they have a second response."""
    if "response_b" in items.columns:
        return "pairwise" if items["response_b"].notna().any() else "single"
    return first.protocol


def _question_report(labels: pd.DataFrame, items: pd.DataFrame, *, task: str | None, **options: Any) -> Report:
    if not by_entry(labels):
        return build_report(labels, items, task=task, **options)
    units, unit_items = checklist_units(labels, items)
    report = build_report(units, unit_items, task=task, **{**options, "cluster": CHECKLIST_UNIT})
    n_boot, seed = int(options.get("n_boot", 1000)), int(options.get("seed", 0))
    raters = report.humans + report.judges
    rates = pass_rates(labels, raters, n_boot=n_boot, seed=seed, resampler=None)
    data = report.to_json()
    data["checklist"] = {
        "n_items": int(labels["item_id"].nunique()),
        "n_entries": len(unit_items),
        "unit": "checklist entry (item, entry); resampled by item",
        "pass_rate": rates,
    }
    return Report.from_json(jsonable(data))
