"""``build_app(services)``: the Gradio Blocks, one tab per module (``tab_annotate``, ``tab_progress``,
``tab_dashboard``, ``tab_judges``), and the page's open event that fills every tab's task picker.
Handlers are closures over ``services`` that read the user from ``gr.Request`` (never from a request
field) and check the role themselves, since Gradio exposes every event as an API endpoint. Nothing
per-user lives at module level: per-tab state is in ``gr.State``."""

from __future__ import annotations

from typing import Any

import gradio as gr

from annotation.services import Services
from app import annotate
from app.annotate import ItemViewModel
from app.tab_annotate import OPEN_PICKERS, build_annotate_tab, show, show_layout
from app.tab_dashboard import build_dashboard_tab
from app.tab_judges import build_judges_tab
from app.tab_progress import build_progress_tab
from app.ui_events import guarded, user_of

CSS = """
.jl-response { border: 1px solid var(--border-color-primary); border-radius: 8px; padding: 12px;
               overflow-wrap: anywhere; word-break: break-word; max-height: 60vh; overflow-y: auto; }
.jl-response pre, .jl-prompt pre { white-space: pre-wrap; overflow-wrap: anywhere; }
.jl-prompt { overflow-wrap: anywhere; word-break: break-word; }
#jl-keys { opacity: 0.75; font-size: 0.9em; }
"""


def build_app(services: Services) -> gr.Blocks:
    with gr.Blocks(title="judgelab", analytics_enabled=False) as app:
        annotate_tab = build_annotate_tab(services)
        progress_task = build_progress_tab(services)
        dashboard_task = build_dashboard_tab(services)
        judge_task = build_judges_tab(services)

        @guarded
        def on_load(request: gr.Request) -> tuple[Any, ...]:
            names = annotate.task_names(services, user_of(request))
            first = names[0] if names else None
            view = (
                annotate.open_task(services, user_of(request), first)
                if first
                else ItemViewModel(task="", item_id=None, message="No tasks yet.")
            )
            pick = gr.update(choices=names, value=first)
            pickers = {
                "task": pick,
                "guidelines": annotate.guidelines(services, user_of(request), first) if first else "",
                "progress_task": pick,
                "dashboard_task": pick,
                "judge_task": pick,
            }
            return (*(pickers[n] for n in OPEN_PICKERS), *show_layout(view), *show(view, layout=True))

        def on_ping(request: gr.Request) -> str:
            """A no-op round trip (the baseline of the latency benchmark); login still required."""
            return "pong" if user_of(request) else ""

        ping_out = gr.Textbox(visible=False)
        ping_btn = gr.Button(visible=False)
        ping_btn.click(on_ping, None, [ping_out], api_name="ping", concurrency_limit=None)
        picker_components = {
            "task": annotate_tab.task,
            "guidelines": annotate_tab.guidelines,
            "progress_task": progress_task,
            "dashboard_task": dashboard_task,
            "judge_task": judge_task,
        }
        app.load(
            on_load,
            None,
            [*(picker_components[n] for n in OPEN_PICKERS), *annotate_tab.layout_outputs, *annotate_tab.outputs],
            api_name="open",
            postprocess=False,  # the item view as built (see tab_annotate)
        )
    return app


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
