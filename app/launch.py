"""``launch(services)``: serve the app, with the environment tweaks the measurements asked for."""

from __future__ import annotations

import importlib.util
import os
import sys

import gradio as gr
from starlette.middleware import Middleware

from annotation.services import Services
from app.guard import Guard
from app.tab_annotate import page_js
from app.ui import CSS, auth_callable, build_app, session_check

# Gradio's queue recomputes a pandas summary of up to 10,000 past events after *every* event
# (GRADIO_ANALYTICS_CACHE_FREQUENCY=1): a quarter of the server's CPU with 20 annotators labeling
# (py-spy, benchmarks/bench_annotate.py), and growing with the length of the sitting. judgelab does
# not read that summary; recompute it every 1,000 events over the last 1,000. An operator's own
# values of these variables win.
GRADIO_QUEUE_ENV = {"GRADIO_ANALYTICS_CACHE_FREQUENCY": "1000", "GRADIO_ANALYTICS_MAX_EVENTS": "1000"}


def _record_matplotlib_absent() -> None:
    """Gradio wraps every event in a matplotlib backend switch that tries `import matplotlib` twice;
    judgelab does not install it, and a failed import searches sys.path anew each time (3% of the
    server's CPU under 20 annotators, py-spy). Record it as absent, as Python itself does for a
    module known to be missing; where matplotlib is installed nothing changes."""
    if importlib.util.find_spec("matplotlib") is None:
        modules: dict[str, object] = sys.modules  # type: ignore[assignment]
        modules.setdefault("matplotlib", None)


def launch(services: Services, *, host: str = "127.0.0.1", port: int = 7860, block: bool = True) -> gr.Blocks:
    for name, value in GRADIO_QUEUE_ENV.items():
        os.environ.setdefault(name, value)
    _record_matplotlib_absent()
    app = build_app(services)
    app.queue(default_concurrency_limit=16)
    settings = services.settings
    guard = Middleware(
        Guard,
        max_body_bytes=settings.max_request_bytes,
        idle_s=settings.session_idle_s,
        absolute_s=settings.session_max_s,
        still_valid=session_check(services),
    )
    _watch_wal(services)
    app.launch(
        server_name=host,
        server_port=port,
        auth=auth_callable(services),
        auth_message="judgelab: log in",
        prevent_thread_lock=not block,
        quiet=True,
        # an expected error reaches the page through gr.Error (app.ui_events.guarded); any other
        # exception's text stays in the server's log, not in the client's hands
        show_error=False,
        max_file_size=settings.max_request_bytes,
        app_kwargs={"middleware": [guard]},
        head=page_js(),
        css=CSS,
        theme=gr.themes.Soft(),
        footer_links=[],
    )
    return app


def _watch_wal(services: Services) -> None:
    """On SQLite, check every 5 s that the database file and its WAL are still the server's
    (``annotation.health.WalWatch``); a change is logged once, loudly."""
    import logging
    import threading
    import time

    from annotation.health import WalWatch

    url = services.settings.resolved_database_url()
    if not url.startswith("sqlite:///"):
        return
    log = logging.getLogger("judgelab.serve")
    watch = WalWatch(url.removeprefix("sqlite:///"), log.error)

    def loop() -> None:
        while watch.check():
            time.sleep(5)

    threading.Thread(target=loop, name="judgelab-wal-watch", daemon=True).start()
