"""Calibration of a rater's stated confidence against a reference (the human majority): ECE, Brier
score, a reliability curve, and a risk-coverage table."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from analysis.errors import MetricUndefinedError
from analysis.intervals import bca
from analysis.resampling import Resampler, estimates, unit_of


def confidence_of(row: pd.Series) -> float | None:
    """The probability a label puts on its own verdict: from ``probabilities`` (logprob judges) when
    present, else the stated confidence ``confidence_p`` (already on [0, 1]: the reader maps the raw
    click through the task's declared confidence scale; this function never guesses a scale).

    >>> confidence_of(pd.Series({"value": "A", "probabilities": {"A": 0.75, "B": 0.25}}))
    0.75
    >>> confidence_of(pd.Series({"value": "A", "confidence": 1.0, "confidence_p": 0.0}))
    0.0
    """
    probs = row.get("probabilities")
    if isinstance(probs, dict) and row["value"] in probs:
        total = sum(float(x) for x in probs.values() if x is not None)
        return float(probs[row["value"]]) / total if total > 0 else None
    conf = row.get("confidence_p")
    if conf is None or pd.isna(conf):
        return None
    return float(conf)


def confidences(labels: pd.DataFrame) -> pd.Series:
    """:func:`confidence_of` for every row, vectorized over the ``confidence_p`` column; only rows that
    carry a ``probabilities`` dict are read one by one."""
    if labels.empty:
        return pd.Series(dtype=float)
    if "confidence_p" in labels.columns:
        conf = pd.to_numeric(labels["confidence_p"], errors="coerce").to_numpy(dtype=float)
    else:
        conf = np.full(len(labels), np.nan)
    out = pd.Series(conf, index=labels.index, dtype=float)
    if "probabilities" in labels.columns:
        probs = labels["probabilities"]
        present = probs.notna().to_numpy()  # most rows hold none: only the others are looked at
        has = np.zeros(len(labels), dtype=bool)
        has[present] = [isinstance(p, dict) for p in probs.to_numpy(dtype=object)[present]]
        for idx in labels.index[has]:
            out.loc[idx] = confidence_of(labels.loc[idx])
    return out


def calibration(
    confidence: np.ndarray,
    correct: np.ndarray,
    *,
    bins: int = 10,
    item_ids: np.ndarray | None = None,
    n_boot: int = 0,
    seed: int = 0,
    resampler: Resampler | None = None,
) -> dict[str, Any]:
    """ECE (equal-width bins), Brier score, the reliability curve and the risk-coverage table; with
    ``item_ids`` (each label's item) and draws (``resampler`` or ``n_boot``), BCa CIs of ECE, Brier
    and accuracy (every one is a function of per-item sums: per bin, the count, the confidences and
    the correct answers)."""
    c = np.asarray(confidence, dtype=float)
    y = np.asarray(correct, dtype=float)
    if c.size == 0:
        raise MetricUndefinedError("calibration needs labels with a confidence or probabilities; got 0")
    if np.any((c < 0) | (c > 1)):
        raise MetricUndefinedError("confidences must lie in [0, 1]")
    # inner edges k / bins, computed as exact decimals (np.linspace gives 0.30000000000000004, which
    # put a confidence of 0.3 in the bin below); a confidence on an edge belongs to the bin above
    inner = np.arange(1, bins) / bins
    which = np.clip(np.digitize(c, inner), 0, bins - 1)
    curve = []
    ece = 0.0
    for b in range(bins):
        mask = which == b
        if not mask.any():
            continue
        conf_b, acc_b = float(c[mask].mean()), float(y[mask].mean())
        ece += mask.mean() * abs(conf_b - acc_b)
        curve.append({"bin": b, "confidence": conf_b, "accuracy": acc_b, "n": int(mask.sum())})
    order = np.argsort(-c, kind="stable")
    coverage = []
    for share in np.linspace(0.1, 1.0, 10):
        k = max(1, round(share * c.size))
        coverage.append({"coverage": float(share), "accuracy": float(y[order[:k]].mean()), "n": k})
    out: dict[str, Any] = {
        "n": int(c.size),
        "ece": float(ece),
        "brier": float(np.mean((c - y) ** 2)),
        "accuracy": float(y.mean()),
        "curve": curve,
        "risk_coverage": coverage,
    }
    if item_ids is not None and unit_of(resampler, n_boot) is not None:
        out.update(_calibration_intervals(c, y, which, bins, item_ids, n_boot=n_boot, seed=seed, resampler=resampler))
    return out


def _calibration_intervals(
    c: np.ndarray,
    y: np.ndarray,
    which: np.ndarray,
    bins: int,
    item_ids: np.ndarray,
    *,
    n_boot: int,
    seed: int,
    resampler: Resampler | None,
) -> dict[str, Any]:
    onehot = np.zeros((c.size, bins))
    onehot[np.arange(c.size), which] = 1.0
    rows = np.column_stack([onehot, onehot * c[:, None], onehot * y[:, None], (c - y) ** 2])
    frame = pd.DataFrame(rows).assign(item_id=item_ids).groupby("item_id").sum()

    def ece(sums: np.ndarray) -> np.ndarray:
        n = sums[:, :bins].sum(axis=1)
        gap = np.abs(sums[:, bins : 2 * bins] - sums[:, 2 * bins : 3 * bins]).sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.asarray(gap / n, dtype=float)

    def brier(sums: np.ndarray) -> np.ndarray:
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.asarray(sums[:, 3 * bins] / sums[:, :bins].sum(axis=1), dtype=float)

    def accuracy(sums: np.ndarray) -> np.ndarray:
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.asarray(sums[:, 2 * bins : 3 * bins].sum(axis=1) / sums[:, :bins].sum(axis=1), dtype=float)

    found = estimates(
        frame.to_numpy(),
        [(ece, bca), (brier, bca), (accuracy, bca)],
        n_boot=n_boot,
        seed=seed,
        resampler=resampler,
        item_ids=frame.index,
    )
    out: dict[str, Any] = {"n_items": len(frame)}
    for name, (_, interval) in zip(("ece", "brier", "accuracy"), found, strict=True):
        out[f"{name}_ci95"] = list(interval.pair)
        out[f"{name}_ci_flag"] = interval.flag
    return out


def rater_calibration(
    labels: pd.DataFrame,
    rater: str,
    reference: pd.Series,
    *,
    bins: int = 10,
    n_boot: int = 0,
    seed: int = 0,
    resampler: Resampler | None = None,
) -> dict[str, Any]:
    """Calibration of one rater's submitted labels against ``reference`` (item_id -> vote)."""
    mine = labels[(labels["annotator"] == rater) & (labels["status"] == "submitted")]
    mine = mine[mine["item_id"].isin(reference.index)]
    conf = confidences(mine)
    keep = conf.notna()
    if not keep.any():
        raise MetricUndefinedError(
            f"{rater!r} has no labels with a confidence or probabilities on reference items",
            fix="ask for a confidence (import --ask-confidence) or run the judge with mode: logprobs",
        )
    ref = reference.loc[mine.loc[keep, "item_id"]].to_numpy()
    value = mine.loc[keep, "value"].replace({"bothbad": "tie"}).to_numpy()
    return calibration(
        conf[keep].to_numpy(float),
        (value == ref).astype(float),
        bins=bins,
        item_ids=mine.loc[keep, "item_id"].to_numpy(),
        n_boot=n_boot,
        seed=seed,
        resampler=resampler,
    )
