"""The Dashboard tab (researchers): the headline table, the figures, swap consistency, strata and
the disagreement browser, from ``app.dashboard``; optional refresh every 30 s."""

from __future__ import annotations

from typing import Any

import gradio as gr

from annotation.services import Services
from app import annotate, dashboard
from app.headline import HEADERS, flag_summary
from app.render import markdown_text
from app.ui_events import guarded, user_of

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


def build_dashboard_tab(services: Services) -> gr.Dropdown:
    plots: dict[str, gr.Plot] = {}
    with gr.Tab("Dashboard (researchers)"):
        with gr.Row():
            task = gr.Dropdown(
                label="Task", choices=[], interactive=True, allow_custom_value=True, elem_id="jl-dash-task"
            )
            raters = gr.Textbox(label="Raters (e.g. name:expert_*, kind:llm_judge; empty = all)", value="")
            by = gr.Textbox(label="Stratify by (category, turn, model_a, any metadata key)", value="")
            refresh = gr.Button("Refresh", variant="primary", elem_id="jl-dash-refresh")
        message = gr.Markdown(elem_id="jl-dash-msg")
        headline = gr.Dataframe(
            headers=list(HEADERS),
            interactive=False,
            wrap=True,
            label="Judges against humans (95% CIs)",
            elem_id="jl-headline",
        )
        for start in range(0, 6, 2):
            with gr.Row():
                for key, label, elem_id in FIGURES[start : start + 2]:
                    plots[key] = gr.Plot(label=label, elem_id=elem_id)
        key, label, elem_id = FIGURES[6]
        plots[key] = gr.Plot(label=label, elem_id=elem_id)
        swap_tbl = gr.Dataframe(label="Swap consistency (raters labeled in both orders)", interactive=False)
        strata_tbl = gr.Dataframe(
            label="Agreement by stratum (exploratory: per-stratum intervals, not simultaneous; "
            "see the heterogeneity p-value and the pooled row)",
            interactive=False,
        )
        auto = gr.Checkbox(label="Refresh every 30 s while labels arrive", value=False)
        timer = gr.Timer(30, active=False)
        disagree_tbl = gr.Dataframe(
            label="Disagreements: judge vs human majority (by judge confidence)",
            interactive=False,
            wrap=True,
            elem_id="jl-disagreements",
        )

    @guarded
    def on_dashboard(name: str, rater_sel: str, field: str, request: gr.Request) -> tuple[Any, ...]:
        data = dashboard.dashboard(services, user_of(request), name, by=field.strip() or None, raters=rater_sel)
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
        return (
            summary,
            data.headline,
            *(figure(key) for key, _, _ in FIGURES),
            data.swap,
            data.strata,
            data.disagreements,
        )

    @guarded
    def on_auto(on: bool, request: gr.Request) -> Any:
        annotate.require(services, user_of(request), annotate.RESEARCH_ROLES)
        return gr.Timer(active=bool(on))

    outputs = [message, headline, *plots.values(), swap_tbl, strata_tbl, disagree_tbl]
    refresh.click(on_dashboard, [task, raters, by], outputs, api_name="dashboard")
    timer.tick(on_dashboard, [task, raters, by], outputs, api_name="dashboard_tick")
    auto.change(on_auto, [auto], [timer], api_name="dashboard_auto")
    return task  # the task picker, which the page's open event fills
