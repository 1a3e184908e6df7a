"""``build_app(services)``: the one place the Gradio Blocks are built. Handlers are closures over
``services`` that read the user from ``gr.Request`` (never from a request field) and check the
role themselves, since Gradio exposes every event as an API endpoint. Nothing per-user lives at
module level: per-tab state is in ``gr.State``."""

from __future__ import annotations

import functools
import importlib.util
import os
import sys
from typing import Any

import anyio
import gradio as gr

from annotation.accounts import authenticate
from annotation.services import Services
from app import annotate, dashboard
from app.annotate import ItemViewModel
from app.messages import EXPECTED, message_for
from app.report_html import HEADLINE

KEYS_JS = """
<script>
document.addEventListener('keydown', (e) => {
  const t = e.target;
  const tag = (t && t.tagName) || '';
  if (tag === 'TEXTAREA' || (tag === 'INPUT' && !['radio', 'checkbox'].includes(t.type))) return;
  if (e.ctrlKey || e.metaKey || e.altKey) return;
  const radios = document.querySelectorAll('#jl-choice input[type=radio]');
  if (/^[0-9]$/.test(e.key) && radios.length) {
    const idx = e.key === '0' ? 9 : parseInt(e.key, 10) - 1;
    if (radios[idx]) { radios[idx].click(); e.preventDefault(); }
  } else if (e.key === 'Enter') {
    const b = document.querySelector('#jl-submit');
    if (b) { b.click(); e.preventDefault(); }
  } else if (e.key === 'Backspace') {
    const b = document.querySelector('#jl-back');
    if (b) { b.click(); e.preventDefault(); }
  }
});
</script>
"""

CSS = """
.jl-response { border: 1px solid var(--border-color-primary); border-radius: 8px; padding: 12px;
               overflow-wrap: anywhere; word-break: break-word; max-height: 60vh; overflow-y: auto; }
.jl-response pre, .jl-prompt pre { white-space: pre-wrap; overflow-wrap: anywhere; }
.jl-prompt { overflow-wrap: anywhere; word-break: break-word; }
#jl-keys { opacity: 0.75; font-size: 0.9em; }
"""


def _user(request: gr.Request | None) -> str | None:
    return getattr(request, "username", None) if request is not None else None


def _guard(fn: Any) -> Any:
    """Turn judgelab's errors into a Gradio error message the page shows."""

    @functools.wraps(fn)  # keeps the signature: Gradio injects gr.Request by it
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except EXPECTED as exc:
            raise gr.Error(message_for(exc)) from None

    return wrapped


def _on_the_loop_when_free(services: Services, fn: Any) -> Any:
    """On SQLite, run an answer handler (a few ms of local work) on Gradio's event loop instead of a
    worker thread when the process's write lock is free: every write waits for that one lock anyway,
    and the hop to a thread and back, with the two threads taking turns at the GIL, cost more than
    the handler (benchmarks/bench_annotate.py). When the lock is taken (a judge run in this process
    is writing) the handler goes to a thread as before, so the loop never waits for this process's
    own threads; another process holding SQLite's write lock (a large import) does make it wait
    (docs/architecture.md). PostgreSQL writes run concurrently, on threads."""
    lock = services.sqlite_lock
    if lock is None:
        return fn

    @functools.wraps(fn)  # keeps the signature: Gradio injects gr.Request by it
    async def run(*args: Any, **kwargs: Any) -> Any:
        if lock.acquire(blocking=False):
            try:
                return fn(*args, **kwargs)
            finally:
                lock.release()
        return await anyio.to_thread.run_sync(functools.partial(fn, *args, **kwargs))

    return run


def build_app(services: Services) -> gr.Blocks:
    with gr.Blocks(title="judgelab", analytics_enabled=False) as app:
        state = gr.State({})  # per browser tab: task, item id, when it was shown
        with gr.Tab("Annotate"):
            with gr.Row():
                task_dd = gr.Dropdown(label="Task", choices=[], interactive=True, scale=2, allow_custom_value=True)
                progress_md = gr.Markdown(elem_id="jl-progress")
            with gr.Accordion("Guidelines", open=False):
                guide_md = gr.Markdown()
            message_md = gr.Markdown(elem_id="jl-message")
            prompt_md = gr.Markdown(
                elem_classes=["jl-prompt"], elem_id="jl-prompt", sanitize_html=True, line_breaks=True
            )
            with gr.Row(equal_height=False):
                with gr.Column():
                    left_title = gr.Markdown("### Left")
                    left_md = gr.Markdown(
                        elem_classes=["jl-response"], elem_id="jl-left", sanitize_html=True, line_breaks=True
                    )
                with gr.Column() as right_col:
                    gr.Markdown("### Right")
                    right_md = gr.Markdown(
                        elem_classes=["jl-response"], elem_id="jl-right", sanitize_html=True, line_breaks=True
                    )
            choice = gr.Radio(label="Your answer (keys 1-4, Enter submits)", choices=[], elem_id="jl-choice")
            with gr.Row():
                rationale = gr.Textbox(label="Why? (optional)", lines=2, visible=False, scale=3)
                confidence = gr.Radio(label="Confidence", choices=list(annotate.CONFIDENCES), visible=False, scale=2)
            with gr.Row():
                back_btn = gr.Button("Back", elem_id="jl-back", size="sm")
                skip_reason = gr.Textbox(placeholder="reason for skipping", show_label=False, scale=2)
                skip_btn = gr.Button("Skip", elem_id="jl-skip", size="sm")
                submit_btn = gr.Button("Submit", variant="primary", elem_id="jl-submit")
            gr.Markdown("Keys: **1-4** choose, **Enter** submit, **Backspace** back.", elem_id="jl-keys")
            # the item on screen, sent back by the page with each answer: a double click sends the
            # same item twice (the server-side state may already show the next one)
            shown_item = gr.Number(visible=False, precision=0, elem_id="jl-item")
        with gr.Tab("Progress (researchers)"):
            progress_task = gr.Dropdown(label="Task", choices=[], interactive=True, allow_custom_value=True)
            progress_btn = gr.Button("Refresh")
            progress_tbl = gr.Dataframe(
                headers=["annotator", "kind", "submitted", "skipped", "failed", "median s/item", "gold accuracy (n)"],
                interactive=False,
            )
            runs_tbl = gr.Dataframe(
                headers=["run", "judge", "task", "status", "total", "done", "failed", "started", "finished", "error"],
                interactive=False,
                label="Judge runs",
            )
        with gr.Tab("Dashboard (researchers)"):
            with gr.Row():
                dash_task = gr.Dropdown(
                    label="Task", choices=[], interactive=True, allow_custom_value=True, elem_id="jl-dash-task"
                )
                dash_raters = gr.Textbox(label="Raters (e.g. name:expert_*, kind:llm_judge; empty = all)", value="")
                dash_by = gr.Textbox(label="Stratify by (category, turn, model_a, any metadata key)", value="")
                dash_btn = gr.Button("Refresh", variant="primary", elem_id="jl-dash-refresh")
            dash_msg = gr.Markdown(elem_id="jl-dash-msg")
            headline = gr.Dataframe(
                headers=list(HEADLINE),
                interactive=False,
                wrap=True,
                label="Judges against humans (95% CIs)",
                elem_id="jl-headline",
            )
            with gr.Row():
                fig_heat = gr.Plot(label="Agreement between raters", elem_id="jl-fig-heatmap")
                fig_forest = gr.Plot(label="Agreement with CIs", elem_id="jl-fig-forest")
            with gr.Row():
                fig_pos = gr.Plot(label="Position bias", elem_id="jl-fig-position")
                fig_len = gr.Plot(label="Length bias", elem_id="jl-fig-length")
            with gr.Row():
                fig_conf = gr.Plot(label="Confusion (first judge vs human majority)", elem_id="jl-fig-confusion")
                fig_rank = gr.Plot(label="System ranking", elem_id="jl-fig-ranking")
            fig_cal = gr.Plot(label="Calibration", elem_id="jl-fig-calibration")
            swap_tbl = gr.Dataframe(label="Swap consistency (raters labeled in both orders)", interactive=False)
            strata_tbl = gr.Dataframe(label="Agreement by stratum", interactive=False)
            auto = gr.Checkbox(label="Refresh every 30 s while labels arrive", value=False)
            timer = gr.Timer(30, active=False)
            disagree_tbl = gr.Dataframe(
                label="Disagreements: judge vs human majority (by judge confidence)",
                interactive=False,
                wrap=True,
                elem_id="jl-disagreements",
            )
        with gr.Tab("Judges (admins)"):
            judge_task = gr.Dropdown(label="Task", choices=[], interactive=True, allow_custom_value=True)
            judge_yaml = gr.Code(
                label="Judge config (YAML, see docs/judges.md)",
                language="yaml",
                value="model: smollm2-135m\nbase_url: http://127.0.0.1:8000/v1\nmode: logprobs\n",
            )
            with gr.Row():
                judge_start = gr.Button("Start", variant="primary")
                cancel_id = gr.Number(label="Run id to cancel", precision=0)
                judge_cancel = gr.Button("Cancel run")
            judge_msg = gr.Markdown()

        # what every item view sets (submit, skip, back, open, task change), and what only changes
        # with the task (the layout: left/right titles, which answer buttons, which optional fields)
        outputs = [
            state,
            progress_md,
            message_md,
            prompt_md,
            left_md,
            right_md,
            choice,
            rationale,
            confidence,
            skip_reason,
            shown_item,
        ]
        layout_outputs = [left_title, right_col]

        def show(view: ItemViewModel, *, layout: bool = False) -> tuple[Any, ...]:
            """The item outputs. Plain values where the layout stays (a label submitted: the next
            item of the same task), component updates only where it changes (``layout``: a task was
            opened, or going back re-enables answers): each update costs Gradio a component rebuild."""
            new_state = {"task": view.task, "item_id": view.item_id, "shown_at": view.shown_at}
            has_item = view.item_id is not None
            prompt = view.prompt_md if has_item else ""
            if has_item and view.reference_md:
                prompt += f"\n\n**Reference answer**\n\n{view.reference_md}"
            answers: Any = view.current
            why: Any = ""
            sure: Any = None
            if layout or not has_item:
                answers = gr.update(choices=view.choices, value=view.current, interactive=has_item)
                why = gr.update(visible=view.ask_rationale, value="")
                sure = gr.update(visible=view.ask_confidence, value=None, choices=view.confidence_choices)
            return (
                new_state,
                view.progress,
                f"**{view.message}**" if view.message else "",
                prompt,
                view.left_md if has_item else "",
                view.right_md if has_item else "",
                answers,
                why,
                sure,
                "",
                view.item_id,
            )

        def show_layout(view: ItemViewModel) -> tuple[Any, ...]:
            return ("### Left" if view.pairwise else "### Response", gr.update(visible=view.pairwise))

        @_guard
        def on_load(request: gr.Request) -> tuple[Any, ...]:
            names = annotate.task_names(services, _user(request))
            first = names[0] if names else None
            view = (
                annotate.open_task(services, _user(request), first)
                if first
                else ItemViewModel(task="", item_id=None, message="No tasks yet.")
            )
            guide = annotate.guidelines(services, _user(request), first) if first else ""
            pick = gr.update(choices=names, value=first)
            return (pick, guide, pick, pick, pick, *show_layout(view), *show(view, layout=True))

        @_guard
        def on_task(task: str, request: gr.Request) -> tuple[Any, ...]:
            view = annotate.open_task(services, _user(request), task)
            guide = annotate.guidelines(services, _user(request), task)
            return (guide, *show_layout(view), *show(view, layout=True))

        def on_screen(st: dict[str, Any], item: object) -> tuple[int | None, float | None]:
            """The item the page showed (and when, if the tab's state still shows it too); the
            answer events skip Gradio's preprocessing, so the values arrive as sent."""
            shown = annotate.item_id_from_page(item)
            item_id = shown if shown is not None else st.get("item_id")
            return item_id, (st.get("shown_at") if st.get("item_id") == item_id else None)

        @_guard
        def on_submit(
            st: dict[str, Any], item: object, answer: object, why: object, conf: object, request: gr.Request
        ) -> tuple[Any, ...]:
            item_id, shown_at = on_screen(st, item)
            view = annotate.submit(
                services,
                _user(request),
                st.get("task", ""),
                item_id,
                annotate.answer_from_page(answer),
                rationale=annotate.text_from_page("rationale", why),
                confidence=conf,
                shown_at=shown_at,
            )
            # from "nothing left" (no item shown) the answer buttons come back with the next item
            return show(view, layout=item_id is None)

        @_guard
        def on_skip(st: dict[str, Any], item: object, reason: object, request: gr.Request) -> tuple[Any, ...]:
            item_id, _ = on_screen(st, item)
            why = annotate.text_from_page("reason", reason)
            view = annotate.skip(services, _user(request), st.get("task", ""), item_id, why)
            return show(view, layout=item_id is None)

        @_guard
        def on_back(st: dict[str, Any], item: object, request: gr.Request) -> tuple[Any, ...]:
            item_id, _ = on_screen(st, item)
            # going back from the end of a task re-enables the answer buttons
            return show(annotate.back(services, _user(request), st.get("task", ""), item_id), layout=True)

        @_guard
        def on_progress(task: str, request: gr.Request) -> list[list[Any]]:
            return annotate.researcher_progress(services, _user(request), task)

        def on_ping(request: gr.Request) -> str:
            """A no-op round trip (the baseline of the latency benchmark); login still required."""
            return "pong" if _user(request) else ""

        ping_out = gr.Textbox(visible=False)
        ping_btn = gr.Button(visible=False)
        ping_btn.click(on_ping, None, [ping_out], api_name="ping", concurrency_limit=None)

        @_guard
        def on_runs(task: str, request: gr.Request) -> list[list[Any]]:
            return dashboard.judge_runs(services, _user(request), task or None)

        @_guard
        def on_dashboard(task: str, raters: str, by: str, request: gr.Request) -> tuple[Any, ...]:
            data = dashboard.dashboard(services, _user(request), task, by=by.strip() or None, raters=raters)
            figs = data.figures
            confusion = next((f for k, f in figs.items() if k.startswith("confusion_")), None)
            return (
                f"{data.report['n_items']} items; humans {len(data.report['humans'])}, judges "
                f"{len(data.report['judges'])}",
                data.headline,
                figs.get("agreement_heatmap"),
                figs.get("agreement_forest"),
                figs.get("position_bias"),
                figs.get("length_bias"),
                confusion,
                figs.get("system_ranking"),
                figs.get("calibration"),
                data.swap,
                data.strata,
                data.disagreements,
            )

        @_guard
        def on_auto(on: bool, request: gr.Request) -> Any:
            annotate.require(services, _user(request), annotate.RESEARCH_ROLES)
            return gr.Timer(active=bool(on))

        @_guard
        def on_start_judge(task: str, config: str, request: gr.Request) -> str:
            return dashboard.start_judge(services, _user(request), task, config)

        @_guard
        def on_cancel(run_id: float | None, request: gr.Request) -> str:
            if run_id is None:
                raise gr.Error("give the id of the run to cancel")
            return dashboard.cancel_run(services, _user(request), int(run_id))

        dash_outputs = [
            dash_msg,
            headline,
            fig_heat,
            fig_forest,
            fig_pos,
            fig_len,
            fig_conf,
            fig_rank,
            fig_cal,
            swap_tbl,
            strata_tbl,
            disagree_tbl,
        ]
        dash_btn.click(on_dashboard, [dash_task, dash_raters, dash_by], dash_outputs, api_name="dashboard")
        timer.tick(on_dashboard, [dash_task, dash_raters, dash_by], dash_outputs, api_name="dashboard_tick")
        auto.change(on_auto, [auto], [timer], api_name="dashboard_auto")
        progress_btn.click(on_runs, [progress_task], [runs_tbl], api_name="judge_runs")
        judge_start.click(on_start_judge, [judge_task, judge_yaml], [judge_msg], api_name="start_judge")
        judge_cancel.click(on_cancel, [cancel_id], [judge_msg], api_name="cancel_judge")

        # postprocess=False: the item views are sent as built. Gradio's Markdown postprocessing runs
        # inspect.cleandoc over each value, which dedents a response whose lines are all indented
        # (an indented code block became prose) and strips its edges; the annotator must see the
        # response as written. It also saves a thread hop per output on every submit.
        item_view = {"postprocess": False}
        # preprocess=False as well for the answers: the handlers read the raw values themselves
        # (annotate.*_from_page: a wrong type or value names the field), saving a thread hop per input
        answer_event = {"postprocess": False, "preprocess": False}
        app.load(
            on_load,
            None,
            [task_dd, guide_md, progress_task, dash_task, judge_task, *layout_outputs, *outputs],
            api_name="open",
            **item_view,
        )
        task_dd.input(on_task, [task_dd], [guide_md, *layout_outputs, *outputs], api_name="choose_task", **item_view)
        submit_btn.click(
            _on_the_loop_when_free(services, on_submit),
            [state, shown_item, choice, rationale, confidence],
            outputs,
            api_name="submit",
            concurrency_limit=None,
            **answer_event,
        )
        skip_btn.click(
            _on_the_loop_when_free(services, on_skip),
            [state, shown_item, skip_reason],
            outputs,
            api_name="skip",
            concurrency_limit=None,
            **answer_event,
        )
        back_btn.click(
            _on_the_loop_when_free(services, on_back),
            [state, shown_item],
            outputs,
            api_name="back",
            concurrency_limit=None,
            **answer_event,
        )
        progress_btn.click(on_progress, [progress_task], [progress_tbl], api_name="task_progress")
    return app


def auth_callable(services: Services) -> Any:
    """Gradio's login check over the users table (argon2)."""

    def check(username: str, password: str) -> bool:
        with services.session() as session:
            return authenticate(session, username, password) is not None

    return check


# Gradio's queue recomputes a pandas summary of up to 10,000 past events after *every* event
# (GRADIO_ANALYTICS_CACHE_FREQUENCY=1): a quarter of the server's CPU with 20 annotators labeling
# (py-spy, benchmarks/bench_annotate.py), and growing with the length of the sitting. judgelab does
# not read that summary; recompute it every 1,000 events over the last 1,000. An operator's own
# values of these variables win.
GRADIO_QUEUE_ENV = {"GRADIO_ANALYTICS_CACHE_FREQUENCY": "1000", "GRADIO_ANALYTICS_MAX_EVENTS": "1000"}


def launch(services: Services, *, host: str = "127.0.0.1", port: int = 7860, block: bool = True) -> gr.Blocks:
    for name, value in GRADIO_QUEUE_ENV.items():
        os.environ.setdefault(name, value)
    # Gradio wraps every event in a matplotlib backend switch that tries `import matplotlib` twice;
    # judgelab does not install it, and a failed import searches sys.path anew each time (3% of the
    # server's CPU under 20 annotators, py-spy). Record it as absent, as Python itself does for a
    # module known to be missing; where matplotlib is installed nothing changes.
    if importlib.util.find_spec("matplotlib") is None:
        sys.modules.setdefault("matplotlib", None)  # type: ignore[assignment]
    app = build_app(services)
    app.queue(default_concurrency_limit=16)
    app.launch(
        server_name=host,
        server_port=port,
        auth=auth_callable(services),
        auth_message="judgelab: log in",
        prevent_thread_lock=not block,
        quiet=True,
        show_error=True,
        head=KEYS_JS,
        css=CSS,
        theme=gr.themes.Soft(),
        footer_links=[],
    )
    return app
