"""Stratification: split any figure by an item field (category, turn, model_a, any metadata key)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import pandas as pd

from analysis.errors import ArgumentError, MetricUndefinedError

T = TypeVar("T")


def strata(items: pd.DataFrame, by: str) -> list[tuple[Any, pd.Index]]:
    """(value, item ids) for each value of ``items[by]``, in sorted order; missing values are left out."""
    if by not in items.columns:
        fields = [
            c for c in items.columns if c not in ("prompt", "response_a", "response_b", "conversation", "metadata")
        ]
        raise ArgumentError(f"cannot stratify by {by!r}: items have no such field", fix=f"use one of {fields}")
    col = items[by]
    groups = []
    for value in sorted(col.dropna().unique(), key=lambda x: (str(type(x)), x)):
        groups.append((value, pd.Index(items.loc[col == value, "item_id"])))
    return groups


def by_stratum(
    labels: pd.DataFrame, items: pd.DataFrame, by: str | None, fn: Callable[[pd.DataFrame], T]
) -> list[tuple[dict[str, Any], T | MetricUndefinedError]]:
    """Apply ``fn`` to the labels of each stratum (or to all labels when ``by`` is None). A stratum on
    which the metric is undefined yields the error instead of a result, so one thin stratum does not
    hide the others."""
    if by is None:
        return [({}, fn(labels))]
    out: list[tuple[dict[str, Any], T | MetricUndefinedError]] = []
    for value, ids in strata(items, by):
        key = {by: value.item() if hasattr(value, "item") else value}
        try:
            out.append((key, fn(labels[labels["item_id"].isin(ids)])))
        except MetricUndefinedError as exc:
            out.append((key, exc))
    return out
