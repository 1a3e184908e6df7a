"""The Judges tab (admins): start a judge run on a task, cancel a run."""

from __future__ import annotations

from typing import Any

import gradio as gr

from annotation.services import Services
from app import dashboard
from app.ui_events import guarded, user_of

EXAMPLE_CONFIG = "model: smollm2-135m\nbase_url: http://127.0.0.1:8000/v1\nmode: logprobs\n"
NOTE = (
    "Pick a judge config the operator placed on the server, or type one: typed configs use backend "
    "`openai` or `fake`, a `builtin` or inline template, and only the hosts and key variables the "
    "operator allowed (`JUDGELAB_WEB_JUDGE_HOSTS`, `JUDGELAB_WEB_API_KEY_ENVS`)."
)


def build_judges_tab(services: Services) -> tuple[gr.Tab, gr.Dropdown]:
    with gr.Tab("Judges (admins)", id="judges", visible=False) as tab:
        task = gr.Dropdown(label="Task", choices=[], interactive=True, allow_custom_value=True)
        gr.Markdown(NOTE)
        placed = gr.Dropdown(label="Operator's judge config", choices=[], interactive=True, value=None)
        config = gr.Code(
            label="Or a judge config (YAML, see docs/judges.md)",
            value=services.settings.web_judge_example or EXAMPLE_CONFIG,
        )
        with gr.Row():
            start = gr.Button("Start", variant="primary")
            cancel_id = gr.Number(label="Run id to cancel", precision=0)
            cancel = gr.Button("Cancel run")
        message = gr.Markdown()

    @guarded
    def on_start(name: str, yaml_text: str, chosen: str | None, request: gr.Request) -> str:
        return dashboard.start_judge(services, user_of(request), name, yaml_text, chosen or None)

    @guarded
    def on_list(request: gr.Request) -> Any:
        return gr.Dropdown(choices=dashboard.operator_judge_configs(services, user_of(request)))

    @guarded
    def on_cancel(run_id: float | None, request: gr.Request) -> str:
        if run_id is None:
            raise gr.Error("give the id of the run to cancel")
        return dashboard.cancel_run(services, user_of(request), int(run_id))

    start.click(on_start, [task, config, placed], [message], api_name="start_judge")
    placed.focus(on_list, [], [placed], api_name="judge_configs")
    cancel.click(on_cancel, [cancel_id], [message], api_name="cancel_judge")
    return tab, task  # the tab (shown by role) and its task picker, which the page's open event fills
