"""The Progress tab (researchers): labels per annotator of a task, and the judge runs."""

from __future__ import annotations

from typing import Any

import gradio as gr

from annotation.services import Services
from app import annotate, dashboard
from app.tab_annotate import TabShown
from app.ui_events import guarded, user_of

PROGRESS_HEADERS = ["annotator", "kind", "submitted", "skipped", "failed", "median s/item", "gold accuracy (n)"]
RUN_HEADERS = ["run", "judge", "task", "status", "total", "done", "failed", "started", "finished", "error"]


def build_progress_tab(services: Services) -> tuple[gr.Tab, gr.Dropdown, TabShown]:
    with gr.Tab("Progress (researchers)", id="progress", visible=False) as tab:
        task = gr.Dropdown(
            label="Task", choices=[], interactive=True, allow_custom_value=True, elem_classes=["jl-picker"]
        )
        refresh = gr.Button("Refresh")
        progress_tbl = gr.Dataframe(headers=PROGRESS_HEADERS, interactive=False)
        runs_tbl = gr.Dataframe(headers=RUN_HEADERS, interactive=False, label="Judge runs")

    @guarded
    def on_runs(name: str, request: gr.Request) -> list[list[Any]]:
        return dashboard.judge_runs(services, user_of(request), name or None)

    @guarded
    def on_progress(name: str, request: gr.Request) -> list[list[Any]]:
        return annotate.researcher_progress(services, user_of(request), name)

    refresh.click(on_runs, [task], [runs_tbl], api_name="judge_runs")
    refresh.click(on_progress, [task], [progress_tbl], api_name="task_progress")

    @guarded
    def on_both(name: str | None, request: gr.Request) -> tuple[Any, ...]:
        if not name:
            return [], []
        return on_progress(name, request), on_runs(name, request)

    # the tab shows the chosen task when opened (app.ui) and when another task is chosen
    task.input(on_both, [task], [progress_tbl, runs_tbl], api_name="progress_task")
    # the tab (shown by role), its task picker (which the page's open event fills), and what runs
    # when the tab comes on screen
    return tab, task, TabShown(on_both, [task], [progress_tbl, runs_tbl])
