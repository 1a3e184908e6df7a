"""The Annotate tab: the item on screen, the answer buttons, the keyboard, and the submit / skip /
back / task events. The item view's outputs are named once here (:data:`ITEM_OUTPUTS`); the tests
and clients that read a view by position import these names."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import gradio as gr

from annotation.services import Services
from app import annotate
from app.annotate import PAIRWISE_TEXT, ItemViewModel
from app.ui_events import guarded, on_the_loop_when_free, user_of


def page_js() -> str:
    """The page's script (in ``<head>``): the keyboard, the chosen side's highlight, the "more below"
    cue on a response that scrolls, closing an open dropdown on Tab, and a clear "log in again" when
    the server no longer knows the login (a restart, a logout elsewhere, an expired session)."""
    sides = json.dumps({"left": PAIRWISE_TEXT["left"], "right": PAIRWISE_TEXT["right"]})
    return PAGE_JS.replace("__SIDES__", sides)


PAGE_JS = r"""
<script>
(() => {
  const SIDES = __SIDES__;
  const $ = (s) => document.querySelector(s);
  const onAnnotate = () => { const s = $('#jl-submit'); return s && s.offsetParent !== null ? s : null; };
  document.addEventListener('keydown', (e) => {
    const t = e.target;
    if (e.key === 'Tab' && t && t.closest && t.closest('.jl-picker')) {
      // a dropdown's list closes when Tab moves on (it stayed open over the page)
      t.dispatchEvent(new KeyboardEvent('keydown', {key: 'Escape', bubbles: true}));
      return;
    }
    if (e.ctrlKey || e.metaKey || e.altKey || e.defaultPrevented) return;
    // the shortcuts label the Annotate tab's item: only while that tab is on screen
    const submit = onAnnotate();
    if (!submit) return;
    // a focused control does what it says (Enter on Skip skips, on the guidelines opens them); the
    // shortcuts act when focus is on the page itself, or on the answer buttons
    const onAnswers = t && t.closest && t.closest('.jl-q');
    if (t && t !== document.body && !onAnswers) {
      const tag = t.tagName || '';
      if (['TEXTAREA', 'INPUT', 'BUTTON', 'SELECT', 'A', 'SUMMARY', 'OPTION', 'LABEL'].includes(tag)) return;
      if (t.isContentEditable) return;
      const controls = 'button, a, summary, label, [role=button], [role=tab], [role=option], [role=listbox]';
      if (t.closest(controls + ', [contenteditable]')) return;
    }
    // the answer rows (one per question or checklist entry): numbers answer the marked row and move
    // on to the next; Tab / Down and Shift+Tab / Up move between rows
    const rows = answerRows();
    let at = Math.max(0, rows.findIndex((r) => r.dataset.active === '1'));
    const forward = e.key === 'ArrowDown' || (e.key === 'Tab' && !e.shiftKey);
    const backward = e.key === 'ArrowUp' || (e.key === 'Tab' && e.shiftKey);
    if (rows.length > 1 && (forward || backward)) {
      const next = at + (forward ? 1 : -1);
      if (next < 0 || next >= rows.length) { if (e.key !== 'Tab') e.preventDefault(); return; }
      mark(next); e.preventDefault();
      return;
    }
    const radios = rows.length ? rows[at].querySelectorAll('input[type=radio]') : [];
    if (/^[0-9]$/.test(e.key) && radios.length) {
      const idx = e.key === '0' ? 9 : parseInt(e.key, 10) - 1;
      if (radios[idx]) {
        radios[idx].click(); e.preventDefault();
        if (rows.length > 1 && at + 1 < rows.length) mark(at + 1);
      }
    } else if (e.key === 'Enter') {
      submit.click(); e.preventDefault();
    } else if (e.key === 'Backspace') {
      const b = $('#jl-back');
      if (b) { b.click(); e.preventDefault(); }
    }
  });
  const answerRows = () => [...document.querySelectorAll('.jl-q')].filter((r) => r.offsetParent !== null);
  const mark = (i) => {
    const rows = answerRows();
    rows.forEach((r, k) => {
      const v = rows.length > 1 && k === i ? '1' : '';
      if (r.dataset.active !== v) r.dataset.active = v;
    });
    if (rows[i] && rows.length > 1) rows[i].scrollIntoView({block: 'nearest'});
  };
  // a click in a row marks it; a new item starts at its first row
  document.addEventListener('click', (e) => {
    const row = e.target && e.target.closest && e.target.closest('.jl-q');
    if (row) mark(answerRows().indexOf(row));
  }, true);
  let lastItem = null;
  // the chosen side is highlighted; a response that scrolls says so until its end is in view
  let queued = false;
  const sync = () => {
    queued = false;
    // the hidden item id is not drawn: the progress line and the prompt change with every item
    const progressLine = $('#jl-progress'), prompt = $('#jl-prompt');
    const shown = (progressLine ? progressLine.innerText : '') + '|' + (prompt ? prompt.innerText.slice(0, 200) : '');
    if (shown !== lastItem) { lastItem = shown; mark(0); }
    const checked = document.querySelector('#jl-choice input[type=radio]:checked');
    const value = checked ? checked.value : '';
    const left = $('#jl-left'), right = $('#jl-right');
    if (left && right) {
      const l = value === SIDES.left ? 'better' : value === SIDES.right ? 'worse' : value ? 'even' : '';
      const r = l === 'better' ? 'worse' : l === 'worse' ? 'better' : l;
      if (left.dataset.chosen !== l) left.dataset.chosen = l;
      if (right.dataset.chosen !== r) right.dataset.chosen = r;
    }
    document.querySelectorAll('#jl-left, #jl-right').forEach((el) => {
      const more = el.scrollHeight - el.scrollTop - el.clientHeight > 4 ? '1' : '';
      if (el.dataset.more !== more) el.dataset.more = more;
    });
  };
  const later = () => { if (!queued) { queued = true; requestAnimationFrame(sync); } };
  document.addEventListener('scroll', later, true);
  document.addEventListener('change', later, true);
  document.addEventListener('click', later, true);
  window.addEventListener('resize', later);
  const watch = () => new MutationObserver(later).observe(document.body,
    {subtree: true, childList: true, characterData: true, attributes: true, attributeFilter: ['class', 'style']});
  if (document.body) watch(); else document.addEventListener('DOMContentLoaded', watch);
  // the server no longer knows this login: say so once, instead of an error on every component
  const expired = () => {
    if ($('#jl-expired') || !onAnnotate() && !$('#jl-dash-refresh')) return;
    const box = document.createElement('div');
    box.id = 'jl-expired';
    box.setAttribute('role', 'alert');
    const text = document.createElement('span');
    text.textContent = 'Your session has expired (the server restarted, or you logged out or were idle). ';
    const link = document.createElement('a');
    link.href = window.location.pathname;
    link.textContent = 'Log in again';
    box.append(text, link);
    // styled here: the page's CSS is scoped to the app's container, which this hides
    box.style.cssText = 'position:fixed;top:0;left:0;right:0;z-index:1000;padding:14px;text-align:center;' +
      'font-size:1.1em;background:#fff3cd;color:#5c4400;border-bottom:2px solid #e0b000;font-family:sans-serif';
    link.style.cssText = 'font-weight:bold;margin-left:0.5em';
    document.body.append(box);
    document.querySelectorAll('.gradio-container').forEach((el) => { el.style.display = 'none'; });
  };
  const plainFetch = window.fetch.bind(window);
  window.fetch = async (...args) => {
    const response = await plainFetch(...args);
    const url = String(args[0] && args[0].url ? args[0].url : args[0]);
    if (response.status === 401 && url.includes('/gradio_api/') && !url.endsWith('/login')) expired();
    return response;
  };
})();
</script>
"""


# Every item event (open, choose task, submit, skip, back, history) returns these outputs, in this order.
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
    "item_area",  # the item and its answer bar: hidden at the end of the queue
    "done",  # the end-of-queue screen
    # the answer rows after the first (further questions, checklist entries): hidden when unused
    *(f"answer_{i}" for i in range(2, annotate.ANSWER_SLOTS + 1)),
)
MORE_ANSWERS = tuple(f"answer_{i}" for i in range(2, annotate.ANSWER_SLOTS + 1))
# what only changes with the task (left/right titles, the right column for single-answer tasks, the keys)
LAYOUT_OUTPUTS = ("left_title", "right_col", "keys")
# the "open" event first fills the Annotate tab's task picker and guidelines, shows the tabs of the
# user's role and says who is logged in (the researcher's pickers follow, app.ui)
OPEN_PICKERS = (
    "task",
    "guidelines",
    "tabs",
    "progress_tab",
    "dashboard_tab",
    "judges_tab",
    "who",
)


@dataclass
class TabShown:
    """What runs when the user brings a tab on screen (app.ui wires it to the tabs' select event)."""

    handler: Callable[..., tuple[Any, ...]]
    inputs: list[Any]
    outputs: list[Any]


@dataclass
class AnnotateTab:
    tab: gr.Tab
    task: gr.Dropdown
    guidelines: gr.Markdown
    components: dict[str, Any]  # ITEM_OUTPUTS and LAYOUT_OUTPUTS by name
    shown: TabShown | None = None

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
        "state": {
            "task": view.task,
            "item_id": view.item_id,
            "shown_at": view.shown_at,
            "user": view.user,
            "opened": not view.waiting,
        },
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
        "item_area": gr.skip(),
        "done": "",
        **dict.fromkeys(MORE_ANSWERS, gr.skip()),
    }
    if view.several:
        # rows differ between items (a checklist's entries): every row is set with each item
        layout = True
        for i, name in enumerate(MORE_ANSWERS, start=1):
            slot = view.slots[i] if has_item and i < len(view.slots) else None
            values[name] = (
                gr.update(visible=False, value=None)
                if slot is None
                else gr.update(
                    visible=True,
                    choices=slot.buttons,
                    value=slot.current,
                    label=f"{slot.label} (keys {annotate.key_range(len(slot.buttons))})",
                    interactive=True,
                )
            )
    if layout or not has_item:
        first = view.slots[0].label if view.several and view.slots else "Your answer"
        values["choice"] = gr.update(
            choices=view.buttons,
            value=view.current,
            interactive=has_item,
            label=f"{first} (keys {view.keys}, Enter submits)",
        )
        values["rationale"] = gr.update(visible=view.ask_rationale, value="")
        values["confidence"] = gr.update(visible=view.ask_confidence, value=None, choices=view.confidence_choices)
        values["item_area"] = gr.update(visible=has_item)
        values["done"] = _done_text(view) if not has_item else ""
    return tuple(values[name] for name in ITEM_OUTPUTS)


def _done_text(view: ItemViewModel) -> str:
    if view.waiting:
        return "### Annotate\n\nPick a task above to label items (nothing is reserved for you until you do)."
    return f"### {view.message or 'Nothing left for you in this task.'}\n\n{view.summary}"


def show_layout(view: ItemViewModel) -> tuple[Any, ...]:
    values = {
        "left_title": "### Left" if view.pairwise else "### Response",
        "right_col": gr.update(visible=view.pairwise),
        "keys": (
            "Keys: **numbers** answer the marked question and move to the next, **Tab** / **↓** next question, "
            "**Shift+Tab** / **↑** previous, **Enter** submit, **Backspace** back."
            if view.several
            else f"Keys: **{view.keys}** choose, **Enter** submit, **Backspace** back."
            if view.choices
            else ""
        ),
    }
    return tuple(values[name] for name in LAYOUT_OUTPUTS)


def build_annotate_tab(services: Services) -> AnnotateTab:
    """The tab's components and events (call inside ``gr.Tabs``)."""
    c: dict[str, Any] = {}
    # inside the Tab: a component that is a direct child of the Tabs is drawn as one more tab button
    with gr.Tab("Annotate", id="annotate") as tab:
        c["state"] = gr.State({})
        with gr.Row():
            task = gr.Dropdown(
                label="Task",
                choices=[],
                interactive=True,
                scale=2,
                allow_custom_value=True,
                elem_classes=["jl-picker"],
                elem_id="jl-task",
            )
            c["progress"] = gr.Markdown(elem_id="jl-progress")
        with gr.Accordion("Guidelines", open=False):
            guidelines = gr.Markdown()
        c["message"] = gr.Markdown(elem_id="jl-message")
        c["done"] = gr.Markdown(elem_id="jl-done")
        with gr.Column(elem_id="jl-item-area") as item_area:
            gr.Markdown("### Prompt", elem_id="jl-prompt-title")
            c["prompt"] = gr.Markdown(
                elem_classes=["jl-prompt"], elem_id="jl-prompt", sanitize_html=True, line_breaks=True
            )
            with gr.Row(equal_height=False):
                with gr.Column():
                    c["left_title"] = gr.Markdown("### Left")
                    c["left"] = gr.Markdown(elem_id="jl-left", sanitize_html=True, line_breaks=True)
                with gr.Column() as right_col:
                    gr.Markdown("### Right")
                    c["right"] = gr.Markdown(elem_id="jl-right", sanitize_html=True, line_breaks=True)
                c["right_col"] = right_col
            # the answer bar stays on screen (sticky) however long the item is
            with gr.Column(elem_id="jl-answer-bar"):
                c["choice"] = gr.Radio(
                    label="Your answer (Enter submits)", choices=[], elem_id="jl-choice", elem_classes=["jl-q"]
                )
                for name in MORE_ANSWERS:
                    c[name] = gr.Radio(choices=[], visible=False, elem_id=f"jl-{name}", elem_classes=["jl-q"])
                with gr.Row():
                    c["rationale"] = gr.Textbox(label="Why? (optional)", lines=2, visible=False, scale=3)
                    c["confidence"] = gr.Radio(
                        label="Confidence", choices=list(annotate.CONFIDENCES), visible=False, scale=2
                    )
                with gr.Row():
                    back_btn = gr.Button("Back", elem_id="jl-back", size="sm")
                    c["skip_reason"] = gr.Textbox(
                        placeholder="reason for skipping (optional)",
                        show_label=False,
                        scale=2,
                        elem_id="jl-skip-reason",
                    )
                    skip_btn = gr.Button("Skip", elem_id="jl-skip", size="sm")
                    submit_btn = gr.Button("Submit", variant="primary", elem_id="jl-submit")
                c["keys"] = gr.Markdown(elem_id="jl-keys")
        c["item_area"] = item_area
        with gr.Accordion("Your history (answered and skipped)", open=False, elem_id="jl-history-box") as history_box:
            history = gr.Dropdown(
                label="Open an item you answered or skipped, to change the answer",
                choices=[],
                interactive=True,
                elem_classes=["jl-picker"],
                elem_id="jl-history",
            )
        # the item on screen, sent back by the page with each answer: a double click sends the
        # same item twice (the server-side state may already show the next one)
        c["shown_item"] = gr.Number(visible=False, precision=0, elem_id="jl-item")
    annotate_tab = AnnotateTab(tab, task, guidelines, c)

    @guarded
    def on_task(name: str, request: gr.Request) -> tuple[Any, ...]:
        view = annotate.open_task(services, user_of(request), name)
        guide = annotate.guidelines(services, user_of(request), name)
        return (guide, *show_layout(view), *show(view, layout=True))

    @guarded
    def on_tab(st: dict[str, Any], name: str | None, request: gr.Request) -> tuple[Any, ...]:
        """A researcher or admin opens the Annotate tab: only now is an item served (and reserved)."""
        st = mine(st, request)
        if st.get("opened") or not name:
            return tuple(gr.skip() for _ in opened)
        return on_task(name, request)

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
        request: gr.Request, st: dict[str, Any], item: object, answer: object, why: object, conf: object, *more: Any
    ) -> tuple[Any, ...]:
        # the request first: Gradio passes it by its place in the signature, and the answer rows
        # after the first arrive as *more
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
            more=[annotate.answer_from_page(a) for a in more],
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

    @guarded
    def on_history(st: dict[str, Any], request: gr.Request) -> Any:
        st = mine(st, request)
        entries = annotate.history(services, user_of(request), st.get("task", "")) if st.get("task") else []
        return gr.update(choices=entries, value=None)

    @guarded
    def on_revisit(st: dict[str, Any], chosen: object, request: gr.Request) -> tuple[Any, ...]:
        st = mine(st, request)
        view = annotate.revisit(services, user_of(request), st.get("task", ""), annotate.item_id_from_page(chosen))
        return show(view, layout=True)

    # postprocess=False: the item views are sent as built. Gradio's Markdown postprocessing runs
    # inspect.cleandoc over each value, which dedents a response whose lines are all indented (an
    # indented code block became prose) and strips its edges; the annotator must see the response as
    # written. It also saves a thread hop per output on every submit. The answers skip preprocessing
    # as well: the handlers read the raw values themselves (annotate.*_from_page: a wrong type or
    # value names the field), saving a thread hop per input.
    opened = [guidelines, *annotate_tab.layout_outputs, *annotate_tab.outputs]
    task.input(on_task, [task], opened, api_name="choose_task", postprocess=False)
    annotate_tab.shown = TabShown(on_tab, [c["state"], task], opened)
    state, shown = c["state"], c["shown_item"]
    for button, handler, inputs, name in (
        (
            submit_btn,
            on_submit,
            [state, shown, c["choice"], c["rationale"], c["confidence"], *(c[n] for n in MORE_ANSWERS)],
            "submit",
        ),
        (skip_btn, on_skip, [state, shown, c["skip_reason"]], "skip"),
        (back_btn, on_back, [state, shown], "back"),
    ):
        button.click(
            on_the_loop_when_free(services, handler),
            inputs,
            annotate_tab.outputs,
            api_name=name,
            concurrency_limit=None,
            postprocess=False,
            preprocess=False,
        )
    history_box.expand(on_history, [state], [history], api_name="history")
    history.input(on_revisit, [state, history], annotate_tab.outputs, api_name="revisit", postprocess=False)
    return annotate_tab
