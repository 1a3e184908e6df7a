"""``build_app(services)``: the Gradio Blocks, one tab per module (``tab_annotate``, ``tab_progress``,
``tab_dashboard``, ``tab_judges``), and the page's open event that fills every tab's task picker.
Handlers are closures over ``services`` that read the user from ``gr.Request`` (never from a request
field) and check the role themselves, since Gradio exposes every event as an API endpoint. Nothing
per-user lives at module level: per-tab state is in ``gr.State``."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import gradio as gr

from annotation.services import Services
from app import annotate
from app.annotate import ItemViewModel
from app.render import markdown_text
from app.tab_annotate import OPEN_PICKERS, TabShown, build_annotate_tab, show, show_layout
from app.tab_dashboard import CSS as DASHBOARD_CSS
from app.tab_dashboard import build_dashboard_tab
from app.tab_judges import build_judges_tab
from app.tab_progress import build_progress_tab
from app.ui_events import guarded, user_of
from contracts.vocab import RESEARCH_ROLES

CSS = (
    """
.gradio-container { overflow: clip !important; }  /* not a scroll box: the answer bar sticks to the window */
#jl-left, #jl-right { border: 1px solid var(--border-color-primary); border-radius: 8px; padding: 12px;
               overflow-wrap: anywhere; word-break: break-word; max-height: 60vh; overflow-y: auto; }
#jl-left pre, #jl-right pre, .jl-prompt pre { white-space: pre-wrap; overflow-wrap: anywhere; }
.jl-prompt { overflow-wrap: anywhere; word-break: break-word; }
#jl-left[data-more="1"]::after, #jl-right[data-more="1"]::after {
    content: "more below: scroll this response \\25BC"; position: sticky; bottom: -12px; display: block;
    text-align: center; font-size: 0.85em; padding: 4px;
    background: var(--background-fill-secondary); border-top: 1px solid var(--border-color-primary); }
#jl-left[data-chosen="better"], #jl-right[data-chosen="better"] { border: 3px solid var(--color-accent); }
#jl-left[data-chosen="even"], #jl-right[data-chosen="even"] { border: 3px dashed var(--color-accent); }
.jl-q[data-active="1"] { box-shadow: inset 0 0 0 2px #4f46e5 !important; background: #eef2ff !important; }
#jl-answer-bar { position: sticky; bottom: 0; z-index: 20; background: var(--background-fill-primary);
    box-shadow: 0 -3px 10px rgba(0, 0, 0, 0.08); padding: 6px 0; }
#jl-keys { opacity: 0.75; font-size: 0.9em; }
"""
    + DASHBOARD_CSS
)

# the tabs each role sees (the others stay hidden; every handler checks the role again)
TABS_BY_ROLE = {
    "annotator": frozenset({"annotate"}),
    "researcher": frozenset({"annotate", "progress", "dashboard"}),
    "admin": frozenset({"annotate", "progress", "dashboard", "judges"}),
}


def build_app(services: Services) -> gr.Blocks:
    with gr.Blocks(title="judgelab", analytics_enabled=False) as app:
        with gr.Row(elem_id="jl-top"):
            who = gr.Markdown(elem_id="jl-who")
            gr.Button("Log out", link="/logout", size="sm", scale=0, min_width=90, elem_id="jl-logout")
        with gr.Tabs(selected="annotate") as tabs:
            annotate_tab = build_annotate_tab(services)
            progress_tab, progress_task, progress_shown = build_progress_tab(services)
            dashboard = build_dashboard_tab(services)
            dashboard_tab, dashboard_task = dashboard.tab, dashboard.task
            judges_tab, judge_task = build_judges_tab(services)

        @guarded
        def on_load(request: gr.Request) -> tuple[Any, ...]:
            user = user_of(request)
            role = annotate.role(services, user)
            seen = TABS_BY_ROLE.get(role, frozenset({"annotate"}))
            names = annotate.task_names(services, user)
            first = names[0] if names else None
            if not first:
                view = ItemViewModel(task="", item_id=None, user=user, message="No tasks yet.")
            elif role == "annotator":
                view = annotate.open_task(services, user, first)
            else:
                # a researcher or admin lands on the dashboard; an item is served only when they open
                # the Annotate tab (annotate.waiting)
                view = annotate.waiting(first, user)
            # postprocess is off for this event: the choices go as the page reads them, (label, value)
            pickers = {
                "task": gr.update(choices=[(n, n) for n in names], value=first),
                "guidelines": annotate.guidelines(services, user, first) if first else "",
                "tabs": gr.skip() if role == "annotator" else gr.update(selected="dashboard"),
                # the researcher's tabs start hidden: shown to the roles that use them
                "progress_tab": gr.update(visible=True) if "progress" in seen else gr.skip(),
                "dashboard_tab": gr.update(visible=True) if "dashboard" in seen else gr.skip(),
                "judges_tab": gr.update(visible=True) if "judges" in seen else gr.skip(),
                "who": f"Logged in as **{markdown_text(user or '')}** ({role})",
            }
            return (*(pickers[n] for n in OPEN_PICKERS), *show_layout(view), *show(view, layout=True))

        @guarded
        def on_research_pickers(request: gr.Request) -> tuple[Any, ...]:
            """The task pickers of the researcher's tabs, once the open event has shown those tabs (a
            component in a hidden tab drops the value it is given). They open on the first task with
            labels to show; the Judges tab on the first task."""
            user = user_of(request)
            if annotate.role(services, user) not in RESEARCH_ROLES:
                return (gr.skip(), gr.skip(), gr.skip())
            names = annotate.task_names(services, user)
            studied = next(iter(annotate.task_names(services, user, labeled=True)), names[0] if names else None)
            choices = [(n, n) for n in names]
            return (
                gr.update(choices=choices, value=studied),
                gr.update(choices=choices, value=studied),
                gr.update(choices=choices, value=names[0] if names else None),
            )

        def on_ping(request: gr.Request) -> str:
            """A no-op round trip (the baseline of the latency benchmark); login still required."""
            return "pong" if user_of(request) else ""

        ping_out = gr.Textbox(visible=False)
        ping_btn = gr.Button(visible=False)
        ping_btn.click(on_ping, None, [ping_out], api_name="ping", concurrency_limit=None)
        picker_components = {
            "task": annotate_tab.task,
            "guidelines": annotate_tab.guidelines,
            "tabs": tabs,
            "progress_tab": progress_tab,
            "dashboard_tab": dashboard_tab,
            "judges_tab": judges_tab,
            "who": who,
        }
        first = dashboard.shown
        assert annotate_tab.shown is not None

        app.load(
            on_load,
            None,
            [*(picker_components[n] for n in OPEN_PICKERS), *annotate_tab.layout_outputs, *annotate_tab.outputs],
            api_name="open",
            postprocess=False,  # the item view as built (see tab_annotate)
        ).success(
            on_research_pickers, None, [progress_task, dashboard_task, judge_task], api_name="research_pickers"
        ).success(first.handler, first.inputs, first.outputs, api_name="dashboard_first")
        # a tab brought on screen fills itself (Gradio fires one select event for the tabs, with the
        # tab's id); the Annotate tab serves a researcher's or admin's first item only then
        for tab_id, shown in (("annotate", annotate_tab.shown), ("progress", progress_shown), ("dashboard", first)):
            tabs.select(
                when_shown(tab_id, shown),
                shown.inputs,
                shown.outputs,
                api_name=f"{tab_id}_shown",
                postprocess=tab_id != "annotate",  # the item view as built (see tab_annotate)
            )
    return app


def when_shown(tab_id: str, shown: TabShown) -> Callable[..., tuple[Any, ...]]:
    """``shown``'s handler, run when the tab brought on screen is ``tab_id`` (else nothing changes)."""
    n = len(shown.inputs)

    def handler(*args: Any) -> tuple[Any, ...]:
        values, evt, request = args[:n], args[n], args[n + 1]
        if getattr(evt, "id", None) != tab_id:
            return tuple(gr.skip() for _ in shown.outputs)
        result = shown.handler(*values, request)
        return result if isinstance(result, tuple) else (result,)

    # Gradio passes the select data and the request by the annotations of the handler's signature
    params = [inspect.Parameter(f"value_{i}", inspect.Parameter.POSITIONAL_OR_KEYWORD) for i in range(n)]
    params += [
        inspect.Parameter("evt", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=gr.SelectData),
        inspect.Parameter("request", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=gr.Request),
    ]
    handler.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
    handler.__annotations__ = {"evt": gr.SelectData, "request": gr.Request}
    return handler


def auth_callable(services: Services) -> Any:
    """Gradio's login check over the users table (argon2), as an async function: the check runs off
    the event loop in a small thread pool, reads without the write lock, and failed logins back off
    per address and per user (``app.login.LoginGuard``)."""
    from annotation.accounts import login_record, verify
    from app.login import LoginGuard

    def check(username: str, password: str) -> bool:
        with services.read_session() as session:
            record = login_record(session, username)
        return verify(record, password) is not None

    guard = LoginGuard(check)

    async def auth(username: str, password: str) -> bool:
        return await guard(username, password)

    return auth


def session_check(services: Services) -> Any:
    """For :class:`app.guard.Guard`: whether a login of ``username`` made at ``since`` (POSIX seconds)
    still stands (the user exists, is enabled, and changed no password since)."""
    from annotation.accounts import login_record

    def still_valid(username: str, since: float) -> bool:
        with services.read_session() as session:
            record = login_record(session, username)
        if record is None or record.disabled:
            return False
        return record.sessions_valid_after is None or record.sessions_valid_after <= since

    return still_valid
