"""Errors of the analysis module. A metric that is undefined on the data says so with the numbers."""

from __future__ import annotations


class MetricUndefinedError(ValueError):
    """The data cannot define this metric (one rater, no shared items, a single category, ...)."""


class ArgumentError(ValueError):
    """A bad argument: the message names the argument, the value and the allowed values."""


def bad_argument(name: str, value: object, allowed: object) -> ArgumentError:
    return ArgumentError(f"{name}={value!r} is not allowed; use one of {allowed}")
