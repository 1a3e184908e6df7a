"""The one error path to a person: every error judgelab expects (its own ``JudgelabError``, an
analysis error such as an undefined metric or a bad argument, a settings or config validation error)
becomes one message with what went wrong, the value and the fix. The CLI prints it as
``judgelab: error: ...``, the pages show it as a Gradio error; anything else is a bug and keeps its
traceback."""

from __future__ import annotations

from pydantic import ValidationError

from analysis.errors import AnalysisError
from annotation.errors import JudgelabError

EXPECTED: tuple[type[BaseException], ...] = (JudgelabError, AnalysisError, ValidationError)


def message_for(exc: BaseException) -> str:
    """The message a person reads for an expected error (see :data:`EXPECTED`)."""
    if isinstance(exc, JudgelabError | AnalysisError):
        return str(exc)
    if isinstance(exc, ValidationError):
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or exc.title
        got = repr(first.get("input"))
        got = got if len(got) <= 80 else got[:77] + "..."
        return f"{exc.title}: field '{where}': {first['msg']} (got {got}). Fix: correct '{where}'"
    raise TypeError(f"not an expected error: {type(exc).__name__}") from exc


def is_expected(exc: BaseException) -> bool:
    return isinstance(exc, EXPECTED)
