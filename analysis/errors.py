"""Errors of the analysis package. Like annotation's errors, each says what went wrong and, where
one exists, how to fix it (``. Fix: ...``); a metric that is undefined on the data says so with the
numbers, never as a silent NaN."""

from __future__ import annotations


class AnalysisError(ValueError):
    """Base of analysis errors: ``what`` happened, and ``fix`` says how to repair it."""

    def __init__(self, what: str, *, fix: str | None = None) -> None:
        self.what = what
        self.fix = fix
        super().__init__(what + (f". Fix: {fix}" if fix else ""))


class MetricUndefinedError(AnalysisError):
    """The data cannot define this metric (one rater, no shared items, a single category, ...)."""


class ArgumentError(AnalysisError):
    """A bad argument: the message names the argument, the value and the allowed values."""


def bad_argument(name: str, value: object, allowed: object) -> ArgumentError:
    return ArgumentError(f"{name}={value!r} is not allowed", fix=f"use one of {allowed}")
