"""The Annotate tab: the item on screen, the answer buttons, the keyboard, and the submit / skip /
back / task events. The item view's outputs are named once here (:data:`ITEM_OUTPUTS`); the tests
and clients that read a view by position import these names."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import gradio as gr

from annotation.services import Services
from app import annotate
from app.annotate import ItemViewModel
from app.ui_events import guarded, on_the_loop_when_free, user_of

KEYS_JS = """
<script>
document.addEventListener('keydown', (e) => {
  if (e.ctrlKey || e.metaKey || e.altKey || e.defaultPrevented) return;
  // the shortcuts label the Annotate tab's item: only while that tab is on screen
  const submit = document.querySelector('#jl-submit');
  if (!submit || submit.offsetParent === null) return;
  // a focused control does what it says (Enter on Skip skips, on the guidelines opens them); the
  // shortcuts act when focus is on the page itself, or on the answer buttons
  const t = e.target;
  const onAnswers = t && t.closest && t.closest('#jl-choice');
  if (t && t !== document.body && !onAnswers) {
    const tag = t.tagName || '';
    if (['TEXTAREA', 'INPUT', 'BUTTON', 'SELECT', 'A', 'SUMMARY', 'OPTION', 'LABEL'].includes(tag)) return;
    if (t.isContentEditable) return;
    const controls = 'button, a, summary, label, [role=button], [role=tab], [role=option], [role=listbox]';
    if (t.closest(controls + ', [contenteditable]')) return;
  }
  const radios = document.querySelectorAll('#jl-choice input[type=radio]');
  if (/^[0-9]$/.test(e.key) && radios.length) {
    const idx = e.key === '0' ? 9 : parseInt(e.key, 10) - 1;
    if (radios[idx]) { radios[idx].click(); e.preventDefault(); }
  } else if (e.key === 'Enter') {
    submit.click(); e.preventDefault();
  } else if (e.key === 'Backspace') {
    const b = document.querySelector('#jl-back');
    if (b) { b.click(); e.preventDefault(); }
  }
});
</script>
"""

# Every item event (open, choose task, submit, skip, back) returns these outputs, in this order.
ITEM_OUTPUTS = (
    "state",  # per browser tab: task, item id, when it was shown (a gr.State)
    "progress",
    "message",
    "prompt",
    "left",
    "right",
    "choice",  # the answer buttons (their choices only change with the layout)
    "rationale",
    "confidence",
    "skip_reason",
    "shown_item",  # the id of the item on screen, sent back with each answer
)
# what only changes with the task (left/right titles, the right column for single-answer tasks)
LAYOUT_OUTPUTS = ("left_title", "right_col")
# the "open" event first fills the task pickers of every tab and the guidelines
OPEN_PICKERS = ("task", "guidelines", "progress_task", "dashboard_task", "judge_task")


@dataclass
class AnnotateTab:
    task: gr.Dropdown
    guidelines: gr.Markdown
    components: dict[str, Any]  # ITEM_OUTPUTS and LAYOUT_OUTPUTS by name

    @property
    def outputs(self) -> list[Any]:
        return [self.components[name] for name in ITEM_OUTPUTS]

    @property
    def layout_outputs(self) -> list[Any]:
        return [self.components[name] for name in LAYOUT_OUTPUTS]


def show(view: ItemViewModel, *, layout: bool = False) -> tuple[Any, ...]:
    """The item outputs. Plain values where the layout stays (a label submitted: the next item of the
    same task), component updates only where it changes (``layout``: a task was opened, or going back
    re-enables answers): each update costs Gradio a component rebuild."""
    has_item = view.item_id is not None
    prompt = view.prompt_md if has_item else ""
    if has_item and view.reference_md:
        prompt += f"\n\n**Reference answer**\n\n{view.reference_md}"
    values: dict[str, Any] = {
        "state": {"task": view.task, "item_id": view.item_id, "shown_at": view.shown_at, "user": view.user},
        "progress": view.progress,
        "message": f"**{view.message}**" if view.message else "",
        "prompt": prompt,
        "left": view.left_md if has_item else "",
        "right": view.right_md if has_item else "",
        "choice": view.current,
        "rationale": "",
        "confidence": None,
        "skip_reason": "",
        "shown_item": view.item_id,
    }
    if layout or not has_item:
        values["choice"] = gr.update(choices=view.choices, value=view.current, interactive=has_item)
        values["rationale"] = gr.update(visible=view.ask_rationale, value="")
        values["confidence"] = gr.update(visible=view.ask_confidence, value=None, choices=view.confidence_choices)
    return tuple(values[name] for name in ITEM_OUTPUTS)


def show_layout(view: ItemViewModel) -> tuple[Any, ...]:
    values = {
        "left_title": "### Left" if view.pairwise else "### Response",
        "right_col": gr.update(visible=view.pairwise),
    }
    return tuple(values[name] for name in LAYOUT_OUTPUTS)


def build_annotate_tab(services: Services) -> AnnotateTab:
    """The tab's components and events (call inside ``gr.Blocks``)."""
    c: dict[str, Any] = {"state": gr.State({})}
    with gr.Tab("Annotate"):
        with gr.Row():
            task = gr.Dropdown(label="Task", choices=[], interactive=True, scale=2, allow_custom_value=True)
            c["progress"] = gr.Markdown(elem_id="jl-progress")
        with gr.Accordion("Guidelines", open=False):
            guidelines = gr.Markdown()
        c["message"] = gr.Markdown(elem_id="jl-message")
        c["prompt"] = gr.Markdown(elem_classes=["jl-prompt"], elem_id="jl-prompt", sanitize_html=True, line_breaks=True)
        with gr.Row(equal_height=False):
            with gr.Column():
                c["left_title"] = gr.Markdown("### Left")
                c["left"] = gr.Markdown(
                    elem_classes=["jl-response"], elem_id="jl-left", sanitize_html=True, line_breaks=True
                )
            with gr.Column() as right_col:
                gr.Markdown("### Right")
                c["right"] = gr.Markdown(
                    elem_classes=["jl-response"], elem_id="jl-right", sanitize_html=True, line_breaks=True
                )
            c["right_col"] = right_col
        c["choice"] = gr.Radio(label="Your answer (keys 1-4, Enter submits)", choices=[], elem_id="jl-choice")
        with gr.Row():
            c["rationale"] = gr.Textbox(label="Why? (optional)", lines=2, visible=False, scale=3)
            c["confidence"] = gr.Radio(label="Confidence", choices=list(annotate.CONFIDENCES), visible=False, scale=2)
        with gr.Row():
            back_btn = gr.Button("Back", elem_id="jl-back", size="sm")
            c["skip_reason"] = gr.Textbox(
                placeholder="reason for skipping", show_label=False, scale=2, elem_id="jl-skip-reason"
            )
            skip_btn = gr.Button("Skip", elem_id="jl-skip", size="sm")
            submit_btn = gr.Button("Submit", variant="primary", elem_id="jl-submit")
        gr.Markdown("Keys: **1-4** choose, **Enter** submit, **Backspace** back.", elem_id="jl-keys")
        # the item on screen, sent back by the page with each answer: a double click sends the
        # same item twice (the server-side state may already show the next one)
        c["shown_item"] = gr.Number(visible=False, precision=0, elem_id="jl-item")
    tab = AnnotateTab(task, guidelines, c)

    @guarded
    def on_task(name: str, request: gr.Request) -> tuple[Any, ...]:
        view = annotate.open_task(services, user_of(request), name)
        guide = annotate.guidelines(services, user_of(request), name)
        return (guide, *show_layout(view), *show(view, layout=True))

    def mine(st: dict[str, Any], request: gr.Request) -> dict[str, Any]:
        """The tab's state when it belongs to this user. Gradio keys a tab's state by the session
        hash the client chooses: another user who learns it gets an empty state, not theirs."""
        return st if isinstance(st, dict) and st.get("user") in (None, user_of(request)) else {}

    def on_screen(st: dict[str, Any], item: object) -> tuple[int | None, float | None]:
        """The item the page showed (and when, if the tab's state still shows it too); the answer
        events skip Gradio's preprocessing, so the values arrive as sent."""
        shown = annotate.item_id_from_page(item)
        item_id = shown if shown is not None else st.get("item_id")
        return item_id, (st.get("shown_at") if st.get("item_id") == item_id else None)

    @guarded
    def on_submit(
        st: dict[str, Any], item: object, answer: object, why: object, conf: object, request: gr.Request
    ) -> tuple[Any, ...]:
        st = mine(st, request)
        item_id, shown_at = on_screen(st, item)
        view = annotate.submit(
            services,
            user_of(request),
            st.get("task", ""),
            item_id,
            annotate.answer_from_page(answer),
            rationale=annotate.text_from_page("rationale", why, limit=services.settings.max_rationale_chars),
            confidence=conf,
            shown_at=shown_at,
        )
        # from "nothing left" (no item shown) the answer buttons come back with the next item
        return show(view, layout=item_id is None)

    @guarded
    def on_skip(st: dict[str, Any], item: object, reason: object, request: gr.Request) -> tuple[Any, ...]:
        st = mine(st, request)
        item_id, _ = on_screen(st, item)
        why = annotate.text_from_page("reason", reason, limit=annotate.SKIP_REASON_CHARS)
        view = annotate.skip(services, user_of(request), st.get("task", ""), item_id, why)
        return show(view, layout=item_id is None)

    @guarded
    def on_back(st: dict[str, Any], item: object, request: gr.Request) -> tuple[Any, ...]:
        st = mine(st, request)
        item_id, _ = on_screen(st, item)
        # going back from the end of a task re-enables the answer buttons
        return show(annotate.back(services, user_of(request), st.get("task", ""), item_id), layout=True)

    # postprocess=False: the item views are sent as built. Gradio's Markdown postprocessing runs
    # inspect.cleandoc over each value, which dedents a response whose lines are all indented (an
    # indented code block became prose) and strips its edges; the annotator must see the response as
    # written. It also saves a thread hop per output on every submit. The answers skip preprocessing
    # as well: the handlers read the raw values themselves (annotate.*_from_page: a wrong type or
    # value names the field), saving a thread hop per input.
    task.input(
        on_task, [task], [guidelines, *tab.layout_outputs, *tab.outputs], api_name="choose_task", postprocess=False
    )
    state, shown = c["state"], c["shown_item"]
    for button, handler, inputs, name in (
        (submit_btn, on_submit, [state, shown, c["choice"], c["rationale"], c["confidence"]], "submit"),
        (skip_btn, on_skip, [state, shown, c["skip_reason"]], "skip"),
        (back_btn, on_back, [state, shown], "back"),
    ):
        button.click(
            on_the_loop_when_free(services, handler),
            inputs,
            tab.outputs,
            api_name=name,
            concurrency_limit=None,
            postprocess=False,
            preprocess=False,
        )
    return tab
