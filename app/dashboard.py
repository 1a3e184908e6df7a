"""The researcher's dashboard and the judges' admin controls, as plain functions of (services,
user name, ...). Researchers and admins only, checked in every function."""

from __future__ import annotations

import html
import logging
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, cast

import numpy as np
import pandas as pd
from sqlalchemy import select

from analysis.plots import all_figures
from analysis.questions import checklist_units
from analysis.report import build_task_report, by_entry, default_workers
from analysis.report_model import PlanRow, Report, Undefined
from annotation.catalog import get_task
from annotation.errors import JudgelabError
from annotation.models import Annotator, JudgeRun, Task
from annotation.services import Services
from app.annotate import require
from app.headline import headline_rows
from app.render import safe_markdown
from contracts.vocab import ADMIN_ROLES, RESEARCH_ROLES

log = logging.getLogger("judgelab.dashboard")


@dataclass
class DashboardData:
    report: Report
    headline: list[list[str]]
    figures: dict[str, Any]
    disagreements: pd.DataFrame
    strata: pd.DataFrame
    swap: pd.DataFrame
    questions: list[str] = field(default_factory=list)  # the task's questions, in the order asked
    question: str = ""  # the one shown
    estimates: pd.DataFrame = field(default_factory=pd.DataFrame)  # what the humans would say (PPI++)


def dashboard(
    services: Services,
    username: str | None,
    task: str,
    *,
    by: str | None = None,
    n_boot: int = 1000,
    raters: str | None = None,
    question: str | None = None,
    progress: Callable[[float, str], None] | None = None,
) -> DashboardData:
    """The report for ``task``, of one of its questions (``question``; default the first);
    ``raters`` (comma-separated selectors such as ``name:expert_*, kind:llm_judge``) keeps only those
    raters. A refresh is kept (``services.recent``) until the task's labels change
    (``tasks.labels_version``, moved by every label write): the same refresh again is a lookup.
    ``progress(share, what)`` hears what is being computed."""
    from analysis.frames import select_raters

    def say(share: float, what: str) -> None:
        if progress is not None:
            progress(share, what)

    require(services, username, RESEARCH_ROLES)
    with services.read_session() as session:
        version = session.scalar(select(Task.labels_version).where(Task.name == task))
    key = ("dashboard", task, version, by or None, n_boot, raters or "", question or None)
    kept = services.recent.get(key) if version is not None else None
    if kept is not None:
        say(1.0, "Unchanged since the last refresh")
        return cast(DashboardData, kept)
    say(0.05, f"Reading the labels of {task}")
    with services.read_session() as session:  # SQLite: a snapshot, holding up no annotator's label
        # the frames kept since the last refresh, with the labels written since (annotation.frame_cache)
        frames, items, models = services.frames.question_frames(session, task)
    names = list(frames)
    if question and question not in frames:
        raise JudgelabError(f"task {task!r} asks no question {question!r}", fix=f"choose one of {names}")
    chosen = question or names[0]
    labels = frames[chosen]
    if labels.empty or not (labels["status"] == "submitted").any():
        raise JudgelabError(
            f"task {task!r} has no submitted labels yet (skips and failed judgments are not labels)",
            fix="import labels, annotate, or run a judge",
        )
    selectors = [x.strip() for x in (raters or "").split(",") if x.strip()]
    if selectors:
        keep = select_raters(labels, selectors)  # its errors say the fix; app.messages shows them
        labels = labels[labels["annotator"].isin(keep)]
        models = {k: v for k, v in models.items() if k in keep}
    say(0.2, f"Computing the report: {len(labels):,} labels, {n_boot:,} bootstrap resamples")
    # the disagreements are one more job on the report's own threads (a thread beside them held the
    # report up on the interpreter lock), started first: they fill the thread the report leaves idle
    # while it collapses the votes. The bootstrap draws of the last refreshes are kept with them (the
    # same draws while the labeled items are the same).
    with ThreadPoolExecutor(max_workers=default_workers(), thread_name_prefix="judgelab-dash") as pool:
        found_job = pool.submit(_disagreements_of, labels, items)
        report = build_task_report(
            {chosen: labels},
            items,
            task=task,
            judge_models=models,
            by=by or None,
            n_boot=n_boot,
            kept=services.recent,
            pool=pool,
        )
        say(0.85, "Finding disagreements and drawing the figures")
        found = found_job.result()
    assert isinstance(report, Report)  # one question: its report
    swap = report.bias.swap if report.bias is not None and isinstance(report.bias.swap, list) else []
    strata = report.strata.model_dump(mode="json", exclude_unset=True)["rows"] if report.strata else []
    if report.strata:  # the test across strata and the pooled figure, as rows of the same table
        for test in report.strata.heterogeneity:
            strata.append(
                {
                    "rater": test.rater,
                    report.strata.by: "(all: pooled)",
                    "agreement": test.pooled_agreement,
                    "note": None
                    if test.p_value is None
                    else f"heterogeneity across {test.n_strata} strata: Q = {test.q:.2f}, df {test.df}, "
                    f"p = {test.p_value:.3f}",
                }
            )
    data = DashboardData(
        report,
        [row.cells() for row in headline_rows(report)],
        all_figures(report),
        found,
        _or_note(pd.DataFrame(strata), "choose a field to stratify by"),
        _or_note(pd.DataFrame([s.model_dump() for s in swap]), "no rater labeled items in both orders"),
        names,
        chosen,
        estimate_table(report),
    )
    if version is not None:
        services.recent.put(key, data)
    return data


def estimate_table(report: Report) -> pd.DataFrame:
    """The report's judge-assisted estimates as rows: judge, target, the three figures, n's,
    lambda, the width ratio and the effective human sample size; or why there are none."""
    est = report.estimates
    if est is None:
        return _or_note(pd.DataFrame(), "win rates need pairwise items with model names, humans and a judge")
    if isinstance(est, Undefined):
        return _or_note(pd.DataFrame(), est.error)

    def ci(low_high: Any, flag: str | None) -> str:
        if low_high is None or low_high[0] is None:
            return "n/a"
        return f"[{low_high[0]:.3f}, {low_high[1]:.3f}]" + (f" flagged: {flag}" if flag else "")

    rows = [
        {
            "judge": r.judge,
            "target": r.target,
            "human-only": None if r.human_only.estimate is None else round(r.human_only.estimate, 3),
            "human-only 95% CI": ci(r.human_only.ci95, r.human_only.ci_flag),
            "n human": r.human_only.n,
            "judge-only (biased)": None if r.judge_only.estimate is None else round(r.judge_only.estimate, 3),
            "judge-assisted": None if r.ppi.estimate is None else round(r.ppi.estimate, 3),
            "judge-assisted 95% CI": ci(r.ppi.ci95, r.ppi.ci_flag),
            "n judge only": r.ppi.n_judge,
            "lambda": None if r.ppi.lam is None else round(r.ppi.lam, 3),
            "width ratio": None if r.width_ratio is None else round(r.width_ratio, 3),
            "effective n human": None if r.effective_n_human is None else round(r.effective_n_human),
            "human labels for +-0.05: human-only": _needed(r.plan, "human_only"),
            "... judge-assisted": _needed(r.plan, "ppi"),
        }
        for r in est.rows
    ]
    return _or_note(pd.DataFrame(rows), "no estimates")


def _needed(plan: PlanRow | None, which: str) -> str:
    if plan is None:
        return "n/a"
    n = getattr(plan, which)
    return "beyond the task" if n is None else f"{n:,} ({max(0, n - plan.n_human_now):,} more)"


def _or_note(frame: pd.DataFrame, note: str) -> pd.DataFrame:
    """An empty table says why it is empty instead of showing bare column numbers."""
    return frame if not frame.empty else pd.DataFrame({"": [note]})


def _clip(text: str, limit: int) -> str:
    """A long text cut for a table cell (the export has it whole)."""
    return text if len(text) <= limit else f"{text[:limit]}… ({len(text) - limit:,} more characters)"


DISAGREEMENT_COLUMNS = ["judge", "item", "category", "judge vote", "human majority", "judge confidence"]


def _disagreements_of(labels: pd.DataFrame, items: pd.DataFrame) -> pd.DataFrame:
    """:func:`disagreements` on the units the report analyses: a checklist's entries
    (``analysis.report.by_entry``), each shown on its item, else the labels."""
    if not by_entry(labels):
        return disagreements(labels, items)
    units, unit_items = checklist_units(labels, items)
    found = disagreements(units, unit_items)
    found["item_id"] = found["item_id"].map(unit_items.set_index("item_id")["checklist_item"])
    return found


def disagreements(labels: pd.DataFrame, items: pd.DataFrame) -> pd.DataFrame:
    """Items where a judge's vote differs from the human majority, the judge's confidence highest
    first: one row per (judge, item), with the item's internal id (``item_id``) for the record view,
    which shows the pair and every label (:func:`record`). Computed on whole columns: at 100,000
    items there are 50,000 rows."""
    from analysis.calibration import confidences
    from analysis.frames import majority, votes

    v = votes(labels)
    humans = sorted(labels.loc[labels["kind"] == "human", "annotator"].unique())
    judges = sorted(labels.loc[labels["kind"] == "llm_judge", "annotator"].unique())
    empty = pd.DataFrame(columns=[*DISAGREEMENT_COLUMNS, "item_id"])
    if not humans or not judges:
        return empty
    maj = majority(v, humans)
    theirs = v[v["annotator"].isin(judges).to_numpy()]
    at = maj.index.get_indexer(pd.Index(theirs["item_id"].to_numpy()))  # each judge vote's majority
    judge_vote = theirs["vote"].to_numpy(dtype=object)
    majority_vote = np.full(len(theirs), None, dtype=object)
    majority_vote[at >= 0] = maj.to_numpy(dtype=object)[at[at >= 0]]
    differ = (at >= 0) & (judge_vote != majority_vote)
    if not differ.any():
        return empty
    judge = theirs["annotator"].to_numpy(dtype=object)[differ]
    item_id = theirs["item_id"].to_numpy(dtype=np.int64)[differ]
    # the judge's highest stated confidence on the item, over its submitted labels
    sub = labels[(labels["status"] == "submitted").to_numpy() & labels["annotator"].isin(judges).to_numpy()]
    conf = sub.assign(conf=confidences(sub)).groupby(["annotator", "item_id"], observed=True)["conf"].max()
    stated = conf.reindex(pd.MultiIndex.from_arrays([judge, item_id])).to_numpy(dtype=float)
    rounded = np.full(len(stated), None, dtype=object)
    known = ~np.isnan(stated)
    rounded[known] = [round(c, 3) for c in stated[known].tolist()]
    info = items.set_index("item_id")
    category = np.array(info["category"].reindex(item_id).to_numpy(dtype=object), dtype=object)  # written below
    missing = pd.isna(category)
    category[missing] = ""
    category[~missing] = [str(c) for c in category[~missing]]
    frame = pd.DataFrame(
        {
            "judge": judge,
            "item": info["external_id"].reindex(item_id).to_numpy(dtype=object),
            "category": category,
            "judge vote": judge_vote[differ],
            "human majority": majority_vote[differ],
            "judge confidence": rounded.tolist(),  # floats (NaN where none) as a list of them gives
            "item_id": item_id,
        }
    )
    # the most confident first, then by judge and item (a stable sort of the three keys)
    order = np.lexsort((item_id, pd.factorize(judge, sort=True)[0], np.where(known, -stated, np.inf)))
    return frame.take(order)


def record(services: Services, username: str | None, task: str, item_id: int) -> str:
    """One item as the annotators saw it, for the disagreement browser: the prompt, the two
    responses side by side (rendered as on the annotator page: nothing from the data is markup), and
    every label with its rater, kind, verdict, the order the rater was shown and the rationale."""
    from annotation.models import Item, Label

    require(services, username, RESEARCH_ROLES)
    with services.session() as session:
        task_row = get_task(session, task)
        item = session.get(Item, int(item_id))
        if item is None or item.task_id != task_row.id:
            raise JudgelabError("this item is not part of the task", fix="refresh the dashboard")
        rows = session.execute(
            select(Annotator.name, Annotator.kind, Label.status, Label.value, Label.presented_order, Label.rationale)
            .join(Annotator, Label.annotator_id == Annotator.id)
            .where(Label.item_id == item.id)
            .order_by(Annotator.kind, Annotator.name, Label.replicate, Label.presented_order)
        ).all()
        texts = (item.external_id, item.prompt, item.response_a, item.response_b, item.model_a, item.model_b)
    external, prompt, a, b, model_a, model_b = texts
    shown = {"ab": "A left, B right", "ba": "B left, A right"}
    label_rows = "".join(
        "<tr>"
        + "".join(
            f"<td>{html.escape(str(cell))}</td>"
            for cell in (
                name,
                kind,
                value if status == "submitted" else status,
                shown.get(order or "", order or ""),
                _clip(rationale or "", 600),
            )
        )
        + "</tr>"
        for name, kind, status, value, order, rationale in rows
    )
    side = '<div class="jl-side"><h4>Response {0}{1}</h4><div class="jl-record-text">{2}</div></div>'
    model = {"A": f" ({html.escape(model_a)})" if model_a else "", "B": f" ({html.escape(model_b)})" if model_b else ""}
    return (
        f'<div class="jl-record"><h3>Item {html.escape(str(external))}</h3>'
        f'<h4>Prompt</h4><div class="jl-record-text">{safe_markdown(prompt)}</div>'
        f'<div class="jl-sides">{side.format("A", model["A"], safe_markdown(a))}'
        f"{side.format('B', model['B'], safe_markdown(b))}</div>"
        '<h4>Labels</h4><table class="jl-table"><thead><tr><th>rater</th><th>kind</th><th>verdict (A/B as stored)'
        "</th><th>shown to the rater</th><th>rationale</th></tr></thead>"
        f"<tbody>{label_rows}</tbody></table></div>"
    )


def judge_runs(services: Services, username: str | None, task: str | None = None) -> list[list[Any]]:
    require(services, username, RESEARCH_ROLES)
    with services.session() as session:
        stmt = (
            select(
                JudgeRun.id,
                Annotator.name,
                Task.name,
                JudgeRun.status,
                JudgeRun.n_total,
                JudgeRun.n_done,
                JudgeRun.n_failed,
                JudgeRun.started_at,
                JudgeRun.finished_at,
                JudgeRun.error,
            )
            .join(Annotator, JudgeRun.annotator_id == Annotator.id)
            .join(Task, JudgeRun.task_id == Task.id)
            .order_by(JudgeRun.id.desc())
            .limit(50)
        )
        if task:
            stmt = stmt.where(Task.name == task)
        return [[*row[:7], str(row[7])[:19], str(row[8] or "")[:19], row[9] or ""] for row in session.execute(stmt)]


def start_judge(
    services: Services, username: str | None, task: str, config_yaml: str, operator_config: str | None = None
) -> str:
    """Start a judge run in a background thread of the app process (the same runner as the CLI).
    The config is one the operator placed in ``JUDGELAB_JUDGE_CONFIG_DIR`` (``operator_config``, by
    file name) or inline YAML held to the web-safe subset (``annotation.judges.web_config``); the
    whole config is checked (its API key variable set, its task's protocol) before answering, and a
    start that fails is recorded on a ``failed`` run row with the reason."""
    from annotation.judges.config import OpenAIConfig
    from annotation.judges.runner import plan, record_failed_start, run_judge
    from annotation.judges.web_config import operator_config as read_operator_config
    from annotation.judges.web_config import protected_files, web_config

    require(services, username, ADMIN_ROLES)
    settings = services.settings
    protected = protected_files(settings.resolved_database_url())
    if operator_config:
        config = read_operator_config(settings.judge_config_dir, operator_config, protected=protected)
    else:
        config = web_config(
            config_yaml,
            allowed_hosts=settings.allowed_judge_hosts(),
            allowed_key_envs=settings.allowed_key_envs(),
            protected=protected,
        )
    with services.session() as session:
        get_task(session, task)
    try:
        if isinstance(config, OpenAIConfig):
            config.api_key()  # an unset variable fails here, not as a run stuck at 0 of n
        planned = plan(services, task, config, limit=None, retry_failed=False)  # what can fail, fails here
    except JudgelabError as exc:
        record_failed_start(services, task, config, str(exc))
        raise

    def work() -> None:
        # the runner ends the run row as 'failed' with the reason; the thread logs it and ends
        try:
            run_judge(services, task=task, config=config, progress=False, planned=planned)
        except Exception:
            log.exception("judge run %s on task %r failed", planned.run_id, task)

    threading.Thread(target=work, name=f"judge-{config.annotator_name()}", daemon=True).start()
    return (
        f"started judge {config.annotator_name()} on task {task!r} (run {planned.run_id}); watch it in the runs table"
    )


def operator_judge_configs(services: Services, username: str | None) -> list[str]:
    """The judge configs the operator placed for web admins (file names)."""
    from annotation.judges.web_config import operator_configs

    require(services, username, ADMIN_ROLES)
    return operator_configs(services.settings.judge_config_dir)


def cancel_run(services: Services, username: str | None, run_id: int) -> str:
    """Ask a running judge to stop (it checks the flag between batches, in any process)."""
    require(services, username, ADMIN_ROLES)
    with services.session() as session:
        run = session.get(JudgeRun, int(run_id))
        if run is None or run.status != "running":
            raise JudgelabError(f"no running judge run with id {run_id}", fix="pick a run whose status is 'running'")
        run.status = "cancelling"
    return f"run {run_id}: cancellation requested"
