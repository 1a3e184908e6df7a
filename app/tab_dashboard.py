"""The Dashboard tab (researchers): the headline table, the figures, swap consistency, strata and
the disagreement browser (a table of the disagreements and a record view of one item at a time),
from ``app.dashboard``. It opens on the first task when the tab is first shown, refreshes when
another task is chosen, and (optionally) every 30 s. A refresh that fails says why and clears what
it no longer shows."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import gradio as gr
import pandas as pd

from annotation.services import Services
from app import annotate, dashboard
from app.dashboard import DISAGREEMENT_COLUMNS
from app.headline import flag_summary, headline_html
from app.messages import EXPECTED, message_for
from app.render import markdown_text
from app.tab_annotate import TabShown
from app.tables import readable
from app.ui_events import guarded, user_of
from contracts.vocab import RESEARCH_ROLES

# the dashboard event's outputs, in order; the figures by their name in analysis.plots.all_figures
FIGURES = (
    ("agreement_heatmap", "Agreement between raters", "jl-fig-heatmap"),
    ("agreement_forest", "Agreement with CIs", "jl-fig-forest"),
    ("position_bias", "Position bias", "jl-fig-position"),
    ("length_bias", "Length bias", "jl-fig-length"),
    ("confusion_", "Confusion (first judge vs human majority)", "jl-fig-confusion"),
    ("system_ranking", "System ranking", "jl-fig-ranking"),
    ("calibration", "Calibration", "jl-fig-calibration"),
)
ALL = "(all)"
# the dashboard event's outputs, in order (a script or a test reads one by its name's index; new
# outputs go at the end, so positions scripts already read stay)
DASHBOARD_OUTPUTS = (
    "message",
    "headline",
    *(f"figure:{key}" for key, _, _ in FIGURES),
    "swap",
    "strata",
    "disagreements",
    "judge_filter",
    "category_filter",
    "question",
    "found",
    "at",
    "position",
    "record",
    "estimates",
)
CSS = """
.jl-table { width: 100%; table-layout: auto; border-collapse: collapse; font-size: 0.92em; }
.jl-table th, .jl-table td { border: 1px solid var(--border-color-primary); padding: 4px 6px;
    overflow-wrap: anywhere; vertical-align: top; }
.jl-headline td:first-child { font-weight: 600; }
.jl-headline td:nth-child(6) { white-space: nowrap; }  /* n */
.jl-sides { display: flex; gap: 12px; } .jl-side { flex: 1 1 0; min-width: 0; }
.jl-record-text { border: 1px solid var(--border-color-primary); border-radius: 8px; padding: 8px;
    max-height: 50vh; overflow-y: auto; overflow-wrap: anywhere; }
.jl-record-text pre { white-space: pre-wrap; }
"""


def _pick(rows: list[dict[str, Any]], judge: str | None, category: str | None) -> list[dict[str, Any]]:
    return [
        r
        for r in rows
        if (not judge or judge == ALL or r["judge"] == judge)
        and (not category or category == ALL or r["category"] == category)
    ]


@dataclass
class DashboardTab:
    tab: gr.Tab
    task: gr.Dropdown  # the task picker, which the page's open event fills
    shown: TabShown  # also run after the page opens on a researcher's dashboard


def build_dashboard_tab(services: Services) -> DashboardTab:
    plots: dict[str, gr.Plot] = {}
    # built inside the Tabs: every component goes inside its Tab (a component that is a direct child
    # of the Tabs is drawn as one more tab button)
    with gr.Tab("Dashboard (researchers)", id="dashboard", visible=False) as tab:
        with gr.Row():
            task = gr.Dropdown(
                label="Task",
                choices=[],
                interactive=True,
                allow_custom_value=True,
                elem_id="jl-dash-task",
                elem_classes=["jl-picker"],
            )
            question = gr.Dropdown(
                label="Question",
                choices=[],
                interactive=True,
                allow_custom_value=True,
                visible=False,
                elem_id="jl-dash-question",
                elem_classes=["jl-picker"],
            )
            raters = gr.Textbox(label="Raters (e.g. name:expert_*, kind:llm_judge; empty = all)", value="")
            by = gr.Textbox(label="Stratify by (category, turn, model_a, any metadata key)", value="")
            refresh = gr.Button("Refresh", variant="primary", elem_id="jl-dash-refresh")
        found = gr.State({})  # the refresh's disagreements: {"task", "rows"}
        at = gr.State(0)  # which of the filtered rows the record view shows
        message = gr.Markdown(elem_id="jl-dash-msg")
        gr.Markdown("#### Judges against humans (95% CIs)")
        headline = gr.HTML(elem_id="jl-headline")
        for start in range(0, 6, 2):
            with gr.Row():
                for key, label, elem_id in FIGURES[start : start + 2]:
                    plots[key] = gr.Plot(label=label, elem_id=elem_id)
        key, label, elem_id = FIGURES[6]
        plots[key] = gr.Plot(label=label, elem_id=elem_id)
        swap_tbl = gr.Dataframe(
            label="Swap consistency (raters labeled in both orders)", interactive=False, wrap=True, elem_id="jl-swap"
        )
        strata_tbl = gr.Dataframe(
            label="Agreement by stratum (exploratory: per-stratum intervals, not simultaneous; "
            "see the heterogeneity p-value and the pooled row)",
            interactive=False,
            wrap=True,
            elem_id="jl-strata",
        )
        estimates_tbl = gr.Dataframe(
            label="What the humans would say: win rates human-only | judge-only (biased, no interval) | "
            "judge-assisted (PPI++), from human labels known to be a random sample (judgelab estimate, plan)",
            interactive=False,
            wrap=True,
            elem_id="jl-estimates",
        )
        auto = gr.Checkbox(label="Refresh every 30 s while labels arrive", value=False)
        timer = gr.Timer(30, active=False)
        gr.Markdown("#### Disagreements: judge vs human majority (the judge's most confident first)")
        with gr.Row():
            judge_filter = gr.Dropdown(
                label="Judge", choices=[ALL], value=ALL, interactive=True, elem_id="jl-dis-judge"
            )
            category_filter = gr.Dropdown(
                label="Category", choices=[ALL], value=ALL, interactive=True, elem_id="jl-dis-category"
            )
        disagree_tbl = gr.Dataframe(
            headers=DISAGREEMENT_COLUMNS,
            interactive=False,
            wrap=True,
            max_height=300,
            label="Click a row to read it below",
            elem_id="jl-disagreements",
        )
        with gr.Row():
            prev_btn = gr.Button("Previous", size="sm", elem_id="jl-rec-prev")
            position = gr.Markdown(elem_id="jl-rec-pos")
            next_btn = gr.Button("Next", size="sm", elem_id="jl-rec-next")
        record = gr.HTML(elem_id="jl-record")

    def view_record(name: str, rows: list[dict[str, Any]], pos: int, request: gr.Request) -> tuple[Any, ...]:
        annotate.require(services, user_of(request), RESEARCH_ROLES)
        if not rows:
            return 0, "no disagreement to show", ""
        pos = max(0, min(pos, len(rows) - 1))
        row = rows[pos]
        judge, item = markdown_text(str(row["judge"])), markdown_text(str(row["item"]))
        where = f"**{pos + 1} of {len(rows)}**: {judge} on item {item}"
        return pos, where, dashboard.record(services, user_of(request), name, row["item_id"])

    def table(rows: list[dict[str, Any]]) -> pd.DataFrame:
        return (
            readable(pd.DataFrame(rows, columns=DISAGREEMENT_COLUMNS))
            if rows
            else pd.DataFrame(columns=DISAGREEMENT_COLUMNS)
        )

    def cleared(why: str) -> tuple[Any, ...]:
        return (
            why,
            "",
            *(None for _ in FIGURES),
            pd.DataFrame(),
            pd.DataFrame(),
            table([]),
            gr.update(choices=[ALL], value=ALL),
            gr.update(choices=[ALL], value=ALL),
            gr.update(),
            {},
            0,
            "",
            "",
            pd.DataFrame(),
        )

    @guarded
    def on_dashboard(
        name: str | None,
        rater_sel: str,
        field: str,
        asked: str | None,
        request: gr.Request,
        progress: gr.Progress = gr.Progress(),  # noqa: B008 (Gradio injects the tracker by this default)
    ) -> tuple[Any, ...]:
        annotate.require(services, user_of(request), RESEARCH_ROLES)  # refused: the error path
        if not name:
            return cleared("Choose a task.")
        try:
            data = dashboard.dashboard(
                services,
                user_of(request),
                name,
                by=field.strip() or None,
                raters=rater_sel,
                question=asked or None,
                progress=lambda share, what: progress(share, desc=what),
            )
        except EXPECTED as exc:  # the page shows why, and nothing of the previous task stays
            return cleared(f"**Could not refresh:** {markdown_text(message_for(exc))}")
        figs = data.figures

        def figure(key: str) -> Any:
            if key.endswith("_"):  # the first of its kind (one confusion matrix per judge)
                return next((f for k, f in figs.items() if k.startswith(key)), None)
            return figs.get(key)

        settings = data.report.settings
        summary = (
            f"{data.report.n_items} items; humans {len(data.report.humans)}, judges {len(data.report.judges)}; "
            f"CIs: {settings.ci} over {settings.n_resampling_units} {settings.resampling_unit}s"
        )
        flagged = flag_summary(data.report)
        if flagged:
            summary += f"\n\n{markdown_text(flagged)}"
        rows: list[dict[str, Any]] = [{str(k): v for k, v in r.items()} for r in data.disagreements.to_dict("records")]
        judges = sorted({str(r["judge"]) for r in rows})
        categories = sorted({str(r["category"]) for r in rows if r["category"]})
        pos, where, shown = view_record(name, rows, 0, request)
        return (
            summary,
            headline_html(data.report),
            *(figure(key) for key, _, _ in FIGURES),
            readable(data.swap),
            readable(data.strata),
            table(rows),
            gr.update(choices=[ALL, *judges], value=ALL),
            gr.update(choices=[ALL, *categories], value=ALL),
            gr.update(choices=data.questions, value=data.question, visible=len(data.questions) > 1),
            {"task": name, "rows": rows},
            pos,
            where,
            shown,
            readable(data.estimates),
        )

    def on_task_pick(name: str | None, rater_sel: str, field: str, request: gr.Request) -> tuple[Any, ...]:
        """Another task: shown on its first question."""
        return on_dashboard(name, rater_sel, field, None, request)

    def on_first_open(
        name: str | None, rater_sel: str, field: str, asked: str | None, seen: dict[str, Any], request: gr.Request
    ) -> tuple[Any, ...]:
        """The tab is shown (opened, or the page opened on it): show the chosen task, unless it is
        already on screen; an annotator's page (no such tab) gets nothing, and no error."""
        on_screen = isinstance(seen, dict) and seen.get("task") == name and name
        if on_screen or annotate.role(services, user_of(request)) not in RESEARCH_ROLES:
            return tuple(gr.skip() for _ in outputs)
        return on_dashboard(name, rater_sel, field, asked, request)

    @guarded
    def on_filter(seen: dict[str, Any], judge: str, category: str, request: gr.Request) -> tuple[Any, ...]:
        rows = _pick(seen.get("rows", []), judge, category)
        return (table(rows), *view_record(seen.get("task", ""), rows, 0, request))

    @guarded
    def on_move(
        step: int, seen: dict[str, Any], judge: str, category: str, pos: int, request: gr.Request
    ) -> tuple[Any, ...]:
        return view_record(seen.get("task", ""), _pick(seen.get("rows", []), judge, category), pos + step, request)

    @guarded
    def on_row(
        seen: dict[str, Any], judge: str, category: str, evt: gr.SelectData, request: gr.Request
    ) -> tuple[Any, ...]:
        row = evt.index[0] if isinstance(evt.index, list | tuple) else evt.index
        return view_record(seen.get("task", ""), _pick(seen.get("rows", []), judge, category), int(row), request)

    @guarded
    def on_auto(on: bool, request: gr.Request) -> Any:
        annotate.require(services, user_of(request), RESEARCH_ROLES)
        return gr.Timer(active=bool(on))

    outputs = [
        message,
        headline,
        *plots.values(),
        swap_tbl,
        strata_tbl,
        disagree_tbl,
        judge_filter,
        category_filter,
        question,
        found,
        at,
        position,
        record,
        estimates_tbl,
    ]
    assert len(outputs) == len(DASHBOARD_OUTPUTS)
    inputs = [task, raters, by, question]
    refresh.click(on_dashboard, inputs, outputs, api_name="dashboard")
    task.input(on_task_pick, [task, raters, by], outputs, api_name="dashboard_task")
    question.input(on_dashboard, inputs, outputs, api_name="dashboard_question")
    on_shown = TabShown(on_first_open, [*inputs, found], outputs)
    timer.tick(on_dashboard, inputs, outputs, api_name="dashboard_tick")
    auto.change(on_auto, [auto], [timer], api_name="dashboard_auto")
    record_view = [at, position, record]
    for name, dropdown in (("judge", judge_filter), ("category", category_filter)):
        dropdown.input(
            on_filter,
            [found, judge_filter, category_filter],
            [disagree_tbl, *record_view],
            api_name=f"record_{name}_filter",
        )

    def on_previous(seen: dict[str, Any], j: str, c: str, pos: int, request: gr.Request) -> tuple[Any, ...]:
        return on_move(-1, seen, j, c, pos, request)

    def on_next(seen: dict[str, Any], j: str, c: str, pos: int, request: gr.Request) -> tuple[Any, ...]:
        return on_move(1, seen, j, c, pos, request)

    for button, handler, name in ((prev_btn, on_previous, "record_previous"), (next_btn, on_next, "record_next")):
        button.click(
            handler,
            [found, judge_filter, category_filter, at],
            record_view,
            api_name=name,
        )
    disagree_tbl.select(on_row, [found, judge_filter, category_filter], record_view, api_name="record_row")
    return DashboardTab(tab, task, on_shown)
