"""What every tab's handlers share: the user from ``gr.Request`` (never from a request field), the
one error path to the page (``app.messages``), and running a short SQLite handler on the event loop
when the process's write lock is free."""

from __future__ import annotations

import functools
import html
import logging
from collections.abc import Callable
from typing import Any, TypeVar

import anyio
import gradio as gr

from annotation.services import Services
from app.messages import EXPECTED, message_for

F = TypeVar("F", bound=Callable[..., Any])
log = logging.getLogger("judgelab.app")


def user_of(request: gr.Request | None) -> str | None:
    return getattr(request, "username", None) if request is not None else None


def guarded(fn: F) -> F:
    """Turn judgelab's expected errors into the Gradio error message the page shows."""

    @functools.wraps(fn)  # keeps the signature: Gradio injects gr.Request by it
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except EXPECTED as exc:
            # one line in the server's log (an expected refusal is not a crash: no traceback); the
            # toast shows HTML, so a rater, task or model name in the message stays text
            message = message_for(exc)
            log.warning("%s: %s", fn.__name__, message)
            raise gr.Error(html.escape(message, quote=False), print_exception=False) from None

    return wrapped  # type: ignore[return-value]


def on_the_loop_when_free(services: Services, fn: Callable[..., Any]) -> Callable[..., Any]:
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
